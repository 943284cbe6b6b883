"""Do the quality metrics respond to the degradations the data engine records? (Spearman table)

Each metric is measured on one synthetic MOT frame degraded by a single op at levels 0..1
(:func:`kdtrack_lite.data.degrade.degrade_frame`), and Spearman's rank correlation between the
level and the metric is reported (-1 / +1 = perfectly monotonic). Run::

    python -m kdtrack_lite.quality.validation
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..data.degrade import OPS, degrade_frame
from .metrics import METRICS, frame_quality


def metric_response(frames: np.ndarray, levels: np.ndarray, seed: int = 0, ops: tuple[str, ...] = OPS) -> pd.DataFrame:
    """Raw metrics of every frame under every single op at every level.

    Args:
        frames: ``(T, H, W, 3)`` uint8 clean frames.
        levels: ``(L,)`` levels in ``[0, 1]``.
    Returns:
        One row per (frame, op, level) with columns ``frame, op, level, clarity, noise, contrast``.
    """
    rows = []
    for t, frame in enumerate(frames):
        for op in ops:
            for lv in levels:
                rng = np.random.default_rng([seed, t])
                rows.append({"frame": t, "op": op, "level": float(lv),
                             **frame_quality(degrade_frame(frame, {op: float(lv)}, rng))})
    return pd.DataFrame(rows)


def spearman_table(response: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho between level and each metric, per op (rows) and metric (columns).

    rho is computed over the levels of each frame separately and averaged over frames (pooling
    frames would mix between-frame differences into a within-frame monotonicity check).
    """
    table = {op: {m: float(np.mean([spearmanr(f["level"], f[m]).statistic for _, f in g.groupby("frame")]))
                  for m in METRICS} for op, g in response.groupby("op")}
    return pd.DataFrame(table).T.loc[[op for op in OPS if op in table]]


if __name__ == "__main__":
    from ..data.mot_synth import MOTSceneConfig, generate_mot_sequence

    seq = generate_mot_sequence(MOTSceneConfig.make(profile="full", num_frames=4), seed=0)
    table = spearman_table(metric_response(seq.frames, np.linspace(0, 1, 11)))
    print("Spearman rho(level, metric) per frame, mean over 4 synthetic MOT frames (seed 0), 11 levels 0..1")
    try:
        print(table.round(3).to_markdown())
    except ImportError:  # to_markdown needs the optional 'tabulate'
        print(table.round(3).to_string())
