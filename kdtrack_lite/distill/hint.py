"""FitNets hints: a learned regressor maps a student feature onto the teacher's (Romero et al. 2015).

PAPER FACT (FitNets, "FitNets: Hints for Thin Deep Nets", ICLR 2015): the student's *guided*
layer output ``v_S(x)`` is mapped by a learned regressor ``r`` onto the teacher's *hint* layer
output ``u_T(x)`` and trained with

    L_hint = || u_T(x) - r(v_S(x)) ||^2 ,

the regressor being trained together with the student (a convolutional regressor when the
hint is a feature map).

OUR DESIGN CHOICES:

* the squared norm is taken as a *mean* over all elements (``F.mse_loss``), so the weight does
  not depend on batch or map size;
* the regressor is conv (1x1 or 3x3) + BatchNorm; when the spatial sizes differ by an integer
  factor, the conv is strided (student larger) or transposed (student smaller); any other size
  ratio falls back to a same-size conv followed by bilinear resizing to the teacher's size;
* several taps are summed, each with its own regressor (``HintLoss``); regressors are
  sub-modules of the term, so ``Distiller.trainable_parameters`` trains them with the student.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..config import Config
from ._shapes import check_4d, check_finite, check_same_shape, zero_loss
from .base import DistillContext, LossTerm
from .hooks import FeatureTaps
from .regions import check_region, region_weights, weighted_mean

Size = tuple[int, int]
REGRESSOR_KINDS = ("conv1x1", "conv3x3")


def hint_loss(feat_s_adapted: torch.Tensor, feat_t: torch.Tensor,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """FitNets hint loss ``mean((u_T - r(v_S))^2)`` (Romero et al. 2015).

    Args:
        feat_s_adapted: regressed student feature ``r(v_S(x))``, ``(B, C_t, H, W)``.
        feat_t: teacher hint ``u_T(x)``, ``(B, C_t, H, W)``; treated as a constant target.
        weights: optional per-location weights ``(B, 1, H, W)`` of mean 1 (where to imitate,
            :func:`~kdtrack_lite.distill.regions.region_weights`); ``None`` is the plain mean.

    Returns:
        Scalar tensor: the mean squared error over every element; 0 that keeps the graph for an
        empty batch.

    Raises:
        ValueError: NaN/inf in an argument (named), shapes that differ.
    """
    check_same_shape("hint_loss", "feat_s_adapted", feat_s_adapted, "feat_t", feat_t)
    check_finite("hint_loss", feat_s_adapted=feat_s_adapted, feat_t=feat_t)
    if feat_s_adapted.numel() == 0:
        return zero_loss(feat_s_adapted)
    if weights is None:
        return F.mse_loss(feat_s_adapted, feat_t.detach())
    if weights.shape != (feat_t.shape[0], 1, *feat_t.shape[-2:]):
        raise ValueError(f"hint_loss: weights must be (B, 1, H, W) = {(feat_t.shape[0], 1, *feat_t.shape[-2:])}, "
                         f"got {tuple(weights.shape)}")
    return weighted_mean((feat_s_adapted - feat_t.detach()).pow(2), weights)


def _factor(big: int, small: int) -> int | None:
    return big // small if small > 0 and big % small == 0 else None


def make_regressor(c_s: int, c_t: int, size_s: Size | None = None, size_t: Size | None = None,
                   kind: str = "conv1x1") -> nn.Sequential:
    """The FitNets regressor ``r``: ``(B, c_s, *size_s) -> (B, c_t, *size_t)``.

    Args:
        c_s, c_t: student and teacher channels.
        size_s, size_t: student and teacher ``(H, W)``; ``None`` for both = same size.
        kind: ``"conv1x1"`` or ``"conv3x3"`` (the kernel of the channel-mapping conv).

    Returns:
        ``nn.Sequential`` of conv + ``BatchNorm2d(c_t)``. Spatial bridge (our choice):

        * same size: ``Conv2d(k, stride 1, padding k // 2)``;
        * student larger by integer factors ``(fh, fw)``: ``Conv2d(k, stride (fh, fw), padding k // 2)``;
        * student smaller by integer factors: ``ConvTranspose2d(kernel f + 2p, stride f, padding p)``
          with ``p = 0`` (conv1x1) or ``1`` (conv3x3), which gives exactly ``f * H``;
        * any other ratio: same-size conv, then bilinear ``Upsample(size=size_t)``.
    """
    if kind not in REGRESSOR_KINDS:
        raise ValueError(f"make_regressor: kind must be one of {REGRESSOR_KINDS}, got {kind!r}")
    for name, c in (("c_s", c_s), ("c_t", c_t)):
        if not isinstance(c, int) or c <= 0:
            raise ValueError(f"make_regressor: {name} must be a positive int, got {c!r}")
    if (size_s is None) != (size_t is None):
        raise ValueError("make_regressor: give both size_s and size_t, or neither (same size)")
    k = 1 if kind == "conv1x1" else 3
    pad = k // 2
    bn = nn.BatchNorm2d(c_t)
    if size_s is None or tuple(size_s) == tuple(size_t):
        return nn.Sequential(nn.Conv2d(c_s, c_t, k, padding=pad, bias=False), bn)
    (hs, ws), (ht, wt) = size_s, size_t
    down = (_factor(hs, ht), _factor(ws, wt))
    up = (_factor(ht, hs), _factor(wt, ws))
    if None not in down and hs >= ht and ws >= wt:
        return nn.Sequential(nn.Conv2d(c_s, c_t, k, stride=down, padding=pad, bias=False), bn)
    if None not in up and ht >= hs and wt >= ws:
        kernel = (up[0] + 2 * pad, up[1] + 2 * pad)
        return nn.Sequential(nn.ConvTranspose2d(c_s, c_t, kernel, stride=up, padding=pad, bias=False), bn)
    return nn.Sequential(nn.Conv2d(c_s, c_t, k, padding=pad, bias=False), bn,
                         nn.Upsample(size=(ht, wt), mode="bilinear", align_corners=False))


@dataclass
class HintConfig(Config):
    """FitNets hint term settings.

    Attributes:
        teacher: which teacher (key of ``Distiller.teachers``) gives the hints.
        weight: multiplier of the summed per-tap hint losses in ``loss_hint``.
        kind: regressor kernel, ``"conv1x1"`` (FitNets-style cheap adapter) or ``"conv3x3"``.
        region: where to imitate: ``"all"`` (the whole map, FitNets) or ``"objects"`` (only the
            cells of the ground-truth boxes, after fine-grained imitation; :mod:`.regions`).
    """

    teacher: str = "teacher"
    weight: float = 1.0
    kind: str = "conv1x1"
    region: str = "all"


class HintLoss(LossTerm):
    """``loss_hint = weight * sum_taps hint_loss(r_tap(v_S^tap), u_T^tap)`` (FitNets, see module doc).

    Args:
        taps: ``{tap: (c_s, c_t)}`` channel pairs, e.g. ``{"s8": (32, 96)}``.
        cfg: :class:`HintConfig` (default ``HintConfig()``); ``**overrides`` replace its fields.
        sizes: optional ``{tap: ((H_s, W_s), (H_t, W_t))}`` where the spatial sizes differ
            (taps not listed are same-size).

    Example:
        >>> term = HintLoss({"s8": (32, 96), "neck": (24, 64)}, weight=0.5)
    """

    name = "hint"

    def __init__(self, taps: Mapping[str, Sequence[int]], cfg: HintConfig | None = None,
                 sizes: Mapping[str, tuple[Size, Size]] | None = None, **overrides: Any):
        super().__init__()
        cfg = cfg or HintConfig()
        self.cfg = cfg.replace(**overrides) if overrides else cfg
        check_region("HintLoss", self.cfg.region)
        if not taps:
            raise ValueError("HintLoss: taps is empty; give {tap: (c_s, c_t)}")
        sizes = dict(sizes or {})
        unknown = sorted(set(sizes) - set(taps))
        if unknown:
            raise KeyError(f"HintLoss: sizes names tap(s) {unknown} that are not in taps {sorted(taps)}")
        regressors = {}
        for tap, pair in taps.items():
            if len(pair) != 2:
                raise ValueError(f"HintLoss: taps[{tap!r}] must be (c_s, c_t), got {pair!r}")
            size_s, size_t = sizes.get(tap, (None, None))
            regressors[tap] = make_regressor(int(pair[0]), int(pair[1]), size_s, size_t, self.cfg.kind)
        self.regressors = nn.ModuleDict(regressors)

    @classmethod
    def from_models(cls, student: nn.Module, teacher: nn.Module, taps: Sequence[str], batch: Any,
                    forward: Callable[[nn.Module, Any], Any] | None = None,
                    cfg: HintConfig | None = None, **overrides: Any) -> "HintLoss":
        """Infer channels and sizes from one forward of each model on ``batch`` (both in eval mode).

        Args:
            student, teacher: models exposing ``taps() -> {name: module}``.
            taps: tap names to hint, e.g. ``["s8", "s16"]``.
            batch: a sample batch, as the Distiller would pass it.
            forward: ``forward(model, batch)`` (default ``model(batch)``), as in ``Distiller``.
        """
        forward = forward or (lambda model, b: model(b))
        shapes = []
        for role, model in (("student", student), ("teacher", teacher)):
            if not hasattr(model, "taps"):
                raise TypeError(f"HintLoss.from_models: the {role} {type(model).__name__} has no taps()")
            found = model.taps()
            missing = [t for t in taps if t not in found]
            if missing:
                raise KeyError(f"HintLoss.from_models: the {role} has no tap(s) {missing}; it has {sorted(found)}")
            recorder = FeatureTaps({t: found[t] for t in taps}, detach=True)
            was_training = model.training
            try:
                with torch.no_grad():
                    forward(model.eval(), batch)
            finally:
                model.train(was_training)
                recorder.remove()
            shapes.append({t: recorder.features[t].shape for t in taps})
        s_shapes, t_shapes = shapes
        pairs = {t: (s_shapes[t][1], t_shapes[t][1]) for t in taps}
        sizes = {t: (tuple(s_shapes[t][-2:]), tuple(t_shapes[t][-2:])) for t in taps
                 if s_shapes[t][-2:] != t_shapes[t][-2:]}
        return cls(pairs, cfg=cfg, sizes=sizes, **overrides)

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:
        feats_t = ctx.teacher_feats.get(self.cfg.teacher)
        if feats_t is None:
            raise KeyError(f"HintLoss: no teacher {self.cfg.teacher!r}; teachers are {sorted(ctx.teacher_feats)}")
        total = 0.0
        for tap, regressor in self.regressors.items():
            if tap not in ctx.student_feats or tap not in feats_t:
                raise KeyError(f"HintLoss: tap {tap!r} missing (student taps {sorted(ctx.student_feats)}, "
                               f"teacher taps {sorted(feats_t)})")
            feat_s, feat_t = ctx.student_feats[tap], feats_t[tap]
            check_4d("HintLoss", f"student_feats[{tap!r}]", feat_s)
            adapted = regressor(feat_s)  # (B, C_t, H_t, W_t)
            if adapted.shape != feat_t.shape:
                raise ValueError(f"HintLoss: regressor for tap {tap!r} gives {tuple(adapted.shape)} but the "
                                 f"teacher feature is {tuple(feat_t.shape)}; pass sizes= or use from_models()")
            weights = region_weights(ctx.batch, self.cfg.region, tuple(feat_t.shape[-2:]))
            total = total + hint_loss(adapted, feat_t, weights)
        return {"loss_hint": self.cfg.weight * total}
