"""Where to imitate: object-region weights for feature distillation.

A detector's feature map is mostly background. Whole-map hints and attention transfer spend
most of their gradient making the student copy the teacher's response to ground texture, which
the task does not need. Fine-grained feature imitation (Wang et al., CVPR 2019) restricts the
hint to the locations near objects. OUR CHOICE for an anchor-free detector: the region is the
union of the ground-truth boxes of the frame, each grown by ``margin`` of its size, rendered at
the resolution of the feature map; a map location is inside when its cell overlaps a box.

:func:`region_weights` turns that mask into per-location weights with mean 1 over the batch's
maps (0 outside objects), so a weighted mean of a per-location error keeps the scale of the
plain mean: the same loss weight serves ``region="all"`` and ``region="objects"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

REGIONS = ("all", "objects")


def check_region(where: str, region: str) -> None:
    """Raise ``ValueError`` unless ``region`` is one of :data:`REGIONS`."""
    if region not in REGIONS:
        raise ValueError(f"{where}: region must be one of {REGIONS}, got {region!r}")


def box_mask(boxes_xyxy: torch.Tensor, valid: torch.Tensor, image_hw: tuple[int, int],
             size_hw: tuple[int, int], margin: float = 0.25) -> torch.Tensor:
    """Binary mask ``(B, 1, h, w)`` of the cells of an ``h x w`` map that overlap an object box.

    Args:
        boxes_xyxy: ``(B, K, 4)`` boxes in input-image pixels.
        valid: ``(B, K)``, non-zero for the boxes that exist (padding rows are 0).
        image_hw: ``(H, W)`` of the input image the boxes refer to.
        size_hw: ``(h, w)`` of the feature map.
        margin: each box grows by this fraction of its width/height on every side (context the
            detector reads around an object).

    Returns:
        float tensor of 0/1 on the boxes' device.
    """
    if boxes_xyxy.dim() != 3 or boxes_xyxy.shape[-1] != 4:
        raise ValueError(f"box_mask: boxes_xyxy must be (B, K, 4), got {tuple(boxes_xyxy.shape)}")
    if valid.shape != boxes_xyxy.shape[:2]:
        raise ValueError(f"box_mask: valid must be (B, K) = {tuple(boxes_xyxy.shape[:2])}, got {tuple(valid.shape)}")
    (H, W), (h, w) = image_hw, size_hw
    boxes = boxes_xyxy.float()
    size = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0)
    grown = torch.cat([boxes[..., :2] - margin * size, boxes[..., 2:] + margin * size], dim=-1)
    # cell j of the map spans [j * W / w, (j + 1) * W / w) in image pixels
    xs = torch.arange(w, device=boxes.device, dtype=boxes.dtype) * (W / w)
    ys = torch.arange(h, device=boxes.device, dtype=boxes.dtype) * (H / h)
    in_x = (xs + W / w > grown[..., 0:1]) & (xs < grown[..., 2:3])  # (B, K, w)
    in_y = (ys + H / h > grown[..., 1:2]) & (ys < grown[..., 3:4])  # (B, K, h)
    inside = in_y[..., :, None] & in_x[..., None, :] & (valid[..., None, None] > 0)  # (B, K, h, w)
    return inside.any(dim=1, keepdim=True).float()


def region_weights(batch: Mapping[str, Any], region: str, size_hw: tuple[int, int]) -> torch.Tensor | None:
    """Per-location weights ``(B, 1, h, w)`` for a feature map of size ``size_hw``; ``None`` = uniform.

    ``region="all"`` gives ``None`` (the plain mean). ``region="objects"`` reads the batch's
    ``boxes_xyxy`` ``(B, K, 4)``, ``mask`` ``(B, K)`` and ``image`` ``(B, 3, H, W)``
    (:class:`~kdtrack_lite.data.datasets.CenterTrackPairs`) and returns :func:`box_mask` scaled to
    mean 1 over the batch; a batch without any object gives all zeros.
    """
    check_region("region_weights", region)
    if region == "all":
        return None
    missing = [k for k in ("boxes_xyxy", "mask", "image") if k not in batch]
    if missing:
        raise KeyError(f"region_weights: region='objects' needs the batch keys {missing} "
                       "(ground-truth boxes, as CenterTrackPairs gives)")
    mask = box_mask(batch["boxes_xyxy"], batch["mask"], tuple(batch["image"].shape[-2:]), size_hw)
    mean = mask.mean()
    return mask / mean if bool(mean > 0) else mask


def weighted_mean(error: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``error`` ``(B, C, h, w)`` with per-location ``weights`` ``(B, 1, h, w)`` (``None``: plain mean)."""
    if weights is None:
        return error.mean()
    return (error * weights).mean()
