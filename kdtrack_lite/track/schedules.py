"""Which model runs on which frame: fixed and adaptive teacher/student schedules (AttTrack).

PAPER FACT (AttTrack, DESIGN.md §1.1): at inference time the execution of the complex teacher and
the lightweight student is *interleaved*. The papers' abstracts give no schedule; the two below are
OUR DESIGN CHOICES:

* :class:`FixedSchedule` -- the teacher on every ``k``-th frame (frames 1, k + 1, 2k + 1, ...),
  the student on the others; ``k = 1`` is teacher-only, ``k = 0`` student-only.
* :class:`AdaptiveSchedule` -- the teacher is called when the student's *confidence* (absolute,
  or relative to its confidence on the first student frame after the last teacher call) or the
  tracks' *consistency* (see :class:`FrameSignals`) of the last frame falls below a threshold, or
  when ``max_gap`` frames have passed, under a **budget**: a token bucket that allows at most
  ``1 + budget * (t - 1)`` teacher calls up to frame ``t``. A fixed schedule with ``k = 1 / budget``
  spends exactly that many calls, so both can be compared at the same number of teacher calls;
  the adaptive one may save calls in easy stretches and spend them in hard ones.

A schedule decides *before* a frame is processed (the model to run must be chosen first), from the
signals of the previous frame. Interface: ``reset()``, ``use_teacher(frame_idx, last) -> bool``,
``calls`` (teacher calls so far), and ``begin(sequence)``, which
:func:`~kdtrack_lite.eval.interleaved.evaluate_variants` calls before each sequence (a no-op except
for the two oracles below, which read its ground truth).

:class:`EventSchedule` is an ANALYSIS TOOL, not a deployable schedule: with events read off the
ground truth (:func:`~kdtrack_lite.eval.interleaved.gt_events`) it calls the teacher exactly when
the set of visible objects changes, under the adaptive schedule's budget -- an oracle that measures
how much room any event-triggered schedule has over the fixed one. :class:`ErrorOracleSchedule`
is the other oracle: it calls the teacher when the last frame's output, compared with the ground
truth, got worse than on the last teacher frame -- the perfect version of what the confidence and
consistency signals try to detect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..boxes import tlwh_to_xyxy
from ..config import Config
from .association import iou_cost, linear_assignment


@dataclass(frozen=True)
class FrameSignals:
    """What the interleaved pipeline measured on one frame (all in [0, 1]).

    Attributes:
        frame: 1-based frame index.
        teacher: whether the teacher ran on it.
        confidence: mean detection score of the tracks output on this frame (0 when tracks
            existed but none was matched, 1 when there was nothing to track).
        consistency: fraction of the tracks output on the last teacher frame that are still output
            on this frame (1 when the teacher saw none).
        unclaimed: detections (score >= the tracker's ``low_score``) that no existing track took
            on this frame -- objects that may be new, which a weak student sees but cannot
            confirm (a count, not a fraction).
        overlap: largest IoU between two confirmed tracks predicted one frame ahead
            (:meth:`~kdtrack_lite.track.mot_tracker.MOTTracker.predicted_overlap`): an occlusion
            *about to happen*, where the other signals report one that has happened. Computed
            only for a schedule whose ``needs_overlap`` is true (0 otherwise).
        tracks: the ``(M, 6)`` ``[x1, y1, x2, y2, id, score]`` output of this frame (after
            coasting: what an evaluator scores), or ``None``; read by :class:`ErrorOracleSchedule`.
    """

    frame: int
    teacher: bool
    confidence: float
    consistency: float
    unclaimed: int = 0
    overlap: float = 0.0
    tracks: np.ndarray | None = field(default=None, repr=False, compare=False)


class Schedule:
    """Base: counts teacher calls; subclasses implement :meth:`_decide`."""

    name = "schedule"
    needs_overlap = False  # whether the pipeline must compute FrameSignals.overlap

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Start a new sequence."""
        self.calls = 0
        self.last_call = 0  # frame of the last teacher call (0: none yet)

    def begin(self, sequence: Any) -> None:
        """Called with the sequence about to be tracked (before :meth:`reset`); a no-op here."""

    def use_teacher(self, frame_idx: int, last: FrameSignals | None) -> bool:
        """Whether the teacher runs on ``frame_idx`` (1-based), given the previous frame's signals."""
        if frame_idx < 1:
            raise ValueError(f"{type(self).__name__}.use_teacher: frame_idx is 1-based, got {frame_idx}")
        decision = bool(self._decide(frame_idx, last))
        if decision:
            self.calls += 1
            self.last_call = frame_idx
        return decision

    def _decide(self, frame_idx: int, last: FrameSignals | None) -> bool:  # pragma: no cover
        raise NotImplementedError


class FixedSchedule(Schedule):
    """Teacher on frames ``1, k + 1, 2k + 1, ...``; ``k = 1``: teacher only; ``k = 0``: student only."""

    def __init__(self, k: int):
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"FixedSchedule: k must be an int >= 0 (0 = student only), got {k!r}")
        self.k = k
        self.name = "student only" if k == 0 else ("teacher only" if k == 1 else f"k={k}")
        super().__init__()

    def _decide(self, frame_idx: int, last: FrameSignals | None) -> bool:
        return self.k > 0 and (frame_idx - 1) % self.k == 0


@dataclass
class AdaptiveConfig(Config):
    """Triggers and budget of :class:`AdaptiveSchedule` (OUR DESIGN CHOICES; thresholds chosen on
    validation scenes with ``benchmarks/adaptive_val.py``, see notebook 07).

    Attributes:
        budget: average teacher calls per frame; at most ``1 + budget * (t - 1)`` calls by frame
            ``t`` (0.25 spends what ``FixedSchedule(4)`` spends).
        min_confidence: call the teacher when the last frame's confidence is below this.
        min_confidence_ratio: ... or below this fraction of the *reference* confidence (the
            student's confidence on the first student frame after the last teacher call): a drop
            relative to the student's own level, whatever that level is.
        min_consistency: call the teacher when the last frame's consistency is below this.
        min_gap: frames between two teacher calls at least (1: consecutive calls allowed).
        max_gap: call the teacher when this many frames have passed since the last call (if the
            budget allows), so new objects are picked up even when the signals look fine. With
            ``max_gap = 1 / budget`` the schedule is the fixed one in calm stretches and calls
            earlier when a signal drops; an early call spends a token that a later gap pays back.
        max_unclaimed: call the teacher when a student frame leaves at least this many detections
            unclaimed by any track (possible new objects); ``None`` (default) ignores the signal.
        max_overlap: call the teacher when two confirmed tracks, predicted one frame ahead,
            overlap with at least this IoU (a forward-looking trigger: tracks about to cross,
            where student frames, which associate without appearance, may swap ids); ``None``
            (default) ignores the signal, since on validation scenes no threshold improved the schedule.
    """

    budget: float = 0.25
    min_confidence: float = 0.2
    min_confidence_ratio: float = 0.8
    min_consistency: float = 0.9
    min_gap: int = 2
    max_gap: int = 8
    max_unclaimed: int | None = None
    max_overlap: float | None = None
    FAST: ClassVar[dict] = {}

    def __post_init__(self):
        if not 0.0 <= self.budget <= 1.0:
            raise ValueError(f"AdaptiveConfig.budget: expected a fraction in [0, 1], got {self.budget}")
        if self.max_unclaimed is not None and self.max_unclaimed < 1:
            raise ValueError(f"AdaptiveConfig.max_unclaimed: expected None or a count >= 1, got {self.max_unclaimed}")
        if self.max_overlap is not None and not 0.0 < self.max_overlap <= 1.0:
            raise ValueError(f"AdaptiveConfig.max_overlap: expected None or an IoU in (0, 1], got {self.max_overlap}")
        if self.min_gap < 1 or self.max_gap < self.min_gap:
            raise ValueError(f"AdaptiveConfig: need 1 <= min_gap <= max_gap, got {self.min_gap}, {self.max_gap}")


class AdaptiveSchedule(Schedule):
    """Teacher when confidence or consistency drops (or ``max_gap`` passed), within the budget.

    Frame 1 always gets the teacher (the bucket holds one call at the start), so tracks start
    from teacher detections, as with :class:`FixedSchedule`.
    """

    name = "adaptive"

    def __init__(self, cfg: AdaptiveConfig | None = None):
        self.cfg = cfg or AdaptiveConfig()
        super().__init__()

    @property
    def needs_overlap(self) -> bool:
        return self.cfg.max_overlap is not None

    def reset(self) -> None:
        super().reset()
        self.reference = None  # student confidence on the first student frame after a teacher call

    def budget_left(self, frame_idx: int) -> float:
        """Teacher calls the bucket still allows on ``frame_idx``: ``1 + budget (t - 1) - calls``."""
        return 1.0 + self.cfg.budget * (frame_idx - 1) - self.calls

    def _decide(self, frame_idx: int, last: FrameSignals | None) -> bool:
        c = self.cfg
        if last is not None and not last.teacher and last.frame == self.last_call + 1:
            self.reference = last.confidence
        if self.budget_left(frame_idx) < 1.0 - 1e-9:
            return False
        if self.last_call == 0:
            return True
        gap = frame_idx - self.last_call
        if gap < c.min_gap:
            return False
        if gap >= c.max_gap or last is None:
            return True
        return self._triggered(frame_idx, last)

    def _triggered(self, frame_idx: int, last: FrameSignals) -> bool:
        """Whether a signal of the last frame asks for the teacher (budget and gaps already allow it)."""
        c = self.cfg
        low = last.confidence < c.min_confidence or last.consistency < c.min_consistency
        if c.max_unclaimed is not None and not last.teacher:
            low = low or last.unclaimed >= c.max_unclaimed
        if c.max_overlap is not None:
            low = low or last.overlap >= c.max_overlap
        if self.reference is not None and not last.teacher:
            low = low or last.confidence < c.min_confidence_ratio * self.reference
        return low


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
