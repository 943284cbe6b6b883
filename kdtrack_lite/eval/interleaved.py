"""Speed-accuracy of interleaved teacher/student schedules, measured in one run.

OUR DESIGN CHOICES: every schedule runs on every sequence; the order of the schedules is rotated
from one sequence to the next, so a change of load on a shared machine hits all of them alike
(as :func:`kdtrack_lite.eval.speed.compare_models` does for single models). FPS = frames / wall
seconds of the whole interleaved loop (:attr:`InterleavedPipeline.seconds`), summed over
sequences; HOTA/IDF1/MOTA are the combined scores of :func:`kdtrack_lite.eval.mot.evaluate_mot`.
Every detector runs in its deployed form (:func:`kdtrack_lite.models.fuse.deploy`: Conv+BN folded,
channels-last weights; outputs unchanged up to float rounding), as in every other speed table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from torch import nn

from ..boxes import tlwh_to_xyxy
from ..data.sequence import MOTSequence
from ..models.centertrack import DecodeConfig
from ..models.fuse import deploy
from ..track.interleaved import InterleavedConfig, InterleavedPipeline
from ..track.mot_tracker import TrackerConfig
from ..track.oracles import ErrorOracleSchedule, EventSchedule, GroundTruthErrors
from ..track.schedules import AdaptiveConfig, Schedule
from .mot import MOTReport, evaluate_mot


@dataclass
class Variant:
    """One point of a sweep: a schedule, how the student is fed, and (optionally) which student."""

    schedule: Schedule
    cfg: InterleavedConfig = field(default_factory=InterleavedConfig)
    student: nn.Module | None = None  # None: the sweep's student


@dataclass
class SweepResult:
    """``table``: one row per variant (HOTA, IDF1, MOTA, fps, teacher_calls, teacher_fraction,
    frames, seconds); ``reports``: the full :class:`MOTReport` per variant; ``timelines``:
    ``{variant: {sequence: (T,) bool}}``; ``results``: ``{variant: {sequence: (N, 10) rows}}``."""

    table: pd.DataFrame
    reports: dict[str, MOTReport]
    timelines: dict[str, dict[str, np.ndarray]]
    results: dict[str, dict[str, np.ndarray]]


def evaluate_variants(teacher: nn.Module, student: nn.Module, sequences: list[MOTSequence],
                      variants: dict[str, Variant], tracker_cfg: TrackerConfig | None = None,
                      decode_cfg: DecodeConfig | None = None, fuse: bool = True) -> SweepResult:
    """Run every variant on every sequence (rotated order) and score it.

    Args:
        teacher, student: CenterTrack detectors on one device.
        sequences: held-out sequences with ground truth.
        variants: ``{name: Variant}``.
        fuse: run deployed copies of the detectors (module doc; the ``fuse`` of
            :func:`~kdtrack_lite.eval.benchmark.mot_benchmark`); ``False`` runs them as given.

    Returns:
        :class:`SweepResult`.
    """
    if not sequences or not variants:
        raise ValueError("evaluate_variants: need at least one sequence and one variant")
    names = list(variants)
    deployed = {}  # one deployed copy per distinct detector

    def deployed_copy(net: nn.Module) -> nn.Module:
        if not fuse:
            return net
        if id(net) not in deployed:
            deployed[id(net)] = deploy(net)
        return deployed[id(net)]

    pipes = {n: InterleavedPipeline(deployed_copy(teacher), deployed_copy(v.student or student), v.schedule,
                                    tracker_cfg, decode_cfg, v.cfg)
             for n, v in variants.items()}
    results = {n: {} for n in names}
    timelines = {n: {} for n in names}
    seconds = dict.fromkeys(names, 0.0)
    for i, seq in enumerate(sequences):
        for n in names[i % len(names):] + names[: i % len(names)]:
            variants[n].schedule.begin(seq)
            results[n][seq.name] = pipes[n].run(seq.frames, desc=f"{n} {seq.name}")
            timelines[n][seq.name] = pipes[n].timeline
            seconds[n] += pipes[n].seconds
    gt = {s.name: s.gt for s in sequences}
    lengths = {s.name: s.num_frames for s in sequences}
    frames = sum(lengths.values())
    reports, rows = {}, []
    for n in names:
        reports[n] = evaluate_mot(gt, results[n], seq_lengths=lengths)
        calls = int(sum(t.sum() for t in timelines[n].values()))
        comb = reports[n].combined
        rows.append({"variant": n, "HOTA": float(comb["HOTA"]), "IDF1": float(comb["IDF1"]),
                     "MOTA": float(comb["MOTA"]), "fps": frames / seconds[n], "teacher_calls": calls,
                     "teacher_fraction": calls / frames, "frames": frames, "seconds": seconds[n]})
    return SweepResult(pd.DataFrame(rows).set_index("variant"), reports, timelines, results)


def frontier_gain(table: pd.DataFrame, variant: str, fixed: list[str], metric: str = "HOTA") -> float:
    """``metric`` of ``variant`` minus the fixed schedules' frontier at the same number of teacher calls.

    The frontier is the piecewise-linear interpolation of the ``fixed`` rows' ``metric`` against
    their ``teacher_calls`` (OUR CHOICE: what "beats the fixed schedule at the same number of
    teacher calls" means when no fixed ``k`` spends exactly the variant's calls). A variant outside
    the fixed rows' range of calls raises, rather than extrapolating.

    Args:
        table: :attr:`SweepResult.table` (or any frame with ``teacher_calls`` and ``metric`` columns).
        variant: the row to compare, e.g. ``"adaptive"``.
        fixed: rows of fixed schedules, e.g. ``["k=2", "k=4", "k=8"]``.
    """
    missing = [n for n in [variant, *fixed] if n not in table.index]
    if missing or len(fixed) < 2:
        raise ValueError(f"frontier_gain: need the variant and >= 2 fixed rows in the table; missing {missing}, "
                         f"fixed = {fixed}")
    pts = table.loc[fixed, ["teacher_calls", metric]].astype(float).sort_values("teacher_calls")
    calls = float(table.loc[variant, "teacher_calls"])
    lo, hi = pts["teacher_calls"].iloc[0], pts["teacher_calls"].iloc[-1]
    if not lo <= calls <= hi:
        raise ValueError(f"frontier_gain: {variant!r} made {calls:g} teacher calls, outside the fixed rows' "
                         f"range [{lo:g}, {hi:g}]; add a fixed schedule that brackets it")
    return float(table.loc[variant, metric]) - float(np.interp(calls, pts["teacher_calls"], pts[metric]))


def gt_events(sequence: MOTSequence, min_visibility: float = 0.5) -> np.ndarray:
    """Frames (1-based, >= 2) on which the set of ground-truth objects visible at ``min_visibility``
    or more differs from the previous frame's: an object enters or leaves, becomes occluded or
    reappears. The events an :class:`~kdtrack_lite.track.oracles.EventSchedule` oracle calls
    the teacher on (analysis only: a deployed tracker has no ground truth).
    """
    if not 0.0 <= min_visibility <= 1.0:
        raise ValueError(f"gt_events: min_visibility must be in [0, 1], got {min_visibility}")
    gt = sequence.gt[sequence.gt[:, 8] >= min_visibility]
    visible = [set() for _ in range(sequence.num_frames + 1)]
    for f, i in gt[:, :2].astype(np.int64):
        visible[f].add(int(i))
    return np.array([t for t in range(2, sequence.num_frames + 1) if visible[t] != visible[t - 1]], np.int64)


def oracle_schedules(budget: float = 0.25) -> dict[str, Schedule]:
    """Three ground-truth oracles, with the adaptive schedule's budget
    and gaps (ANALYSIS ONLY): ``"oracle events"`` (:class:`~kdtrack_lite.track.oracles.EventSchedule`
    on :func:`gt_events`), ``"oracle events +1"`` (the same one frame later) and ``"oracle errors"``
    (:class:`~kdtrack_lite.track.oracles.ErrorOracleSchedule`)."""
    return {"oracle events": EventSchedule(gt_events, AdaptiveConfig(budget=budget)),
            "oracle events +1": EventSchedule(gt_events, AdaptiveConfig(budget=budget), lag=1),
            "oracle errors": ErrorOracleSchedule(AdaptiveConfig(budget=budget))}


def errors_by_gap(sequences: list[MOTSequence], results: dict[str, np.ndarray], timelines: dict[str, np.ndarray],
                  iou: float = 0.5) -> pd.DataFrame:
    """Errors per frame against the frames since the last teacher call (0 = a teacher frame).

    Counts :class:`~kdtrack_lite.track.oracles.GroundTruthErrors` (misses + false tracks, id
    changes) on every frame of one variant's run -- ``results`` and ``timelines`` are one entry
    of :attr:`SweepResult.results` / :attr:`SweepResult.timelines` -- and averages them by gap.
    If the errors grow with the gap, and faster than linearly, evenly spaced teacher calls leave
    the fewest errors for a given number of calls (OUR READING).

    Returns:
        a frame indexed by ``gap`` with ``frames``, ``errors`` (misses + false tracks per frame)
        and ``id_changes`` (per frame). Frames before the first teacher call are left out.
    """
    rows = []
    for seq in sequences:
        count = GroundTruthErrors(seq.gt, iou)
        res = np.asarray(results[seq.name], np.float64).reshape(-1, 10)
        last = None
        for t, teacher in enumerate(np.asarray(timelines[seq.name], bool), start=1):
            r = res[res[:, 0] == t]
            tracks = np.concatenate([tlwh_to_xyxy(r[:, 2:6]), r[:, 1:2], r[:, 6:7]], axis=1)
            errors, changes = count(t, tracks)
            last = t if teacher else last
            if last is not None:
                rows.append((t - last, errors, changes))
    if not rows:
        raise ValueError("errors_by_gap: no frame at or after a teacher call (a student-only run?)")
    df = pd.DataFrame(rows, columns=["gap", "errors", "id_changes"])
    out = df.groupby("gap").agg(frames=("errors", "size"), errors=("errors", "mean"), id_changes=("id_changes", "mean"))
    return out
