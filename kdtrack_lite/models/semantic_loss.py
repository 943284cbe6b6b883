"""Task loss of the semantic student and of DSWR: contrastive association between two frames.

OUR DESIGN CHOICE (VSD-MOT trains its fused queries through the tracker's own losses, which the
lite tracker does not have): the tracker matches by cosine similarity of embeddings, so the task
loss asks each object of frame ``b`` to pick its own identity among the objects of frame ``a`` --
an InfoNCE / cross-entropy over the cosine-similarity matrix (as in contrastive re-ID, e.g.
QDTrack, Pang et al. CVPR 2021), in both directions::

    L = mean_{i: id_i in a}  -log softmax_j(cos(e^b_i, e^a_j) / tau)[j = match(i)]   (+ a -> b)

Objects with id ``-1`` (padding, unmatched detections) are never anchors nor targets but stay as
negatives when they are valid detections (``valid`` True).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def association_nce_loss(emb_a: torch.Tensor, ids_a: torch.Tensor, emb_b: torch.Tensor, ids_b: torch.Tensor,
                         valid_a: torch.Tensor | None = None, valid_b: torch.Tensor | None = None,
                         tau: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE over frame pairs.

    Args:
        emb_a, emb_b: ``(B, N, D)`` / ``(B, M, D)`` embeddings of the two frames of each pair.
        ids_a, ids_b: ``(B, N)`` / ``(B, M)`` int identities, ``-1`` = no identity.
        valid_a, valid_b: ``(B, N)`` / ``(B, M)`` bool, False on padding (default: ``id >= 0``).
        tau: temperature.
    Returns:
        Scalar mean over all anchors that have their identity in the other frame (0 if none).
    """
    if emb_a.ndim != 3 or emb_b.ndim != 3 or emb_a.shape[0] != emb_b.shape[0] or emb_a.shape[-1] != emb_b.shape[-1]:
        raise ValueError(f"association_nce_loss: emb_a (B, N, D) and emb_b (B, M, D) expected, got "
                         f"{tuple(emb_a.shape)} and {tuple(emb_b.shape)}")
    if ids_a.shape != emb_a.shape[:2] or ids_b.shape != emb_b.shape[:2]:
        raise ValueError(f"association_nce_loss: ids must be {tuple(emb_a.shape[:2])} and {tuple(emb_b.shape[:2])}, "
                         f"got {tuple(ids_a.shape)} and {tuple(ids_b.shape)}")
    if tau <= 0:
        raise ValueError(f"association_nce_loss: tau must be > 0, got {tau}")
    valid_a = ids_a >= 0 if valid_a is None else valid_a.bool()
    valid_b = ids_b >= 0 if valid_b is None else valid_b.bool()
    logits = torch.einsum("bnd,bmd->bnm", F.normalize(emb_a, dim=-1), F.normalize(emb_b, dim=-1)) / tau
    same = (ids_a[:, :, None] == ids_b[:, None, :]) & (ids_a[:, :, None] >= 0)  # (B, N, M)
    total, count = emb_a.sum() * 0, 0
    for lg, sm, va, vb in ((logits, same, valid_a, valid_b), (logits.transpose(1, 2), same.transpose(1, 2),
                                                               valid_b, valid_a)):
        lg = lg.masked_fill(~vb[:, None, :], float("-inf"))  # padding is never a candidate
        anchors = sm.any(-1) & va  # (B, rows) anchors whose identity is in the other frame
        if anchors.any():
            target = sm.float().argmax(-1)  # (B, rows): the single matching column
            total = total + F.cross_entropy(lg[anchors], target[anchors], reduction="sum")
            count += int(anchors.sum())
    return total / max(count, 1)


class SemanticTaskLoss(torch.nn.Module):
    """Task loss of :class:`~kdtrack_lite.models.semantic_encoder.SemanticEncoder` on pair batches.

    The batch stacks the previous frames then the current frames (``2B`` rows, see
    :class:`kdtrack_lite.train.semantic.PairLoader`); the loss is :func:`association_nce_loss` on
    ``student_out[key]`` between the two halves, times ``weight``.
    """

    def __init__(self, weight: float = 1.0, tau: float = 0.1, key: str = "semantic"):
        super().__init__()
        self.weight, self.tau, self.key = weight, tau, key

    def forward(self, student_out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        emb, ids, valid = student_out[self.key], batch["ids"], batch["valid"]
        b = len(emb) // 2
        loss = association_nce_loss(emb[:b], ids[:b], emb[b:], ids[b:], valid[:b], valid[b:], self.tau)
        return {"loss_task": self.weight * loss}
