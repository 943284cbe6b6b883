"""Public detections (``det/det.txt``) simulated from ground truth, as MOTChallenge ships them.

OUR DESIGN CHOICE: an imperfect detector -- a person is missed with probability
``miss_base + miss_occluded * (1 - visibility)``; kept boxes get centre and size noise
proportional to their size; ``false_per_frame`` false boxes per frame (Poisson) of plausible
person sizes; scores are high for true boxes and lower (overlapping) for false ones. Lets
tracking-by-detection baselines (SORT, ByteTrack-style) run on synthetic sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..config import Config
from .sequence import MOTSequence


@dataclass
class DetectionNoiseConfig(Config):
    miss_base: float = 0.05
    miss_occluded: float = 0.6
    box_noise: float = 0.06         # std of centre / size noise, relative to the box size
    false_per_frame: float = 0.5
    true_score: tuple[float, float] = (0.5, 1.0)
    false_score: tuple[float, float] = (0.1, 0.7)

    FAST: ClassVar[dict] = {}


def simulate_detections(seq: MOTSequence, cfg: DetectionNoiseConfig | None = None, seed: int = 0) -> np.ndarray:
    """``(M, 10)`` det rows ``frame,-1,left,top,w,h,score,-1,-1,-1`` for ``seq`` (deterministic per seed)."""
    cfg = cfg or DetectionNoiseConfig.make()
    rng = np.random.default_rng(seed)
    gt = seq.gt[seq.gt[:, 6] > 0]
    keep = rng.random(len(gt)) >= cfg.miss_base + cfg.miss_occluded * (1 - gt[:, 8])
    g = gt[keep]
    w, h = g[:, 4], g[:, 5]
    cx = g[:, 2] + w / 2 + rng.normal(0, cfg.box_noise, len(g)) * w
    cy = g[:, 3] + h / 2 + rng.normal(0, cfg.box_noise, len(g)) * h
    w2 = w * np.exp(rng.normal(0, cfg.box_noise, len(g)))
    h2 = h * np.exp(rng.normal(0, cfg.box_noise, len(g)))
    score = rng.uniform(*cfg.true_score, len(g)) * (0.6 + 0.4 * g[:, 8])
    rows = [np.stack([g[:, 0], -np.ones(len(g)), cx - w2 / 2, cy - h2 / 2, w2, h2, score], 1)]
    W, H = seq.size
    n_false = rng.poisson(cfg.false_per_frame, seq.num_frames)
    if n_false.sum() and len(gt):
        f = np.repeat(np.arange(1, seq.num_frames + 1), n_false)
        fh = rng.choice(gt[:, 5], len(f))
        fw = fh * rng.uniform(0.3, 0.5, len(f))
        rows.append(np.stack([f, -np.ones(len(f)), rng.uniform(0, W, len(f)) - fw / 2,
                              rng.uniform(0, H, len(f)) - fh, fw, fh, rng.uniform(*cfg.false_score, len(f))], 1))
    det = np.concatenate(rows)
    det = np.concatenate([det, -np.ones((len(det), 3))], 1)
    return det[np.lexsort((-det[:, 6], det[:, 0]))]
