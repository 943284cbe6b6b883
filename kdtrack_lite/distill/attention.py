"""Attention transfer: match where student and teacher "look" (Zagoruyko & Komodakis 2017).

PAPER FACTS ("Paying More Attention to Attention", ICLR 2017): the activation-based
spatial attention map of ``A (B, C, H, W)`` is ``Q = F(A) = mean_c |A_c|^p`` with ``p = 2``,
flattened per sample to ``(B, H*W)`` and L2-normalised; the loss over tap pairs ``j`` is

    L_AT = sum_j mean( (Q_S^j / ||Q_S^j||_2 - Q_T^j / ||Q_T^j||_2)^2 ),
    L    = L_task + beta / 2 * L_AT ,      beta = 1e3 in the reference code,

where the mean runs over the batch and the ``H*W`` positions; maps of different resolution are
brought to one size by adaptive average pooling.

Because the map averages over channels, it does not depend on the channel count, so a 16-channel
student and a 48-channel teacher compare directly: no adapter is needed (unlike FitNets).

OUR DESIGN CHOICE: the larger map is pooled to the smaller one *before* forming ``Q``
(``adaptive_avg_pool2d`` on the features); the taps default to the detector's ``s4/s8/s16``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from ..config import Config
from ._shapes import check_4d, check_finite, match_spatial, zero_loss
from .base import DistillContext, LossTerm
from .regions import check_region, region_weights, weighted_mean


def attention_map(feat: torch.Tensor, p: float = 2) -> torch.Tensor:
    """Spatial attention ``Q = normalize(mean_c |A|^p)`` of a feature map.

    Args:
        feat: activations ``A``, ``(B, C, H, W)``.
        p: the power (2 in the paper's main experiments).

    Returns:
        ``(B, H*W)``, each row of unit L2 norm (an all-zero map stays zero).
    """
    check_4d("attention_map", "feat", feat)
    q = feat.abs().pow(p).mean(dim=1).flatten(1)  # (B, H*W)
    return F.normalize(q, p=2, dim=1)


def at_loss(feat_s: torch.Tensor, feat_t: torch.Tensor, p: float = 2,
            weights: torch.Tensor | None = None) -> torch.Tensor:
    """Attention-transfer loss for one tap pair: ``mean((Q_S - Q_T)^2)`` (Zagoruyko & Komodakis 2017).

    Args:
        feat_s: student activations ``(B, C_s, H_s, W_s)``.
        feat_t: teacher activations ``(B, C_t, H_t, W_t)``; a constant target (detached).
            Channel counts may differ; spatial sizes may differ (both are pooled to
            ``(min H, min W)``).
        p: attention power.
        weights: optional per-position weights ``(B, 1, h, w)`` of mean 1 at the compared size
            ``(min H, min W)`` (where to imitate, :func:`~kdtrack_lite.distill.regions.region_weights`):
            both maps are restricted to the positions of non-zero weight and L2-normalised there,
            so the student matches how the teacher's attention is spread *over the objects*, and
            background positions get no gradient. ``None`` is the paper's whole-map loss.

    Returns:
        Scalar tensor, (weighted) mean over batch and positions (without the ``beta / 2`` factor); 0 that
        keeps the graph for an empty batch.

    Raises:
        ValueError: NaN/inf in an argument (named), shapes that are not ``(B, C, H, W)``.
    """
    check_4d("at_loss", "feat_s", feat_s)
    check_4d("at_loss", "feat_t", feat_t)
    if feat_s.shape[0] != feat_t.shape[0]:
        raise ValueError(f"at_loss: batch sizes differ: feat_s {tuple(feat_s.shape)}, feat_t {tuple(feat_t.shape)}")
    check_finite("at_loss", feat_s=feat_s, feat_t=feat_t)
    if feat_s.numel() == 0 or feat_t.numel() == 0:
        return zero_loss(feat_s)
    feat_s, feat_t = match_spatial(feat_s, feat_t.detach())
    if weights is None:
        return (attention_map(feat_s, p) - attention_map(feat_t, p)).pow(2).mean()
    size = (feat_s.shape[0], 1, *feat_s.shape[-2:])
    if weights.shape != size:
        raise ValueError(f"at_loss: weights must be (B, 1, h, w) = {size}, got {tuple(weights.shape)}")
    inside = (weights > 0).flatten(1)  # (B, h*w)
    q_s = F.normalize(feat_s.abs().pow(p).mean(dim=1).flatten(1) * inside, p=2, dim=1)
    q_t = F.normalize(feat_t.abs().pow(p).mean(dim=1).flatten(1) * inside, p=2, dim=1)
    return weighted_mean((q_s - q_t).pow(2).view(size), weights)


@dataclass
class AttentionConfig(Config):
    """Attention-transfer term settings.

    Attributes:
        taps: feature taps to match (present in both student and teacher).
        beta: loss weight; the term adds ``beta / 2 * sum_taps at_loss`` (1e3 in the AT reference code).
        p: attention power (2 in the paper).
        teacher: which teacher (key of ``Distiller.teachers``) to imitate.
        region: where to imitate: ``"all"`` (the whole map, as in the paper) or ``"objects"``
            (only the positions of the ground-truth boxes; :mod:`.regions`).
    """

    taps: tuple[str, ...] = ("s4", "s8", "s16")
    beta: float = 1e3
    p: float = 2.0
    teacher: str = "teacher"
    region: str = "all"


class AttentionTransfer(LossTerm):
    """``loss_at = beta / 2 * sum_taps at_loss(A_S^tap, A_T^tap, p)``; holds no parameters.

    Args:
        cfg: :class:`AttentionConfig`; ``**overrides`` replace its fields, e.g.
            ``AttentionTransfer(taps=("s8",), beta=500.0)``.
    """

    name = "at"

    def __init__(self, cfg: AttentionConfig | None = None, **overrides: Any):
        super().__init__()
        cfg = cfg or AttentionConfig()
        self.cfg = cfg.replace(**overrides) if overrides else cfg
        if not self.cfg.taps:
            raise ValueError("AttentionTransfer: AttentionConfig.taps is empty")
        check_region("AttentionTransfer", self.cfg.region)

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:
        feats_t = ctx.teacher_feats.get(self.cfg.teacher)
        if feats_t is None:
            raise KeyError(f"AttentionTransfer: no teacher {self.cfg.teacher!r}; "
                           f"teachers are {sorted(ctx.teacher_feats)}")
        total = 0.0
        for tap in self.cfg.taps:
            if tap not in ctx.student_feats or tap not in feats_t:
                raise KeyError(f"AttentionTransfer: tap {tap!r} missing (student taps {sorted(ctx.student_feats)}, "
                               f"teacher taps {sorted(feats_t)})")
            feat_s, feat_t = ctx.student_feats[tap], feats_t[tap]
            size = (min(feat_s.shape[-2], feat_t.shape[-2]), min(feat_s.shape[-1], feat_t.shape[-1]))
            weights = region_weights(ctx.batch, self.cfg.region, size)
            total = total + at_loss(feat_s, feat_t, self.cfg.p, weights)
        return {"loss_at": self.cfg.beta / 2 * total}
