"""Ground-truth oracles of the interleaved schedules: ANALYSIS TOOLS, not deployable schedules.

A deployed tracker has no ground truth; these schedules read it to measure how much room a better
trigger has over the deployable schedules of :mod:`kdtrack_lite.track.schedules`, under the same
budget and gaps as :class:`~kdtrack_lite.track.schedules.AdaptiveSchedule`:

* :class:`EventSchedule`: with events read off the ground truth
  (:func:`~kdtrack_lite.eval.interleaved.gt_events`) it calls the teacher exactly when the set of
  visible objects changes -- the room any event-triggered schedule has over the fixed one;
* :class:`ErrorOracleSchedule`: it calls the teacher when the last frame's output, compared with the
  ground truth (:class:`GroundTruthErrors`), got worse than on the last teacher frame -- the perfect
  version of what the confidence and consistency signals try to detect.

Both read the sequence in ``begin(sequence)``, which
:func:`~kdtrack_lite.eval.interleaved.evaluate_variants` calls before each sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..boxes import tlwh_to_xyxy
from .association import iou_cost, linear_assignment
from .schedules import AdaptiveConfig, AdaptiveSchedule, FrameSignals


class EventSchedule(AdaptiveSchedule):
    """ANALYSIS TOOL: the teacher on given event frames, within :class:`AdaptiveSchedule`'s budget.

    The budget, ``min_gap`` and ``max_gap`` rules are the adaptive schedule's; the confidence and
    consistency triggers are replaced by a set of frames, ``events_fn(sequence)`` shifted by
    ``lag`` (set by :meth:`begin` for each sequence). With
    :func:`~kdtrack_lite.eval.interleaved.gt_events` it is an oracle: ``lag = 0`` calls the
    teacher on the very frame the set of visible objects changes, ``lag = 1`` one frame later
    (what a perfect detector of the change *from the last frame's output* could do at best -- the
    deployable signals look back one frame). No deployed tracker has the ground truth; the
    schedule measures the room a better trigger could win.

    Args:
        events_fn: ``sequence -> iterable of 1-based frames``.
        cfg: budget and gaps (thresholds other than those are unused).
        lag: frames added to every event.
    """

    name = "events"
    needs_overlap = False

    def __init__(self, events_fn: Callable[[Any], Iterable[int]], cfg: AdaptiveConfig | None = None, lag: int = 0):
        if lag < 0:
            raise ValueError(f"EventSchedule: lag must be >= 0 frames, got {lag}")
        self.events_fn, self.lag, self.events = events_fn, lag, frozenset()
        super().__init__(cfg)

    def begin(self, sequence: Any) -> None:
        self.events = frozenset(int(f) + self.lag for f in self.events_fn(sequence))

    def _triggered(self, frame_idx: int, last: FrameSignals) -> bool:
        return frame_idx in self.events


class GroundTruthErrors:
    """Per-frame errors of a tracker's output against ground truth (an analysis tool).

    For one 1-based frame, the output tracks ``(M, 6)`` ``[x1, y1, x2, y2, id, score]`` are matched
    one-to-one to the frame's ground-truth boxes (rows with ``conf != 0``) at IoU >= ``iou``;
    the errors are *misses + false tracks* and *id changes* (an object matched to another track id
    than the last time it was matched; call the frames in order, :meth:`reset` per sequence).

    Args:
        gt: ``(N, >=6)`` MOTChallenge rows ``frame, id, left, top, w, h[, conf, ...]``.
        iou: IoU a track needs to match an object (MOTChallenge: 0.5).
    """

    def __init__(self, gt: np.ndarray, iou: float = 0.5):
        if not 0.0 < iou <= 1.0:
            raise ValueError(f"GroundTruthErrors: iou must be in (0, 1], got {iou}")
        gt = np.asarray(gt, np.float64)
        if gt.ndim != 2 or gt.shape[1] < 6:
            raise ValueError(f"GroundTruthErrors: gt must be (N, >=6) MOTChallenge rows, got shape {gt.shape}")
        gt = gt[gt[:, 6] != 0] if gt.shape[1] >= 7 else gt
        self.iou = iou
        self.by_frame = {int(f): gt[gt[:, 0] == f] for f in np.unique(gt[:, 0])}
        self.reset()

    def reset(self) -> None:
        self.matched_id: dict[int, int] = {}  # object id -> track id it was last matched to

    def __call__(self, frame: int, tracks: np.ndarray | None) -> tuple[int, int]:
        """``(misses + false tracks, id changes)`` on ``frame``."""
        gt = self.by_frame.get(int(frame), np.zeros((0, 6)))
        tracks = np.zeros((0, 6)) if tracks is None else np.asarray(tracks, np.float64).reshape(-1, 6)
        matches, _, _ = linear_assignment(iou_cost(tlwh_to_xyxy(gt[:, 2:6]), tracks[:, :4]), 1.0 - self.iou)
        changes = 0
        for g, r in matches:
            obj, tid = int(gt[g, 1]), int(tracks[r, 4])
            changes += self.matched_id.get(obj, tid) != tid
            self.matched_id[obj] = tid
        return len(gt) + len(tracks) - 2 * len(matches), changes


class ErrorOracleSchedule(AdaptiveSchedule):
    """ANALYSIS TOOL: the teacher when the last frame's output has more errors than the last
    teacher frame's, within :class:`AdaptiveSchedule`'s budget and gaps.

    Errors of a frame: :class:`GroundTruthErrors` (missed objects + false tracks, and id changes,
    at IoU >= ``iou``). The schedule calls the teacher on frame ``t`` when frame ``t - 1`` was a
    student frame with an id change or with more misses + false tracks than the last teacher frame
    had plus ``margin``: a perfect detector of "the student is doing worse than the teacher did".
    No deployed tracker has the ground truth; the schedule measures the room a better
    backward-looking signal could win.

    Args:
        cfg: budget and gaps (the signal thresholds are unused).
        iou: IoU a track needs to count as matching an object (MOTChallenge: 0.5).
        margin: extra misses + false tracks tolerated before calling the teacher.
    """

    name = "error oracle"
    needs_overlap = False

    def __init__(self, cfg: AdaptiveConfig | None = None, iou: float = 0.5, margin: int = 0):
        if not 0.0 < iou <= 1.0 or margin < 0:
            raise ValueError(f"ErrorOracleSchedule: need 0 < iou <= 1 and margin >= 0, got {iou}, {margin}")
        self.iou, self.margin, self.errors = iou, margin, None
        super().__init__(cfg)

    def begin(self, sequence: Any) -> None:
        self.errors = GroundTruthErrors(sequence.gt, self.iou)

    def reset(self) -> None:
        super().reset()
        if self.errors is not None:
            self.errors.reset()
        self.teacher_errors = 0
        self._last_bad = False

    def _decide(self, frame_idx: int, last: FrameSignals | None) -> bool:
        if self.errors is None:
            raise RuntimeError("ErrorOracleSchedule: begin(sequence) was not called; it needs the ground truth")
        self._last_bad = False
        if last is not None:
            errors, changes = self.errors(last.frame, last.tracks)
            if last.teacher:
                self.teacher_errors = errors
            else:
                self._last_bad = changes > 0 or errors > self.teacher_errors + self.margin
        return super()._decide(frame_idx, last)

    def _triggered(self, frame_idx: int, last: FrameSignals) -> bool:
        return self._last_bad
