"""Association variants compared on identical detections (no semantics / fixed weight / DSWR).

OUR DESIGN CHOICE: the detector runs once per sequence with the plain tracker
(:class:`~kdtrack_lite.track.semantic_fusion.QueryExtractor`), then every variant replays the
tracker on the same recorded detections and query vectors with its own fused embeddings
(:func:`~kdtrack_lite.track.semantic_fusion.track_queries`). Differences in the table are then
due to association alone, not to a detector that saw different priors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from torch import nn

from ..data.sequence import MOTSequence
from ..track.mot_tracker import TrackerConfig
from ..track.semantic_fusion import (
    FrameQueries,
    QueryExtractor,
    SemanticFusion,
    track_queries,
)
from .mot import evaluate_mot

FUSION_COLUMNS = ["HOTA", "AssA", "IDF1", "DetA", "MOTA", "IDSW"]


def record_queries(detector: nn.Module, sequences: list[MOTSequence], tracker_cfg: TrackerConfig | None = None
                   ) -> dict[str, list[FrameQueries]]:
    """``{sequence name: per-frame queries}`` from one detector pass per sequence."""
    return {s.name: QueryExtractor(detector, tracker_cfg).run(s.frames, desc=f"queries {s.name}") for s in sequences}


def compare_fusion(sequences: list[MOTSequence], queries: Mapping[str, list[FrameQueries]],
                   variants: Mapping[str, SemanticFusion | None], tracker_cfg: TrackerConfig | None = None
                   ) -> pd.DataFrame:
    """One row per variant (``None`` = no semantics) with :data:`FUSION_COLUMNS` (combined over sequences).

    Returns:
        DataFrame indexed by variant name; percentages 0-100, ``IDSW`` a count.
    """
    missing = [s.name for s in sequences if s.name not in queries]
    if missing:
        raise KeyError(f"compare_fusion: no recorded queries for sequence(s) {missing}")
    gt = {s.name: s.gt for s in sequences}
    lengths = {s.name: s.num_frames for s in sequences}
    rows = {}
    for name, fusion in variants.items():
        results = {s.name: track_queries(queries[s.name], s.frames, tracker_cfg, fusion) for s in sequences}
        rows[name] = evaluate_mot(gt, results, seq_lengths=lengths).combined[FUSION_COLUMNS].astype(float)
    return pd.DataFrame(rows).T


def weights_over_time(fusion: SemanticFusion, frames: np.ndarray) -> np.ndarray:
    """DSWR weight of every frame: ``(T,)`` (scalar regulator) or ``(T, D)`` (per channel)."""
    out = [np.asarray(fusion.weight(f)) for f in frames]
    arr = np.stack(out)
    return arr[:, 0] if arr.shape[1] == 1 else arr
