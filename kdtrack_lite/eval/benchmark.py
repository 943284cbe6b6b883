"""One table for several trackers: accuracy on held-out sequences plus speed and size, one run.

Used by ``benchmarks/baselines.py``, the capstone notebook and ``kdtrack tour``, so every table in
the project is computed the same way.

OUR DESIGN CHOICES: speed is measured at batch 1 on the same input for every model, interleaved
in one run (:func:`~kdtrack_lite.eval.speed.compare_models`), every model in its deployed form
(:func:`~kdtrack_lite.models.fuse.deploy`: Conv+BN folded, channels-last weights -- standard
deployment steps that leave the outputs unchanged up to float rounding); ``pipeline_fps`` is
frames / wall time of the whole online tracker (detector, decoding, association) over the test
sequences.
"""

from __future__ import annotations

import time

import pandas as pd
import torch
from torch import nn

from ..data.sequence import MOTSequence, SOTSequence
from ..models.fuse import deploy
from .mot import evaluate_mot
from .mot_protocol import track_sequences
from .sot_protocol import evaluate_siamfc
from .speed import compare_models

MOT_COLUMNS = ["HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW"]
SPEED_COLUMNS = ["params", "flops", "fps", "speedup", "compression"]


def mot_benchmark(models: dict[str, nn.Module], sequences: list[MOTSequence], reference: str | None = None,
                  fuse: bool = True, tracker_cfg=None) -> pd.DataFrame:
    """HOTA/DetA/AssA/MOTA/IDF1/IDSW, pipeline FPS, params, FLOPs, detector FPS and ratios per model.

    Args:
        models: ``{name: CenterTrack detector}``.
        sequences: held-out sequences (all of one frame size).
        reference: the model ratios are computed against (default: the first).
        fuse: deploy every model (:func:`~kdtrack_lite.models.fuse.deploy`) before timing and tracking
            (outputs unchanged up to rounding).
        tracker_cfg: :class:`~kdtrack_lite.track.mot_tracker.TrackerConfig` of every model (default: its defaults).
    """
    if not sequences:
        raise ValueError("mot_benchmark needs at least one sequence")
    run = {n: deploy(m) if fuse else m.eval() for n, m in models.items()}
    frames = sum(s.num_frames for s in sequences)
    gt = {s.name: s.gt for s in sequences}
    lengths = {s.name: s.num_frames for s in sequences}
    rows = {}
    for name, model in run.items():
        start = time.perf_counter()
        results = track_sequences(model, sequences, tracker_cfg)
        fps = frames / (time.perf_counter() - start)
        report = evaluate_mot(gt, results, seq_lengths=lengths)
        rows[name] = {**report.combined[MOT_COLUMNS].to_dict(), "pipeline_fps": fps}
    h, w = sequences[0].frames.shape[1:3]
    x, prior = torch.rand(1, 3, h, w), torch.rand(1, 1, h, w)
    speed = compare_models(run, (x, x, prior), reference=reference)
    return pd.DataFrame(rows).T.join(speed[SPEED_COLUMNS])


def sot_benchmark(models: dict[str, nn.Module], sequences: list[SOTSequence], reference: str | None = None,
                  fuse: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Success AUC, P@20, normalised precision, params, FLOPs, FPS and ratios per model, plus the
    per-attribute success AUC table (attributes x models).

    Speed input: one template and a 3-scale search batch (what :class:`SiamFCTracker` runs per frame).
    """
    if not sequences:
        raise ValueError("sot_benchmark needs at least one sequence")
    run = {n: deploy(m) if fuse else m.eval() for n, m in models.items()}
    overall, per_attr = {}, {}
    for name, model in run.items():
        report = evaluate_siamfc(model, sequences)
        overall[name] = report.overall.loc["ALL", ["AUC", "P@20", "NPrec"]].to_dict()
        per_attr[name] = report.per_attribute["AUC"]
    cfg = next(iter(run.values())).cfg
    z, x = torch.rand(1, 3, cfg.template_size, cfg.template_size), torch.rand(3, 3, cfg.search_size, cfg.search_size)
    speed = compare_models(run, (z.expand(3, -1, -1, -1), x), reference=reference)
    return pd.DataFrame(overall).T.join(speed[SPEED_COLUMNS]), pd.DataFrame(per_attr)
