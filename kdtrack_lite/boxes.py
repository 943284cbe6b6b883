"""Box formats and IoU: the one module that converts between them.

Formats (names carry them everywhere else in the library):

* ``xyxy``   -- ``[x1, y1, x2, y2]``, corners, exclusive of nothing (continuous coordinates)
* ``tlwh``   -- ``[left, top, w, h]``, MOTChallenge columns 3-6 (also called ``xywh`` in SOT
  toolkits such as got10k: ``init(frame, box_xywh)`` uses this top-left form)
* ``cxcywh`` -- ``[cx, cy, w, h]``, centre and size (CenterNet, SiamFC)

Every function takes NumPy arrays or torch tensors of shape ``(..., 4)`` and returns the same
kind. Converting a box to another format and back is exact up to float rounding.
"""

from __future__ import annotations

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


def _stack(parts, like: Array) -> Array:
    return torch.stack(parts, dim=-1) if isinstance(like, torch.Tensor) else np.stack(parts, axis=-1)


def _cat(first: Array, second: Array) -> Array:
    """``(..., 2)`` and ``(..., 2)`` -> ``(..., 4)``; two pair-wise halves instead of four stacked
    columns (the same arithmetic, less per-call overhead on the tracker's one-box calls)."""
    return torch.cat([first, second], dim=-1) if isinstance(first, torch.Tensor) else np.concatenate([first, second], -1)


def _check(boxes: Array, name: str) -> None:
    if boxes.shape[-1] != 4:
        raise ValueError(f"{name}: expected boxes of shape (..., 4), got {tuple(boxes.shape)}")


def tlwh_to_xyxy(tlwh: Array) -> Array:
    _check(tlwh, "tlwh_to_xyxy")
    x, y, w, h = (tlwh[..., i] for i in range(4))
    return _stack([x, y, x + w, y + h], tlwh)


def xyxy_to_tlwh(xyxy: Array) -> Array:
    _check(xyxy, "xyxy_to_tlwh")
    x1, y1, x2, y2 = (xyxy[..., i] for i in range(4))
    return _stack([x1, y1, x2 - x1, y2 - y1], xyxy)


def cxcywh_to_xyxy(cxcywh: Array) -> Array:
    _check(cxcywh, "cxcywh_to_xyxy")
    centre, half = cxcywh[..., :2], cxcywh[..., 2:] / 2
    return _cat(centre - half, centre + half)


def xyxy_to_cxcywh(xyxy: Array) -> Array:
    _check(xyxy, "xyxy_to_cxcywh")
    top_left, bottom_right = xyxy[..., :2], xyxy[..., 2:]
    return _cat((top_left + bottom_right) / 2, bottom_right - top_left)


def tlwh_to_cxcywh(tlwh: Array) -> Array:
    return xyxy_to_cxcywh(tlwh_to_xyxy(tlwh))


def cxcywh_to_tlwh(cxcywh: Array) -> Array:
    return xyxy_to_tlwh(cxcywh_to_xyxy(cxcywh))


def box_area(boxes_xyxy: Array) -> Array:
    """Area of ``(..., 4)`` xyxy boxes; degenerate boxes have area 0."""
    w = boxes_xyxy[..., 2] - boxes_xyxy[..., 0]
    h = boxes_xyxy[..., 3] - boxes_xyxy[..., 1]
    if isinstance(boxes_xyxy, torch.Tensor):
        return w.clamp(min=0) * h.clamp(min=0)
    return np.maximum(w, 0.0) * np.maximum(h, 0.0)


def box_iou(boxes1_xyxy: Array, boxes2_xyxy: Array) -> Array:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes -> ``(N, M)``.

    Same definition as ``torchvision.ops.box_iou`` (tests compare against it); pairs with a
    zero union get IoU 0 instead of NaN.
    """
    _check(boxes1_xyxy, "box_iou")
    _check(boxes2_xyxy, "box_iou")
    is_torch = isinstance(boxes1_xyxy, torch.Tensor)
    a = boxes1_xyxy[:, None, :]  # (N, 1, 4)
    b = boxes2_xyxy[None, :, :]  # (1, M, 4)
    lib = torch if is_torch else np
    lt_x = lib.maximum(a[..., 0], b[..., 0])
    lt_y = lib.maximum(a[..., 1], b[..., 1])
    rb_x = lib.minimum(a[..., 2], b[..., 2])
    rb_y = lib.minimum(a[..., 3], b[..., 3])
    if is_torch:
        inter = (rb_x - lt_x).clamp(min=0) * (rb_y - lt_y).clamp(min=0)
    else:
        inter = np.maximum(rb_x - lt_x, 0.0) * np.maximum(rb_y - lt_y, 0.0)
    union = box_area(boxes1_xyxy)[:, None] + box_area(boxes2_xyxy)[None, :] - inter
    if is_torch:
        return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(union))
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
