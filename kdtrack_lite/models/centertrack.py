"""CenterTrack-style MOT detector: objects as points, tracked by an offset to the previous frame.

PAPER FACTS (CenterNet, Zhou et al. 2019; CenterTrack, Zhou et al. 2020):
each object is a peak in a class heatmap at its box centre; per-pixel heads regress the box size
and the sub-pixel centre offset; CenterTrack adds the previous frame and a *prior heatmap* of the
previous frame's objects as inputs, each through its own conv stem whose output is **added** to
the image stem output (prior stem: 1 -> C, 7x7, BN, ReLU), and a *tracking* head that regresses
the displacement from the current to the previous centre. Peaks are extracted as local maxima
(3x3 max-pool) followed by top-k. FairMOT (Zhang et al. 2021) adds an appearance-embedding head.

OUR DESIGN CHOICES: the backbone family of :mod:`kdtrack_lite.models.backbone` with a small
top-down (FPN-style) neck back to stride 4; heads ``3x3 conv -> ReLU -> 1x1 conv``; ``wh`` in
*input* pixels, ``reg`` and ``tracking`` in *output* (stride-4) pixels, as in the data contract;
L2-normalised embeddings; NMS (torchvision) after peak extraction to drop duplicate peaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ..config import Config
from ..registry import register_builder
from .backbone import Backbone, BackboneConfig, conv_bn_relu

OUTPUT_STRIDE = 4  # the neck returns to the "s4" stage
HEADS = ("logits_hm", "wh", "reg", "tracking", "embedding")


@dataclass
class DetectorConfig(Config):
    """CenterTrack detector shape (OUR DESIGN CHOICE unless marked).

    Attributes:
        backbone: the backbone; stages must start at stride 4.
        neck_channels: channels of the stride-4 neck output shared by all heads.
        head_channels: hidden channels of each head's 3x3 conv.
        shared_head_trunk: one 3x3 conv shared by all heads, then one 1x1 conv per output
            (cheaper; used by the student) instead of a 3x3 conv per head.
        embedding_dim: appearance-embedding size ``D``.
        prior_stem_kernel: kernel of the prior-heatmap stem (CenterTrack: 7x7, PAPER FACT).
        hm_bias_init: initial bias of the heatmap logits; ``-log((1 - 0.1) / 0.1) = -2.19`` makes
            every pixel start at probability 0.1 (CenterNet's initialisation).
    """

    backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig.preset("teacher"))
    neck_channels: int = 96
    head_channels: int = 64
    shared_head_trunk: bool = False
    embedding_dim: int = 32
    prior_stem_kernel: int = 7
    hm_bias_init: float = -2.19

    PRESETS: ClassVar[dict[str, dict]] = {
        "teacher": dict(neck_channels=96, head_channels=64),
        "student": dict(neck_channels=24, head_channels=32, shared_head_trunk=True),
        "student_x2": dict(neck_channels=48, head_channels=48, shared_head_trunk=True),
        "student_x3": dict(neck_channels=72, head_channels=72, shared_head_trunk=True),
        "student_m": dict(neck_channels=48, head_channels=48, shared_head_trunk=True),
    }

    @classmethod
    def preset(cls, name: str, **overrides) -> "DetectorConfig":
        """A detector preset (backbone preset of the same name): ``"teacher"``, ``"student"``, ``"student_x2"``,
        ``"student_x3"``, ``"student_m"``.

        ``student_x2`` / ``student_x3`` (OUR DESIGN CHOICE) are the student with two / three times
        its widths (every stage, neck and head), for studying how the capacity gap limits distillation.
        ``student_m`` (OUR DESIGN CHOICE) keeps ``student_x3``'s backbone under ``student_x2``'s neck and
        head: the neck and head work at stride 4, where most of ``student_x3``'s compute goes, so it
        keeps the larger backbone's features at a fraction of its cost.
        """
        if name not in cls.PRESETS:
            raise ValueError(f"DetectorConfig.preset: unknown preset {name!r}; known: {sorted(cls.PRESETS)}")
        values = {"backbone": BackboneConfig.preset(name).to_dict(), **cls.PRESETS[name], **overrides}
        return cls.from_dict(values)


@dataclass
class DecodeConfig(Config):
    """Thresholds of :func:`decode_detections` (OUR DESIGN CHOICES).

    Attributes:
        k: peaks kept per image by top-k before thresholding.
        score_threshold: minimum heatmap score of a detection.
        nms_iou: IoU above which torchvision NMS drops the lower-scored box.
    """

    k: int = 100
    score_threshold: float = 0.1
    nms_iou: float = 0.6


def _head(c_in: int, c_hidden: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_hidden, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(c_hidden, c_out, 1))


class Heads(nn.Module):
    """The five output heads: ``3x3 conv -> ReLU -> 1x1 conv`` each, or one shared 3x3 trunk.

    With ``shared_trunk`` the five 1x1 output convs are stored as one conv whose output channels
    are split by head (the same function as five convs, fewer kernel launches on a CPU).
    ``forward(neck (B, n, h, w)) -> {name: (B, C_name, h, w)}`` for ``name`` in :data:`HEADS`.
    """

    def __init__(self, c_in: int, c_hidden: int, out_channels: dict[str, int], shared_trunk: bool):
        super().__init__()
        self.out_channels = dict(out_channels)
        if shared_trunk:
            self.trunk = nn.Sequential(nn.Conv2d(c_in, c_hidden, 3, 1, 1), nn.ReLU(inplace=True))
            self.out = nn.Conv2d(c_hidden, sum(out_channels.values()), 1)
        else:
            self.trunk = None
            self.out = nn.ModuleDict({name: _head(c_in, c_hidden, c) for name, c in out_channels.items()})

    def init_bias(self, name: str, value: float) -> None:
        """Set the output bias of head ``name`` to ``value``."""
        with torch.no_grad():
            if self.trunk is None:
                self.out[name][-1].bias.fill_(value)
            else:
                start = 0
                for key, c in self.out_channels.items():
                    if key == name:
                        self.out.bias[start : start + c] = value
                    start += c

    def bias(self, name: str) -> torch.Tensor:
        """Output bias of head ``name`` ``(C_name,)``."""
        if self.trunk is None:
            return self.out[name][-1].bias
        return dict(zip(self.out_channels, self.out.bias.split(list(self.out_channels.values()))))[name]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.trunk is None:
            return {name: head(x) for name, head in self.out.items()}
        parts = self.out(self.trunk(x)).split(list(self.out_channels.values()), dim=1)
        return dict(zip(self.out_channels, parts))


class CenterTrackDetector(nn.Module):
    """Heatmap, size, offset, tracking-offset and embedding heads on a stride-4 neck.

    ``forward(image, prev_image=None, prior_hm=None) -> dict`` with, for ``image (B, 3, H, W)``
    and ``h, w = H / 4, W / 4``:

    * ``"logits_hm"`` ``(B, 1, h, w)`` heatmap logits (sigmoid gives the centre score),
    * ``"wh"`` ``(B, 2, h, w)`` box width, height in input pixels,
    * ``"reg"`` ``(B, 2, h, w)`` sub-pixel centre offset in output pixels,
    * ``"tracking"`` ``(B, 2, h, w)`` previous minus current centre in output pixels,
    * ``"embedding"`` ``(B, D, h, w)`` L2-normalised appearance embedding.

    A missing ``prev_image`` is the current image and a missing ``prior_hm`` is empty
    (CenterTrack's first frame). Feature taps: :meth:`taps`.
    """

    def __init__(self, cfg: DetectorConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or DetectorConfig()
        bb = cfg.backbone
        self.backbone = Backbone(bb)
        c0 = bb.stem_channels
        self.prev_stem = conv_bn_relu(bb.in_channels, c0, bb.stem_kernel, 2)
        self.prior_stem = conv_bn_relu(1, c0, cfg.prior_stem_kernel, 2)
        n = cfg.neck_channels
        self.lateral = nn.ModuleList(nn.Conv2d(w, n, 1) for w in bb.widths)
        if bb.block == "dwsep":
            self.neck = nn.Sequential(conv_bn_relu(n, n, 3, groups=n), conv_bn_relu(n, n, 1))
        else:
            self.neck = conv_bn_relu(n, n, 3)
        outs = {"logits_hm": 1, "wh": 2, "reg": 2, "tracking": 2, "embedding": cfg.embedding_dim}
        self.heads = Heads(n, cfg.head_channels, outs, cfg.shared_head_trunk)
        self.heads.init_bias("logits_hm", cfg.hm_bias_init)

    def taps(self) -> dict[str, nn.Module]:
        """Backbone taps (``"s4"``, ``"s8"``, ``"s16"``) plus ``"neck"`` (stride 4)."""
        return {**self.backbone.taps(), "neck": self.neck}

    def forward(self, image: torch.Tensor, prev_image: torch.Tensor | None = None,
                prior_hm: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        _check_input(image, "image", 3, self.cfg.backbone.stride)
        prev_image = image if prev_image is None else prev_image
        _check_input(prev_image, "prev_image", 3, 1, like=image)
        extra = self.prev_stem(prev_image)  # (B, C0, H/2, W/2)
        if prior_hm is not None:
            _check_input(prior_hm, "prior_hm", 1, 1, like=image)
            extra = extra + self.prior_stem(prior_hm)
        feats = self.backbone(image, stem_extra=extra)
        laterals = [lat(f) for lat, f in zip(self.lateral, feats.values())]
        top = laterals[-1]
        for lat in reversed(laterals[:-1]):  # top-down: upsample and add, down to stride 4
            top = lat + F.interpolate(top, size=lat.shape[-2:], mode="nearest")
        neck = self.neck(top)  # (B, n, H/4, W/4)
        out = self.heads(neck)
        out["embedding"] = l2_normalize_channels(out["embedding"])
        return out


def l2_normalize_channels(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``x / max(||x||_2, eps)`` over dim 1 of ``(B, C, h, w)``; same result as
    ``F.normalize(x, dim=1)``, about 10x faster on CPU for these maps (no strided norm kernel)."""
    return x * torch.rsqrt(x.pow(2).sum(1, keepdim=True).clamp_min(eps * eps))


def _check_input(x: torch.Tensor, name: str, channels: int, divisor: int, like: torch.Tensor | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != channels:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"CenterTrackDetector.forward: {name} must be a (B, {channels}, H, W) tensor, got {got}")
    if like is not None and (x.shape[0], *x.shape[2:]) != (like.shape[0], *like.shape[2:]):
        raise ValueError(f"CenterTrackDetector.forward: {name} {tuple(x.shape)} does not match image {tuple(like.shape)}")
    if x.shape[2] % divisor or x.shape[3] % divisor:
        raise ValueError(
            f"CenterTrackDetector.forward: {name} height and width must be multiples of {divisor}, got {tuple(x.shape)}"
        )


@register_builder("centertrack", DetectorConfig)
def build_centertrack(cfg: DetectorConfig | None = None) -> CenterTrackDetector:
    """Registry builder ``"centertrack"``; presets: ``DetectorConfig.preset("teacher"|"student")``."""
    return CenterTrackDetector(cfg or DetectorConfig())


def gather_at(maps: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """Values of ``maps (B, C, h, w)`` at flat indices ``ind (B, K)`` (``y * w + x``) -> ``(B, K, C)``."""
    b, c = maps.shape[:2]
    flat = maps.reshape(b, c, -1)  # (B, C, h*w)
    return flat.gather(2, ind[:, None, :].expand(b, c, ind.shape[1])).permute(0, 2, 1)


@torch.no_grad()
def decode_detections(outputs: dict[str, torch.Tensor], k: int = 100, score_threshold: float = 0.1,
                      nms_iou: float = 0.6, stride: int = OUTPUT_STRIDE) -> list[dict[str, torch.Tensor]]:
    """Detections from the head outputs: CenterNet peak extraction, threshold, then NMS.

    A peak is a heatmap pixel equal to the 3x3 max-pool of its neighbourhood (PAPER FACT); the top
    ``k`` peaks per image with score >= ``score_threshold`` become boxes
    ``centre = (x + reg_x, y + reg_y) * stride``, size ``max(wh, 0)``; ``torchvision.ops.nms`` with
    ``nms_iou`` removes duplicates (OUR CHOICE).

    Args:
        outputs: :class:`CenterTrackDetector` outputs (``embedding`` optional).
        k, score_threshold, nms_iou: see :class:`DecodeConfig`.
        stride: output stride (input pixels per heatmap pixel).

    Returns:
        One dict per image, rows sorted by score: ``boxes_xyxy (N, 4)`` input pixels,
        ``scores (N,)``, ``centers_xy (N, 2)`` input pixels, ``prev_centers_xy (N, 2)`` the
        object's centre in the previous frame (input pixels), ``tracking (N, 2)`` =
        ``prev_centers_xy - centers_xy``, ``embeddings (N, D)`` (``(N, 0)`` without that head).
        The tracking head is read CenterTrack's way (and the data contract's): previous centre
        minus the *integer* peak position, in output pixels.
    """
    heat = outputs["logits_hm"].sigmoid()[:, 0]  # (B, h, w)
    b, h, w = heat.shape
    # pooled as (B, h, w): as (B, 1, h, w), the map of a channels-last model (models.fuse.deploy)
    # takes max_pool2d's channels-last kernel, about 3x slower on a CPU for one channel
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
    scores, ind = peaks.reshape(b, -1).topk(min(k, h * w), dim=1)  # (B, k)
    xs, ys = (ind % w).float(), (ind // w).float()
    reg = gather_at(outputs["reg"], ind)  # (B, k, 2)
    wh = gather_at(outputs["wh"], ind).clamp_min(0)  # a size: an (untrained) negative one is an empty box
    trk = gather_at(outputs["tracking"], ind)  # previous centre minus the integer peak (output px)
    emb = gather_at(outputs["embedding"], ind) if "embedding" in outputs else heat.new_zeros(b, ind.shape[1], 0)
    cx, cy = (xs + reg[..., 0]) * stride, (ys + reg[..., 1]) * stride
    prev = torch.stack([(xs + trk[..., 0]) * stride, (ys + trk[..., 1]) * stride], -1)  # (B, k, 2)
    boxes = torch.stack([cx - wh[..., 0] / 2, cy - wh[..., 1] / 2, cx + wh[..., 0] / 2, cy + wh[..., 1] / 2], -1)
    results = []
    for i in range(b):
        keep = torch.nonzero(scores[i] >= score_threshold).flatten()
        keep = keep[torchvision.ops.nms(boxes[i, keep], scores[i, keep], nms_iou)]
        results.append({
            "boxes_xyxy": boxes[i, keep], "scores": scores[i, keep],
            "centers_xy": torch.stack([cx[i, keep], cy[i, keep]], -1),
            "prev_centers_xy": prev[i, keep],
            "tracking": prev[i, keep] - torch.stack([cx[i, keep], cy[i, keep]], -1),
            "embeddings": emb[i, keep],
        })
    return results


def to_detections(decoded: dict[str, torch.Tensor], class_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One image's :func:`decode_detections` dict -> tracker input.

    Returns:
        ``detections (N, 6)`` ``[x1, y1, x2, y2, score, class]`` float64 and ``embeddings (N, D)``.
    """
    boxes = decoded["boxes_xyxy"].detach().cpu().double().numpy().reshape(-1, 4)
    scores = decoded["scores"].detach().cpu().double().numpy().reshape(-1, 1)
    dets = np.concatenate([boxes, scores, np.full_like(scores, class_id)], axis=1)
    return dets, decoded["embeddings"].detach().cpu().float().numpy()


def heatmap_logit(p: float) -> float:
    """Inverse sigmoid, e.g. ``heatmap_logit(0.1) = -2.197`` (the ``hm_bias_init`` default)."""
    return math.log(p / (1 - p))
