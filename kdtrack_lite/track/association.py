"""Association costs and optimal assignment (SORT / DeepSORT / ByteTrack building blocks).

* IoU cost ``1 - IoU(track, detection)`` (SORT, Bewley et al. 2016).
* Appearance cost: cosine distance of L2-normalised embeddings (DeepSORT, Wojke et al. 2017).
* Assignment: the Hungarian method / Jonker-Volgenant via ``scipy.optimize.linear_sum_assignment``;
  pairs whose cost exceeds a threshold are never matched.

OUR DESIGN CHOICE for fusing: ``cost = (1 - w) * iou_cost + w * appearance_cost`` with the
appearance cost clipped to [0, 1], and pairs with IoU below ``iou_gate`` set to infinity so that a
look-alike far away is never matched on appearance alone.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import box_iou


def iou_cost(tracks_xyxy: np.ndarray, dets_xyxy: np.ndarray) -> np.ndarray:
    """``1 - IoU`` between ``(N, 4)`` track boxes and ``(M, 4)`` detections -> ``(N, M)``."""
    a = np.asarray(tracks_xyxy, np.float64).reshape(-1, 4)
    b = np.asarray(dets_xyxy, np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return 1.0 - box_iou(a, b)


def embedding_cost(track_emb: np.ndarray, det_emb: np.ndarray) -> np.ndarray:
    """Cosine distance ``1 - cos`` clipped to [0, 1] between ``(N, D)`` and ``(M, D)`` -> ``(N, M)``."""
    a = np.asarray(track_emb, np.float64)
    b = np.asarray(det_emb, np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"embedding_cost: embedding sizes differ: tracks {a.shape}, detections {b.shape}")
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - a @ b.T, 0.0, 1.0)


def fused_cost(iou_c: np.ndarray, emb_c: np.ndarray | None, appearance_weight: float,
               iou_gate: float = 0.0) -> np.ndarray:
    """``(1 - w) iou_c + w emb_c``; pairs with IoU < ``iou_gate`` (``iou_c > 1 - gate``) get ``inf``.

    Without ``emb_c`` (no embeddings) the IoU cost alone is returned, still gated.
    """
    cost = iou_c.copy() if emb_c is None else (1 - appearance_weight) * iou_c + appearance_weight * emb_c
    if iou_gate > 0:
        cost[iou_c > 1.0 - iou_gate] = np.inf
    return cost


def linear_assignment(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching, keeping only pairs with ``cost <= thresh``.

    Args:
        cost: ``(N, M)`` rows = tracks, columns = detections; ``inf`` forbids a pair.
        thresh: largest acceptable cost.

    Returns:
        ``matches (K, 2)`` int rows ``[row, col]``, ``unmatched_rows (N - K,)``,
        ``unmatched_cols (M - K,)``.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.empty((0, 2), int), np.arange(n), np.arange(m)
    # pairs above the threshold must not steer the optimum: give them one shared large cost
    big = thresh + 1.0
    bounded = np.where(np.isfinite(cost) & (cost <= thresh), cost, big)
    rows, cols = linear_sum_assignment(bounded)
    ok = bounded[rows, cols] <= thresh
    matches = np.stack([rows[ok], cols[ok]], axis=1).astype(int)
    free_rows, free_cols = np.ones(n, bool), np.ones(m, bool)
    free_rows[matches[:, 0]] = False
    free_cols[matches[:, 1]] = False
    return matches, np.flatnonzero(free_rows), np.flatnonzero(free_cols)
