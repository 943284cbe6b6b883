"""Response-level KD: the student imitates the teacher's *outputs* (Hinton et al. 2015).

PAPER FACT (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network"): soften
both softmax outputs with a temperature ``T`` and minimise

    L_KD = T^2 * KL( softmax(z_T / T) || softmax(z_S / T) ),

the ``T^2`` keeping gradient magnitudes comparable across temperatures. :func:`kd_loss` is this
loss with the softmax over everything but the batch dimension, so it serves class logits
``(B, K)`` and SiamFC response maps ``(B, 1, H, W)`` alike (a distribution over positions).

OUR DESIGN CHOICES for the CenterNet-style detector heads, in :class:`ResponseKD`:

* the heatmap is a per-pixel *sigmoid*, not a softmax, so each pixel is a Bernoulli variable:
  ``binary_kd_loss = T^2 * KL(Bern(sigmoid(z_T/T)) || Bern(sigmoid(z_S/T)))``, averaged over
  pixels with optional weights;
* pixel weights ``w = max(sigmoid(z_T), sigmoid(z_S))`` (detached, at T = 1): a heatmap is
  ~99 % background, and an unweighted mean would be dominated by easy background pixels; this
  weight counts the teacher's objects *and* the student's false positives (:func:`confidence_weight`);
* the regression heads (``wh``, ``reg``, ``tracking``) are matched with an L1 loss weighted by
  the teacher heatmap ``sigmoid(z_T)``, pixels with probability below ``reg_min_teacher_prob``
  weighted 0, so only (teacher-believed) object centres count, as in CenterNet's own
  regression losses.

Every loss here follows the input rule of :mod:`kdtrack_lite.distill._shapes`: NaN/inf input ->
``ValueError`` naming the argument; empty batch -> 0 that keeps the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from ..config import Config
from ._shapes import check_finite, check_same_shape, zero_loss
from .base import DistillContext, LossTerm

WEIGHTINGS = ("confidence", "uniform")


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None, where: str) -> torch.Tensor:
    if values.numel() == 0:
        return zero_loss(values)  # an empty batch: nothing to match
    if weight is None:
        return values.mean()
    try:
        weight = torch.broadcast_to(weight, values.shape)
    except RuntimeError as err:
        raise ValueError(f"{where}: weight {tuple(weight.shape)} does not broadcast to "
                         f"{tuple(values.shape)}") from err
    # all-zero weights give 0 (nothing to match), not NaN
    return (weight * values).sum() / weight.sum().clamp_min(torch.finfo(values.dtype).tiny)


def binary_kd_loss(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float = 1.0,
                   weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel Bernoulli KD ``T^2 * KL(Bern(sigmoid(z_T/T)) || Bern(sigmoid(z_S/T)))``.

    With ``q = sigmoid(z_T/T)`` and ``p = sigmoid(z_S/T)``:
    ``KL = q log(q/p) + (1-q) log((1-q)/(1-p))``, computed with ``logsigmoid`` for stability.

    Args:
        logits_s: student logits, any shape, e.g. heatmap ``(B, 1, H, W)``.
        logits_t: teacher logits, same shape; a constant target (detached).
        T: temperature (> 0).
        weight: optional non-negative weights broadcastable to the logits; the result is
            ``sum(w * KL) / sum(w)`` (0 when every weight is 0), else the plain mean.

    Returns:
        Scalar tensor; 0 exactly when ``logits_s == logits_t``, and for an empty batch.

    Raises:
        ValueError: NaN/inf in an argument (named), shapes that differ, ``T <= 0``.
    """
    check_same_shape("binary_kd_loss", "logits_s", logits_s, "logits_t", logits_t)
    check_finite("binary_kd_loss", logits_s=logits_s, logits_t=logits_t, weight=weight)
    return T * T * _weighted_mean(bernoulli_kl(logits_s, logits_t, T, "binary_kd_loss"), weight, "binary_kd_loss")


def bernoulli_kl(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float = 1.0,
                 where: str = "bernoulli_kl") -> torch.Tensor:
    """Elementwise ``KL(Bern(sigmoid(z_T/T)) || Bern(sigmoid(z_S/T)))`` (no ``T^2``), same shape as
    the logits; the teacher's logits are detached. ``where`` names the caller in the errors."""
    if T <= 0:
        raise ValueError(f"{where}: temperature T must be > 0, got {T}")
    zs, zt = logits_s / T, logits_t.detach() / T
    q = torch.sigmoid(zt)
    return q * (F.logsigmoid(zt) - F.logsigmoid(zs)) + (1 - q) * (F.logsigmoid(-zt) - F.logsigmoid(-zs))


def confidence_weight(logits_s: torch.Tensor, logits_t: torch.Tensor) -> torch.Tensor:
    """Pixel weights ``max(sigmoid(z_T), sigmoid(z_S))``, detached (our design choice, module doc)."""
    return torch.maximum(torch.sigmoid(logits_t), torch.sigmoid(logits_s)).detach()


def kd_per_sample(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float = 4.0,
                  where: str = "kd_per_sample") -> torch.Tensor:
    """Hinton KD per sample ``T^2 * KL(softmax(z_T/T) || softmax(z_S/T))`` -> ``(B,)``.

    Args:
        logits_s: student logits ``(B, ...)``; the softmax runs over all non-batch dims
            (``(B, K)`` classes, or a ``(B, 1, H, W)`` response map as ``H*W`` positions).
        logits_t: teacher logits, same shape; a constant target (detached).
        T: temperature (> 0).
        where: names the caller in the errors.

    Returns:
        ``(B,)`` tensor, the KL summed over each sample's distribution; zeros that keep the graph
        when there is nothing to compare.

    Raises:
        ValueError: NaN/inf in an argument (named), shapes that differ, ``T <= 0``, fewer than 2 dims.
    """
    check_same_shape(where, "logits_s", logits_s, "logits_t", logits_t)
    if T <= 0:
        raise ValueError(f"{where}: temperature T must be > 0, got {T}")
    if logits_s.dim() < 2:
        raise ValueError(f"{where}: logits must be (B, ...) with at least 2 dims, got {tuple(logits_s.shape)}")
    check_finite(where, logits_s=logits_s, logits_t=logits_t)
    if logits_s.numel() == 0:
        return logits_s.flatten(1).sum(dim=1) * 0.0  # (B,), an empty batch or empty maps
    log_p_s = F.log_softmax(logits_s.flatten(1) / T, dim=1)  # (B, N)
    log_p_t = F.log_softmax(logits_t.detach().flatten(1) / T, dim=1)  # (B, N)
    return T * T * (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)  # (B,)


def kd_loss(logits_s: torch.Tensor, logits_t: torch.Tensor, T: float = 4.0) -> torch.Tensor:
    """Hinton KD ``T^2 * KL(softmax(z_T/T) || softmax(z_S/T))``, averaged over the batch: the mean
    of :func:`kd_per_sample`.

    Args:
        logits_s: student logits ``(B, ...)``; the softmax runs over all non-batch dims
            (``(B, K)`` classes, or a ``(B, 1, H, W)`` response map as ``H*W`` positions).
        logits_t: teacher logits, same shape; a constant target (detached).
        T: temperature (> 0).

    Returns:
        Scalar tensor (sum over the distribution, mean over the batch: ``batchmean``); 0 for an
        empty batch.

    Raises:
        ValueError: NaN/inf in an argument (named), shapes that differ, ``T <= 0``.
    """
    per_sample = kd_per_sample(logits_s, logits_t, T, where="kd_loss")  # (B,)
    if logits_s.numel() == 0:
        return zero_loss(logits_s)
    return per_sample.mean()


def weighted_l1_loss(pred_s: torch.Tensor, pred_t: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum(w * |s - t|) / sum(w)`` with ``w`` broadcast over channels (0 when every weight is 0).

    Args:
        pred_s: student regression map ``(B, C, H, W)`` (e.g. ``wh``).
        pred_t: teacher regression map, same shape; detached.
        weight: ``(B, 1, H, W)`` pixel weights (e.g. the teacher heatmap probability).

    Raises:
        ValueError: NaN/inf in an argument (named), shapes that differ.
    """
    check_same_shape("weighted_l1_loss", "pred_s", pred_s, "pred_t", pred_t)
    check_finite("weighted_l1_loss", pred_s=pred_s, pred_t=pred_t, weight=weight)
    return _weighted_mean((pred_s - pred_t.detach()).abs(), weight, "weighted_l1_loss")


@dataclass
class ResponseKDConfig(Config):
    """Detector-head KD settings (our design choices, module doc).

    Attributes:
        teacher: which teacher (key of ``Distiller.teachers``) to imitate.
        temperature: heatmap KD temperature ``T``.
        hm_weight: multiplier of ``loss_kd_hm``.
        hm_weighting: ``"confidence"`` (``max(p_T, p_S)`` pixel weights) or ``"uniform"``.
        reg_weight: multiplier of ``loss_kd_reg`` (0 turns the regression KD off).
        reg_fields: output keys of the regression heads to match.
        reg_min_teacher_prob: teacher heatmap probability below which a pixel gets no
            regression weight.
        heatmap_key: output key of the heatmap logits.
    """

    teacher: str = "teacher"
    temperature: float = 2.0
    hm_weight: float = 1.0
    hm_weighting: str = "confidence"
    reg_weight: float = 0.1
    reg_fields: tuple[str, ...] = ("wh", "reg", "tracking")
    reg_min_teacher_prob: float = 0.1
    heatmap_key: str = "logits_hm"


class ResponseKD(LossTerm):
    """KD on a CenterNet-style detector's output dict: ``loss_kd_hm`` and ``loss_kd_reg``.

    ``loss_kd_hm = hm_weight * binary_kd_loss(hm_S, hm_T, T, w)``;
    ``loss_kd_reg = reg_weight * sum_fields weighted_l1_loss(f_S, f_T, sigmoid(hm_T) * [>= min])``.
    Fields missing from *both* outputs are skipped (a detector without a tracking head);
    missing from one only is an error.
    """

    name = "kd_det"

    def __init__(self, cfg: ResponseKDConfig | None = None, **overrides: Any):
        super().__init__()
        cfg = cfg or ResponseKDConfig()
        self.cfg = cfg.replace(**overrides) if overrides else cfg
        if self.cfg.hm_weighting not in WEIGHTINGS:
            raise ValueError(f"ResponseKDConfig.hm_weighting must be one of {WEIGHTINGS}, "
                             f"got {self.cfg.hm_weighting!r}")

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        out_s = ctx.student_out
        out_t = ctx.teacher_outs.get(cfg.teacher)
        if out_t is None:
            raise KeyError(f"ResponseKD: no teacher {cfg.teacher!r}; teachers are {sorted(ctx.teacher_outs)}")
        for role, out in (("student", out_s), ("teacher", out_t)):
            if not isinstance(out, Mapping) or cfg.heatmap_key not in out:
                keys = sorted(out) if isinstance(out, Mapping) else type(out).__name__
                raise KeyError(f"ResponseKD: the {role} output must be a dict with {cfg.heatmap_key!r}, got {keys}")
        hm_s, hm_t = out_s[cfg.heatmap_key], out_t[cfg.heatmap_key]  # (B, 1, H, W) logits
        weight = confidence_weight(hm_s, hm_t) if cfg.hm_weighting == "confidence" else None
        losses = {"loss_kd_hm": cfg.hm_weight * binary_kd_loss(hm_s, hm_t, cfg.temperature, weight)}
        if cfg.reg_weight:
            prob_t = torch.sigmoid(hm_t.detach())
            reg_w = prob_t * (prob_t >= cfg.reg_min_teacher_prob)  # (B, 1, H, W)
            total = hm_s.new_zeros(())
            for key in cfg.reg_fields:
                if key not in out_s and key not in out_t:
                    continue
                if key not in out_s or key not in out_t:
                    raise KeyError(f"ResponseKD: field {key!r} is in only one of the student/teacher outputs")
                total = total + weighted_l1_loss(out_s[key], out_t[key], reg_w)
            losses["loss_kd_reg"] = cfg.reg_weight * total
        return losses


@dataclass
class SoftmaxKDConfig(Config):
    """Hinton KD on one output tensor (e.g. a SiamFC response map).

    Attributes:
        teacher: which teacher to imitate.
        temperature: ``T`` (Hinton et al. use values well above 1 to soften targets).
        weight: multiplier of ``loss_kd``.
        output_key: key of the logits when outputs are dicts; ``None`` = the output is the tensor.
    """

    teacher: str = "teacher"
    temperature: float = 4.0
    weight: float = 1.0
    output_key: str | None = None


class SoftmaxKD(LossTerm):
    """``loss_kd = weight * kd_loss(out_S, out_T, T)`` over one output tensor (thin module of :func:`kd_loss`)."""

    name = "kd"

    def __init__(self, cfg: SoftmaxKDConfig | None = None, **overrides: Any):
        super().__init__()
        cfg = cfg or SoftmaxKDConfig()
        self.cfg = cfg.replace(**overrides) if overrides else cfg

    def _pick(self, out: Any, role: str) -> torch.Tensor:
        key = self.cfg.output_key
        if key is None:
            return out
        if not isinstance(out, Mapping) or key not in out:
            raise KeyError(f"SoftmaxKD: the {role} output has no {key!r}")
        return out[key]

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:
        if self.cfg.teacher not in ctx.teacher_outs:
            raise KeyError(f"SoftmaxKD: no teacher {self.cfg.teacher!r}; teachers are {sorted(ctx.teacher_outs)}")
        logits_s = self._pick(ctx.student_out, "student")
        logits_t = self._pick(ctx.teacher_outs[self.cfg.teacher], "teacher")
        return {"loss_kd": self.cfg.weight * kd_loss(logits_s, logits_t, self.cfg.temperature)}
