"""Controlled corruptions of a tracker output, to see what each MOT metric is sensitive to.

Used by notebook 00: start from perfect results (the ground truth itself) and apply one error
type with growing strength. Expected behaviour
(metric definitions: Luiten et al. 2021):

* :func:`drop_detections` -- misses: MOTA and DetA fall about linearly; AssA falls as well,
  since missed boxes are parts of true trajectories the tracker did not follow.
* :func:`swap_ids` -- identity switches: MOTA hardly moves (two IDSW per swap), IDF1 and
  AssA fall fast.
* :func:`jitter_boxes` -- localisation noise: LocA/MOTP first, then every metric once IoUs fall
  below the match threshold.

Rows are MOTChallenge ``(N, >=6)`` arrays ``frame,id,left,top,w,h,...``; every function returns a
new array and takes a seed (deterministic, no global RNG state).
"""

from __future__ import annotations

import numpy as np


def _rows(rows) -> np.ndarray:
    a = np.array(rows, dtype=np.float64, copy=True)
    if a.ndim != 2 or a.shape[1] < 6:
        raise ValueError(f"expected MOTChallenge rows (N, >=6), got shape {a.shape}")
    return a


def drop_detections(rows, fraction: float, seed: int = 0) -> np.ndarray:
    """Remove ``round(fraction * N)`` rows chosen uniformly at random."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    a = _rows(rows)
    rng = np.random.default_rng(seed)
    drop = rng.choice(len(a), size=int(round(fraction * len(a))), replace=False)
    return np.delete(a, drop, axis=0)


def swap_ids(rows, n_swaps: int, seed: int = 0) -> np.ndarray:
    """``n_swaps`` identity switches: at a random frame, two ids present there exchange their ids
    for the rest of the sequence (the classic crossing error of a tracker)."""
    if n_swaps < 0:
        raise ValueError(f"n_swaps must be >= 0, got {n_swaps}")
    a = _rows(rows)
    rng = np.random.default_rng(seed)
    frames = np.unique(a[:, 0])
    done = 0
    for _ in range(50 * max(n_swaps, 1)):
        if done == n_swaps:
            break
        f = rng.choice(frames)
        present = np.unique(a[a[:, 0] == f, 1])
        if len(present) < 2:
            continue
        i, j = rng.choice(present, size=2, replace=False)
        later = a[:, 0] >= f
        is_i, is_j = later & (a[:, 1] == i), later & (a[:, 1] == j)
        a[is_i, 1], a[is_j, 1] = j, i
        done += 1
    if done < n_swaps:
        raise ValueError(f"could only make {done} of {n_swaps} swaps: too few frames with two objects")
    return a


def jitter_boxes(rows, sigma: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise to box position and size, ``sigma`` in units of each box's own w/h."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    a = _rows(rows)
    rng = np.random.default_rng(seed)
    wh = a[:, 4:6].copy()
    a[:, 2:4] += rng.normal(0.0, sigma, size=(len(a), 2)) * wh
    a[:, 4:6] = np.maximum(wh * (1 + rng.normal(0.0, sigma, size=(len(a), 2))), 1.0)
    return a
