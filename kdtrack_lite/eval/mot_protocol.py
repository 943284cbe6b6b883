"""How a MOT detector is evaluated: the online tracker run over held-out sequences, then scored.

Every MOT table of the project follows this protocol: each sequence is tracked from its first
frame by a fresh :class:`~kdtrack_lite.track.pipeline.MOTPipeline` (detector, decoding,
association), and the MOTChallenge rows of all sequences are scored together by
:func:`~kdtrack_lite.eval.mot.evaluate_mot` (HOTA with trackeval, CLEAR/ID metrics with motmetrics).
Training recipes validate with :func:`evaluate_detector`, so early stopping follows the metric
the tables report.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..data.sequence import MOTSequence
from ..models.centertrack import DecodeConfig
from ..track.mot_tracker import TrackerConfig
from ..track.pipeline import MOTPipeline
from .mot import MOTReport, evaluate_mot


def track_sequences(detector: nn.Module, sequences: list[MOTSequence], tracker_cfg: TrackerConfig | None = None,
                    decode_cfg: DecodeConfig | None = None, use_prior: bool = True) -> dict[str, Any]:
    """Run the online pipeline on each sequence -> ``{name: (N, 10) MOTChallenge rows}``."""
    results = {}
    for seq in sequences:
        pipeline = MOTPipeline(detector, tracker_cfg, decode_cfg, use_prior=use_prior)
        results[seq.name] = pipeline.run(seq.frames, desc=f"tracking {seq.name}")
    return results


def evaluate_detector(detector: nn.Module, sequences: list[MOTSequence], tracker_cfg: TrackerConfig | None = None,
                      decode_cfg: DecodeConfig | None = None, use_prior: bool = True) -> MOTReport:
    """HOTA/MOTA/IDF1 of detector + tracker on ``sequences`` (trackeval + motmetrics)."""
    was_training = detector.training
    results = track_sequences(detector, sequences, tracker_cfg, decode_cfg, use_prior)
    detector.train(was_training)
    return evaluate_mot({s.name: s.gt for s in sequences}, results,
                        seq_lengths={s.name: s.num_frames for s in sequences})
