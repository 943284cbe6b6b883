"""CenterTrack training loss: focal heatmap loss, masked L1 regressions, identity loss.

PAPER FACTS:

* Penalty-reduced focal loss (CenterNet, Zhou et al. 2019, after Law & Deng's CornerNet), with
  ``p`` the predicted and ``y`` the Gaussian target heatmap and ``N`` the number of peaks
  (``y == 1``), alpha = 2, beta = 4::

      L_hm = -1/N * sum( (1 - p)^alpha log(p)                    if y == 1
                         (1 - y)^beta p^alpha log(1 - p)          otherwise )

* Size, offset and CenterTrack's tracking offset: L1 at the object centres only.
* FairMOT (Zhang et al. 2021): the embedding at each object centre is trained as identity
  classification (cross-entropy over identities, a linear classifier on the embedding).

OUR DESIGN CHOICES: log-probabilities from ``logsigmoid`` (numerically safe, no clamp); the L1
terms average over the valid (masked) entries; the identity classifier is cosine (embeddings and
class weights L2-normalised, logits scaled by ``id_scale``) because the detector already
L2-normalises its embeddings; the classifier lives in :class:`CenterTrackLoss`, not in the
detector, so detector checkpoints do not depend on how many identities a data set has.
Identities are numbered per sequence in our data (the same id in two sequences is two people),
so when the batch carries ``seq_index`` the class of an object is
``seq_index * max_ids_per_sequence + id`` (:func:`global_identities`).
Batch dict keys follow the data contract (``hm, ind, mask, wh, reg, tracking, tracking_mask,
ids``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from .centertrack import gather_at


@dataclass
class CenterTrackLossConfig(Config):
    """Weights and hyper-parameters of :func:`centertrack_loss`.

    ``alpha``/``beta`` are CenterNet's focal-loss exponents (PAPER FACT); the term weights,
    ``num_identities`` (classifier size), ``max_ids_per_sequence`` (id range of one sequence)
    and ``id_scale`` (cosine-logit scale) are OUR CHOICES.
    """

    alpha: float = 2.0
    beta: float = 4.0
    w_hm: float = 1.0
    w_wh: float = 0.1
    w_reg: float = 1.0
    w_tracking: float = 1.0
    w_id: float = 0.1
    num_identities: int = 4096
    max_ids_per_sequence: int = 64
    id_scale: float = 16.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (equation in the module docstring).

    Args:
        logits: ``(B, C, h, w)`` heatmap logits.
        target: ``(B, C, h, w)`` Gaussian targets in [0, 1]; peaks are exactly 1.

    Returns:
        Scalar: summed loss / number of peaks (the sum alone when there is no peak).
    """
    if logits.shape != target.shape:
        raise ValueError(f"focal_loss: logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    p = logits.sigmoid()
    log_p, log_1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    pos = target.eq(1).float()
    pos_loss = (1 - p).pow(alpha) * log_p * pos
    neg_loss = (1 - target).pow(beta) * p.pow(alpha) * log_1mp * (1 - pos)
    num_pos = pos.sum()
    total = -(pos_loss.sum() + neg_loss.sum())
    return total / num_pos if num_pos > 0 else total


def masked_l1_loss(pred_maps: torch.Tensor, ind: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between ``pred_maps (B, C, h, w)`` read at ``ind (B, K)`` and ``target (B, K, C)``.

    Only entries with ``mask (B, K)`` = 1 count; the result is the mean over those ``K_valid * C``
    values (0 when none is valid).
    """
    pred = gather_at(pred_maps, ind)  # (B, K, C)
    m = mask.to(pred.dtype)[..., None].expand_as(pred)
    return (torch.abs(pred - target) * m).sum() / m.sum().clamp(min=1.0)


def global_identities(ids: torch.Tensor, seq_index: torch.Tensor, max_ids_per_sequence: int) -> torch.Tensor:
    """Per-sequence ids ``(B, K)`` (0 = padding) -> data-set-wide ids ``seq * M + id`` (0 kept)."""
    if int(ids.max()) > max_ids_per_sequence:
        raise ValueError(
            f"global_identities: id {int(ids.max())} exceeds max_ids_per_sequence={max_ids_per_sequence}; "
            "raise CenterTrackLossConfig.max_ids_per_sequence"
        )
    seq = seq_index.reshape(-1, 1).long()
    return torch.where(ids > 0, seq * max_ids_per_sequence + ids, torch.zeros_like(ids))


def identity_loss(embeddings: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor,
                  class_weight: torch.Tensor, scale: float = 16.0) -> torch.Tensor:
    """FairMOT-style identity classification with a cosine classifier (OUR CHOICE of classifier).

    Args:
        embeddings: ``(B, K, D)`` embeddings at the object centres.
        ids: ``(B, K)`` identities, 1..num_identities (0 = padding).
        mask: ``(B, K)`` 1 for real objects.
        class_weight: ``(num_identities, D)`` class vectors; identity ``i`` is row ``i - 1``.
        scale: logit scale ``s`` in ``s * cos(e, w_i)``.

    Returns:
        Scalar mean cross-entropy over the valid objects (0 when there are none).
    """
    valid = (mask > 0) & (ids > 0)
    if not bool(valid.any()):
        return embeddings.sum() * 0.0
    num = class_weight.shape[0]
    if int(ids[valid].max()) > num:
        raise ValueError(
            f"identity_loss: identity {int(ids[valid].max())} exceeds num_identities={num}; "
            "raise CenterTrackLossConfig.num_identities"
        )
    e = F.normalize(embeddings[valid], dim=1)  # (N, D)
    logits = scale * e @ F.normalize(class_weight, dim=1).T  # (N, num_identities)
    return F.cross_entropy(logits, ids[valid] - 1)


def centertrack_loss(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                     weights: CenterTrackLossConfig | None = None,
                     id_classifier: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Total CenterTrack task loss and its terms.

    ``loss_task = w_hm L_hm + w_wh L1(wh) + w_reg L1(reg) + w_tracking L1(tracking) + w_id L_id``;
    the tracking term uses ``tracking_mask``; ``L_id`` is skipped (0) without ``id_classifier``
    or when the outputs hold no embedding.

    Args:
        outputs: :class:`CenterTrackDetector` outputs.
        batch: data-contract dict (``hm (B,1,h,w)``, ``ind (B,K)``, ``mask``, ``wh (B,K,2)``,
            ``reg``, ``tracking``, ``tracking_mask``, ``ids``; optional ``seq_index (B,)``).
        weights: :class:`CenterTrackLossConfig` (default values when ``None``).
        id_classifier: ``(num_identities, D)`` class vectors for :func:`identity_loss`.

    Returns:
        ``{"loss_task", "loss_hm", "loss_wh", "loss_reg", "loss_tracking", "loss_id"}`` scalars.
    """
    cfg = weights or CenterTrackLossConfig()
    missing = [k for k in ("hm", "ind", "mask", "wh", "reg") if k not in batch]
    if missing:
        raise KeyError(f"centertrack_loss: batch lacks {missing}; got keys {sorted(batch)}")
    ind, mask = batch["ind"].long(), batch["mask"].float()
    terms = {
        "loss_hm": focal_loss(outputs["logits_hm"], batch["hm"], cfg.alpha, cfg.beta),
        "loss_wh": masked_l1_loss(outputs["wh"], ind, mask, batch["wh"]),
        "loss_reg": masked_l1_loss(outputs["reg"], ind, mask, batch["reg"]),
    }
    zero = terms["loss_hm"] * 0.0
    if "tracking" in batch and "tracking" in outputs:
        tmask = batch.get("tracking_mask", batch["mask"]).float()
        terms["loss_tracking"] = masked_l1_loss(outputs["tracking"], ind, tmask, batch["tracking"])
    else:
        terms["loss_tracking"] = zero
    if id_classifier is not None and "embedding" in outputs and "ids" in batch:
        emb = gather_at(outputs["embedding"], ind)  # (B, K, D)
        ids = batch["ids"].long()
        if "seq_index" in batch:
            ids = global_identities(ids, batch["seq_index"], cfg.max_ids_per_sequence)
        terms["loss_id"] = identity_loss(emb, ids, mask, id_classifier, cfg.id_scale)
    else:
        terms["loss_id"] = zero
    terms["loss_task"] = (cfg.w_hm * terms["loss_hm"] + cfg.w_wh * terms["loss_wh"] + cfg.w_reg * terms["loss_reg"]
                          + cfg.w_tracking * terms["loss_tracking"] + cfg.w_id * terms["loss_id"])
    return terms


class CenterTrackLoss(nn.Module):
    """Thin module around :func:`centertrack_loss` holding the config and identity classifier.

    Its parameters (the ``(num_identities, D)`` classifier) must join the optimiser.
    """

    def __init__(self, cfg: CenterTrackLossConfig | None = None, embedding_dim: int = 32, seed: int = 0):
        super().__init__()
        self.cfg = cfg or CenterTrackLossConfig()
        gen = torch.Generator().manual_seed(seed)
        self.id_classifier = nn.Parameter(torch.randn(self.cfg.num_identities, embedding_dim, generator=gen) * 0.1)

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return centertrack_loss(outputs, batch, self.cfg, self.id_classifier)
