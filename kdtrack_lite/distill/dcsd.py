"""DCSD: Dual-Constraint Semantic Distillation from a frozen CLIP image encoder (VSD-MOT).

PAPER FACT (VSD-MOT): the student learns from the CLIP image encoder through two
complementary losses that balance *local feature matching* and *global semantic consistency*.
The paper's formulas are not available to us; OUR DESIGN CHOICES, each a standard KD building block:

* **local** (feature matching, FitNets-style but on unit vectors): every valid student object
  token ``s_i`` (projected into the teacher space) is matched to the teacher's embedding ``t_i``
  of that object's crop::

      L_local = mean_{valid i} (1 - cos(s_i, t_i))

* **global** = frame term + relation term:

  - frame: the student's frame vector ``g`` against the teacher's whole-frame embedding ``G``,
    ``L_frame = mean_b (1 - cos(g_b, G_b))``;
  - relation (relational KD, Park et al. CVPR 2019; similarity-preserving KD, Tung & Mori
    ICCV 2019): the in-batch similarity structure must agree. With ``S = g g^T / tau`` and
    ``T = G G^T / tau`` (diagonal excluded),
    ``L_rel = mean_b KL(softmax(T_b) || softmax(S_b))``;

  ``L_global = L_frame + L_rel`` (optionally ``+ L_rel`` over all valid object tokens of the batch
  against the teacher's crop embeddings: ``DCSDConfig.relation_objects``).

Cosine rather than MSE because CLIP embeddings are compared by cosine. Option (OUR CHOICE, the
*privileged* variant): the teacher embeds the **clean** frame and crops while the student sees the
**degraded** frame, so the student learns degradation-robust semantics; that is decided where the
targets are computed (:mod:`kdtrack_lite.train.semantic`), the losses are the same.

The losses follow the input rule of :mod:`kdtrack_lite.distill._shapes`: NaN/inf input ->
``ValueError`` naming the argument; nothing to compare (an empty batch, no valid object,
fewer than two rows for a relation) -> 0 that keeps the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..config import Config
from ._shapes import check_finite, zero_loss
from .base import DistillContext, LossTerm


def _check_pair(student: torch.Tensor, teacher: torch.Tensor, what: str) -> None:
    if student.shape != teacher.shape:
        raise ValueError(f"{what}: student {tuple(student.shape)} and teacher {tuple(teacher.shape)} "
                         f"embeddings must have the same shape")


def dcsd_local_loss(tokens_s: torch.Tensor, crops_t: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Local term: ``mean over valid objects of 1 - cos(student token, teacher crop embedding)``.

    Args:
        tokens_s: ``(B, N, E)`` student object tokens in the teacher space.
        crops_t: ``(B, N, E)`` teacher embeddings of the objects' crops.
        valid: ``(B, N)`` bool (False on padding); default all valid.
    Returns:
        Scalar; 0 when nothing is valid.
    """
    _check_pair(tokens_s, crops_t, "dcsd_local_loss")
    check_finite("dcsd_local_loss", tokens_s=tokens_s, crops_t=crops_t)
    cos = F.cosine_similarity(tokens_s, crops_t, dim=-1)  # (B, N)
    if valid is None:
        return (1 - cos).mean() if cos.numel() else zero_loss(tokens_s)
    if valid.shape != cos.shape:
        raise ValueError(f"dcsd_local_loss: valid must be {tuple(cos.shape)}, got {tuple(valid.shape)}")
    valid = valid.bool()
    return ((1 - cos) * valid).sum() / valid.sum().clamp_min(1)


def dcsd_frame_loss(frame_s: torch.Tensor, frame_t: torch.Tensor) -> torch.Tensor:
    """Frame term: ``mean_b (1 - cos(g_b, G_b))`` for ``(B, E)`` student / teacher frame vectors
    (0 for an empty batch)."""
    _check_pair(frame_s, frame_t, "dcsd_frame_loss")
    check_finite("dcsd_frame_loss", frame_s=frame_s, frame_t=frame_t)
    if frame_s.shape[0] == 0:
        return zero_loss(frame_s)
    return (1 - F.cosine_similarity(frame_s, frame_t, dim=-1)).mean()


def relation_loss(feats_s: torch.Tensor, feats_t: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Similarity-matrix consistency: ``mean_b KL(softmax(T_b / tau) || softmax(S_b / tau))``.

    ``S`` and ``T`` are the cosine-similarity matrices of the rows of ``feats_s (M, E_s)`` and
    ``feats_t (M, E_t)`` (the widths may differ: only the ``(M, M)`` structure is compared); the
    diagonal (self-similarity, always 1) is excluded. Returns 0 for ``M < 2``.
    """
    if feats_s.ndim != 2 or feats_t.ndim != 2 or len(feats_s) != len(feats_t):
        raise ValueError(f"relation_loss: expected (M, E_s) and (M, E_t) with the same M, got "
                         f"{tuple(feats_s.shape)} and {tuple(feats_t.shape)}")
    if tau <= 0:
        raise ValueError(f"relation_loss: tau must be > 0, got {tau}")
    check_finite("relation_loss", feats_s=feats_s, feats_t=feats_t)
    m = len(feats_s)
    if m < 2:
        return zero_loss(feats_s)
    s = F.normalize(feats_s, dim=-1)
    t = F.normalize(feats_t, dim=-1)
    off = ~torch.eye(m, dtype=torch.bool, device=s.device)
    logits_s = (s @ s.T / tau)[off].reshape(m, m - 1)  # (M, M - 1), self-pairs removed
    logits_t = (t @ t.T / tau)[off].reshape(m, m - 1)
    return F.kl_div(F.log_softmax(logits_s, -1), F.log_softmax(logits_t, -1), reduction="batchmean", log_target=True)


def dcsd_global_loss(frame_s: torch.Tensor, frame_t: torch.Tensor, tau: float = 0.1,
                     relation_weight: float = 1.0) -> torch.Tensor:
    """Global term: ``L_frame + relation_weight * L_rel`` over the batch's frame vectors ``(B, E)``."""
    return dcsd_frame_loss(frame_s, frame_t) + relation_weight * relation_loss(frame_s, frame_t, tau)


@dataclass
class DCSDConfig(Config):
    """Weights of the two constraints (0 switches a term off: the ablation).

    Attributes:
        local_weight: weight of :func:`dcsd_local_loss`.
        global_weight: weight of :func:`dcsd_global_loss`.
        relation_weight: weight of the relation part inside the global term.
        tau: temperature of the similarity softmax.
        relation_objects: the relation part also compares the similarity structure of every
            valid object token in the batch with that of the teacher's crop embeddings (the
            structure association relies on), not only the frames'.
    """

    local_weight: float = 1.0
    global_weight: float = 1.0
    relation_weight: float = 1.0
    tau: float = 0.1
    relation_objects: bool = True

    FAST: ClassVar[dict] = {}


class DCSDLoss(LossTerm):
    """DCSD as a :class:`~kdtrack_lite.distill.base.LossTerm`.

    The CLIP teacher is slow and frozen, so its outputs are pre-computed (and cached on disk) and
    arrive in the batch: ``batch["teacher_crops"] (B, N, E)``, ``batch["teacher_frame"] (B, E)``,
    ``batch["valid"] (B, N)``; the student output must hold ``"tokens_t"`` and ``"frame_t"``
    (:class:`kdtrack_lite.models.semantic_encoder.SemanticEncoder`).
    Returns ``{"loss_dcsd_local", "loss_dcsd_global"}`` (terms with weight 0 are left out).
    """

    name = "dcsd"
    needs_teacher = False  # teacher outputs come pre-computed in the batch

    def __init__(self, cfg: DCSDConfig | None = None):
        super().__init__()
        self.cfg = cfg or DCSDConfig()

    def forward(self, ctx: DistillContext) -> dict[str, torch.Tensor]:
        out, batch, cfg = ctx.student_out, ctx.batch, self.cfg
        losses = {}
        if cfg.local_weight > 0:
            losses["loss_dcsd_local"] = cfg.local_weight * dcsd_local_loss(
                out["tokens_t"], batch["teacher_crops"], batch["valid"])
        if cfg.global_weight > 0:
            losses["loss_dcsd_global"] = cfg.global_weight * dcsd_global_loss(
                out["frame_t"], batch["teacher_frame"], cfg.tau, cfg.relation_weight)
            if cfg.relation_objects and cfg.relation_weight > 0:
                valid = batch["valid"].bool()  # (B, N) -> the (M, E) valid rows of the whole batch
                losses["loss_dcsd_global"] = losses["loss_dcsd_global"] + cfg.global_weight * cfg.relation_weight * \
                    relation_loss(out["tokens_t"][valid], batch["teacher_crops"][valid], cfg.tau)
        return losses
