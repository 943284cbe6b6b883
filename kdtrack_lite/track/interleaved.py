"""Interleaved teacher/student inference with the teacher's predictions as the student's prior.

PAPER FACTS (AttTrack): teacher (complex) and student (lightweight) are run
*interleaved* at inference time, and the teacher's updated predictions are given to the student as
*prior knowledge*.

OUR DESIGN CHOICES:

* One :class:`~kdtrack_lite.track.mot_tracker.MOTTracker` serves both models, so track ids survive
  every switch; a :mod:`schedule <kdtrack_lite.track.schedules>` picks the model of each frame.
* The prior is CenterTrack's prior heatmap (a Gaussian per object of the *previous* frame, the
  frame the detector also gets as ``prev_image``). On a student frame ``t`` with
  ``prior_source="teacher"`` it is rendered from the tracks the teacher output on its last frame
  ``t0`` (score >= ``prior_min_score``), moved to frame ``t - 1`` by ``t - 1 - t0`` Kalman
  predictions (the tracker's constant-velocity motion model):
  ``x_{t-1} = F^{t-1-t0} x_{t0}``. ``prior_source="own"`` renders the tracker's last output
  instead (the student's own previous predictions, plain CenterTrack); teacher frames always get
  the tracker's last output.
* The two models' appearance embeddings live in different spaces, so only one model's embeddings
  reach the tracker (``embeddings="teacher"``: student frames associate by motion, IoU and tracking
  offsets alone).
* Once the teacher has run, student frames start no tracks and remove no tentative track: the
  teacher's new tracks wait for its next frame to be confirmed, new objects wait for the teacher
  (:class:`InterleavedConfig` ``student_births`` / ``student_keeps_tentative``; a separate
  student ``high_score`` is available). Teacher tracks the student missed are output at their
  Kalman prediction for ``coast`` frames after the teacher's call.
* Throughput is the wall time of the whole loop (frame conversion, prior rendering, both detectors,
  decoding, association), never the detectors alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from ..boxes import cxcywh_to_xyxy
from ..config import Config
from ..data.heatmap import render_heatmap
from ..models.centertrack import DecodeConfig
from ..runtime import progress
from .kalman import BoxKalmanFilter
from .mot_tracker import MOTTracker, TrackerConfig
from .pipeline import detect_frame, frame_to_tensor
from .schedules import FrameSignals, Schedule

PRIOR_SOURCES = ("teacher", "own", "none")
EMBEDDING_SOURCES = ("teacher", "student", "both", "none")


@dataclass
class InterleavedConfig(Config):
    """How the student is fed (OUR DESIGN CHOICES).

    Attributes:
        prior_source: the student's prior: ``"teacher"`` (teacher's last tracks, propagated),
            ``"own"`` (tracker's last output) or ``"none"`` (no prior stem input).
        propagate: move the teacher's tracks with the Kalman model to the previous frame
            (``False``: render them where the teacher saw them).
        embeddings: which model's appearance embeddings reach the tracker (see module docstring).
        student_high_score: on a student frame after the teacher's first call, the tracker's
            ``high_score`` (stage 1 and tentative matches) is this instead (``None``: unchanged).
            The two detectors' scores are calibrated differently (the shipped student rarely puts
            a peak above the tracker's 0.5), so a lower value lets the student's detections
            confirm the teacher's new tracks; ``student_keeps_tentative`` fixes the same failure,
            so the default leaves the threshold alone.
        student_births: whether student frames after the teacher's first call may start tracks
            (off: new objects wait for the next teacher frame, which keeps the student's false
            positives from starting tracks). Before the teacher's first call
            (and so with a schedule that never calls it, "student only") the tracker runs with
            its own thresholds and the student starts tracks as usual.
        student_keeps_tentative: student frames remove no tentative track (a track the teacher
            started and the student did not match waits for the next teacher frame, which
            confirms or removes it; ``TrackerConfig.tentative_max_age``). Without it, an object
            the student does not see is never confirmed, however often the teacher sees it.
        coast: on a student frame at most ``coast`` frames after the teacher's last call, output
            the teacher's tracks (those rendered into its prior) that the student did not
            detect, at their Kalman prediction (``0``: off; 3 covers every student frame at
            k = 4), so an object the student misses is not dropped between teacher calls.
    """

    prior_source: str = "teacher"
    propagate: bool = True
    embeddings: str = "teacher"
    student_high_score: float | None = None
    student_births: bool = False
    student_keeps_tentative: bool = True
    coast: int = 3
    FAST: ClassVar[dict] = {}

    def __post_init__(self):
        if self.prior_source not in PRIOR_SOURCES:
            raise ValueError(f"InterleavedConfig.prior_source: expected one of {PRIOR_SOURCES}, got {self.prior_source!r}")
        if self.embeddings not in EMBEDDING_SOURCES:
            raise ValueError(f"InterleavedConfig.embeddings: expected one of {EMBEDDING_SOURCES}, got {self.embeddings!r}")
        if self.student_high_score is not None and not 0.0 <= self.student_high_score <= 1.0:
            raise ValueError(f"InterleavedConfig.student_high_score: expected a score in [0, 1] or None, "
                             f"got {self.student_high_score}")
        if self.coast < 0:
            raise ValueError(f"InterleavedConfig.coast: expected frames >= 0, got {self.coast}")


def student_tracker_config(tracker_cfg: TrackerConfig, cfg: InterleavedConfig) -> TrackerConfig:
    """The tracker thresholds of student frames once the teacher has run (see
    :class:`InterleavedConfig`): ``high_score`` from ``cfg.student_high_score`` and, without
    ``cfg.student_births``, no track births (``new_track_score`` above any score); with
    ``cfg.student_keeps_tentative``, no tentative track removed."""
    changes = {}
    if cfg.student_high_score is not None:
        if cfg.student_high_score < tracker_cfg.low_score:
            raise ValueError(f"InterleavedConfig.student_high_score={cfg.student_high_score} is below the tracker's "
                             f"low_score={tracker_cfg.low_score}; the two stages would overlap")
        changes["high_score"] = cfg.student_high_score
    if not cfg.student_births:
        changes["new_track_score"] = math.inf
    if cfg.student_keeps_tentative:
        changes["tentative_max_age"] = 2**31 - 1
    return replace(tracker_cfg, **changes)


class TeacherFrame(NamedTuple):
    """The teacher's output tracks on its last frame, as Kalman states (the student's prior)."""

    frame: int  # 1-based frame index t0
    ids: np.ndarray  # (M,) track ids
    means: np.ndarray  # (M, 8) cx, cy, w, h and their velocities
    covs: np.ndarray  # (M, 8, 8)


def propagate_states(kf: BoxKalmanFilter, means: np.ndarray, covs: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``steps`` Kalman predictions to ``means (M, 8)``, ``covs (M, 8, 8)`` (copies returned)."""
    if steps < 0:
        raise ValueError(f"propagate_states: steps must be >= 0, got {steps}")
    means, covs = np.array(means, np.float64), np.array(covs, np.float64)
    for _ in range(steps if len(means) else 0):
        means, covs = kf.predict(means, covs)
    return means, covs


def prior_from_states(means: np.ndarray, height: int, width: int) -> np.ndarray:
    """CenterTrack prior ``(height, width)`` float32 from Kalman states ``(M, 8)`` (``cx, cy, w, h, ...``)."""
    return render_heatmap(cxcywh_to_xyxy(np.asarray(means, np.float64).reshape(-1, 8)[:, :4]), height, width, stride=1)


class InterleavedPipeline:
    """Teacher and student detectors sharing one tracker; ``step(frame) -> (M, 6)`` tracks.

    Args:
        teacher, student: CenterTrack detectors on the same device (set to eval mode).
        schedule: a :class:`~kdtrack_lite.track.schedules.Schedule` (reset with the pipeline).
        tracker_cfg, decode_cfg: as in :class:`~kdtrack_lite.track.pipeline.MOTPipeline`.
        cfg: :class:`InterleavedConfig`.

    After :meth:`run`: ``timeline`` ``(T,)`` bool (True = teacher ran), ``signals`` (one
    :class:`FrameSignals` per frame) and ``seconds`` (wall time of the whole loop).
    """

    def __init__(self, teacher: nn.Module, student: nn.Module, schedule: Schedule,
                 tracker_cfg: TrackerConfig | None = None, decode_cfg: DecodeConfig | None = None,
                 cfg: InterleavedConfig | None = None):
        self.teacher, self.student = teacher.eval(), student.eval()
        self.device = next(teacher.parameters()).device
        if next(student.parameters()).device != self.device:
            raise ValueError(f"InterleavedPipeline: teacher on {self.device} but student on "
                             f"{next(student.parameters()).device}; put both on one device")
        self.schedule = schedule
        self.tracker = MOTTracker(tracker_cfg)
        self.decode_cfg = decode_cfg or DecodeConfig()
        self.cfg = cfg or InterleavedConfig()
        # teacher frames, and every frame before the teacher's first call, use the tracker's own
        # thresholds; student frames after it use student_tracker_cfg
        self.tracker_cfg = self.tracker.cfg
        self.student_tracker_cfg = student_tracker_config(self.tracker_cfg, self.cfg)
        self.reset()

    def reset(self) -> None:
        """Start a new sequence: tracker ids restart at 1, the schedule forgets its calls."""
        self.tracker.reset()
        self.tracker.cfg = self.tracker_cfg  # step() switches it on student frames
        self.schedule.reset()
        self._prev = None
        self._teacher_frame: TeacherFrame | None = None
        self.signals: list[FrameSignals] = []
        self.seconds = 0.0

    @property
    def timeline(self) -> np.ndarray:
        """``(T,)`` bool: True where the teacher ran."""
        return np.array([s.teacher for s in self.signals], bool)

    @property
    def teacher_state(self) -> TeacherFrame | None:
        """``(t0, ids (M,), means (M, 8), covs (M, 8, 8))`` of the teacher's last frame, or ``None``."""
        return self._teacher_frame

    def teacher_prior(self, frame_idx: int, height: int, width: int) -> np.ndarray:
        """Prior ``(height, width)`` for frame ``frame_idx``: the teacher's last tracks moved to
        frame ``frame_idx - 1`` (or left where they were, ``cfg.propagate=False``)."""
        last = self._teacher_frame
        means = last.means
        if self.cfg.propagate:
            means, _ = propagate_states(self.tracker.kf, last.means, last.covs, frame_idx - 1 - last.frame)
        return prior_from_states(means, height, width)

    def _prior(self, frame_idx: int, use_teacher: bool, h: int, w: int) -> torch.Tensor | None:
        if self._prev is None:
            hm = np.zeros((h, w), np.float32)  # first frame: empty prior (CenterTrack)
        elif not use_teacher and self.cfg.prior_source == "none":
            return None
        elif not use_teacher and self.cfg.prior_source == "teacher" and self._teacher_frame is not None:
            hm = self.teacher_prior(frame_idx, h, w)
        else:
            hm = self.tracker.prior_heatmap(h, w)
        return torch.from_numpy(hm).to(self.device)[None, None]

    @torch.no_grad()
    def step(self, frame: np.ndarray) -> np.ndarray:
        """Track one ``(H, W, 3)`` uint8 RGB frame; returns ``(M, 6)`` ``[x1, y1, x2, y2, id, score]``."""
        t = self.tracker.frame_count + 1
        use_teacher = self.schedule.use_teacher(t, self.signals[-1] if self.signals else None)
        image = frame_to_tensor(frame, self.device)
        h, w = image.shape[-2:]
        prev = image if self._prev is None else self._prev
        prior = self._prior(t, use_teacher, h, w)
        model = self.teacher if use_teacher else self.student
        dets, embs, offsets = detect_frame(model, image, prev, prior, self.decode_cfg)
        src = self.cfg.embeddings
        keep_embs = src == "both" or src == ("teacher" if use_teacher else "student")
        last = self._teacher_frame
        student_after_teacher = not use_teacher and last is not None
        self.tracker.cfg = self.student_tracker_cfg if student_after_teacher else self.tracker_cfg
        out = self.tracker.update(dets, frame, embs if keep_embs else None, tracking_offsets=offsets)
        self._prev = image
        own = out  # the model's own output: the signals are measured on it, before coasting
        if student_after_teacher and self.cfg.coast and t - last.frame <= self.cfg.coast:
            out = self.tracker.coast(last.ids)  # changes the output, not the tracks
        self.signals.append(self._signals(t, use_teacher, own, out))
        if use_teacher:
            self._teacher_frame = TeacherFrame(t, *self.tracker.output_states(self.tracker.cfg.prior_min_score))
        return out

    def _signals(self, t: int, use_teacher: bool, out: np.ndarray, final: np.ndarray) -> FrameSignals:
        live = any(tr.track_id > 0 for tr in self.tracker.tracks)
        confidence = float(out[:, 5].mean()) if len(out) else (0.0 if live else 1.0)
        consistency = 1.0
        last = self._teacher_frame
        if last is not None and len(last.ids):
            seen = set(out[:, 4].astype(np.int64).tolist())
            consistency = sum(int(i) in seen for i in last.ids) / len(last.ids)
        overlap = self.tracker.predicted_overlap() if self.schedule.needs_overlap else 0.0
        return FrameSignals(frame=t, teacher=use_teacher, confidence=confidence, consistency=consistency,
                            unclaimed=self.tracker.unclaimed, overlap=overlap, tracks=final)

    def run(self, frames: Iterable[np.ndarray], desc: str = "interleaved") -> np.ndarray:
        """Track a whole sequence; returns MOTChallenge rows ``(N, 10)``; sets ``seconds``."""
        self.reset()
        rows = []
        start = time.perf_counter()
        for i, frame in enumerate(progress(frames, desc=desc), start=1):
            self.step(frame)
            rows.append(self.tracker.results_rows(i))
        self.seconds = time.perf_counter() - start
        return np.concatenate(rows) if rows else np.zeros((0, 10))
