"""Which model runs on which frame: fixed and adaptive teacher/student schedules (AttTrack).

PAPER FACT (AttTrack): at inference time the execution of the complex teacher and
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
:func:`~kdtrack_lite.eval.interleaved.evaluate_variants` calls before each sequence (a no-op here;
the ground-truth oracles of :mod:`kdtrack_lite.track.oracles` read the sequence's ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..config import Config


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
            coasting: what an evaluator scores), or ``None``; read by
            :class:`~kdtrack_lite.track.oracles.ErrorOracleSchedule`.
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
