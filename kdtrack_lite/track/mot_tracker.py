"""ByteTrack-style multi-object tracker: Kalman motion + two-stage association.

PAPER FACTS (ByteTrack, Zhang et al. 2022): associate *every* detection box, not only the
confident ones — first the high-score detections with the tracks, then the low-score detections
with the tracks left unmatched (IoU only, since low-score boxes are often occluded and their
appearance unreliable); unmatched high-score detections start new tracks; unmatched tracks are
kept as *lost* for a buffer of frames before they are removed. Motion: Kalman filter (SORT).

OUR DESIGN CHOICES: stage 1 fuses IoU with an appearance cost when embeddings are given
(DeepSORT/FairMOT idea, see :mod:`kdtrack_lite.track.association`); when the detector gives
CenterTrack tracking offsets (previous minus current centre), the IoU of a pair is the larger of
IoU(Kalman prediction, detection) and IoU(track's last box, detection moved back by its offset),
so either motion cue can carry a match (CenterTrack itself matches offset-moved centres
greedily); a new track is *tentative*
until ``min_hits`` matches in a row and only then receives an id, so ids are consecutive; on the
first frame tracks are confirmed at once (``confirm_on_first_frame``); ids come from a counter
owned by the tracker instance, starting at 1 (no global state; :meth:`MOTTracker.reset`).
The output box of a track is its Kalman-corrected state. Every threshold is a field of
:class:`TrackerConfig`.

Input/output: ``update(detections (N, 6) [x1, y1, x2, y2, score, class])``
returns ``(M, 6)`` ``[x1, y1, x2, y2, track_id, score]``; :meth:`MOTTracker.results_rows` gives
MOTChallenge rows ``frame, id, left, top, w, h, conf, -1, -1, -1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..boxes import cxcywh_to_xyxy, xyxy_to_cxcywh, xyxy_to_tlwh
from ..config import Config
from ..data.heatmap import render_heatmap
from .association import embedding_cost, fused_cost, iou_cost, linear_assignment
from .kalman import BoxKalmanFilter, KalmanConfig

TENTATIVE, CONFIRMED, LOST = "tentative", "confirmed", "lost"
REMOVED = "removed"  # marked during an update, dropped from the tracker at its end


@dataclass
class TrackerConfig(Config):
    """Thresholds of :class:`MOTTracker` (OUR DEFAULTS; matching thresholds are on costs).

    Attributes:
        high_score: detections with score >= this are "high" (stage 1, may start tracks).
        low_score: detections with ``low_score <= score < high_score`` are used in stage 2 only;
            lower ones are ignored.
        new_track_score: an unmatched high detection starts a track only above this score.
        match_thresh_first: largest fused cost accepted in stage 1 (high dets vs tracks).
        match_thresh_second: largest IoU cost accepted in stage 2 (low dets vs tracks).
        match_thresh_tentative: largest fused cost for tentative tracks vs leftover high dets.
        appearance_weight: ``w`` in ``(1 - w) iou_cost + w appearance_cost``.
        iou_gate: pairs with IoU below this are never matched in stage 1.
        max_age: frames a lost track is kept before removal (the track buffer).
        min_hits: matches before a tentative track is confirmed and gets an id (consecutive
            ones unless ``tentative_max_age`` lets it miss frames in between).
        tentative_max_age: frames a tentative track may go unmatched before it is removed
            (0: at its first miss, as ByteTrack does).
        confirm_on_first_frame: confirm every track started on the first frame at once.
        embedding_momentum: ``e <- m e + (1 - m) e_det`` smoothing of a track's embedding.
        use_tracking_offset: use the detector's tracking offsets when :meth:`MOTTracker.update`
            gets them.
        prior_min_score: tracks rendered into the CenterTrack prior heatmap need this score
            (0.5: CenterTrack's inference rule).
        kalman: motion-model noise.
    """

    # 0.3 / 0.35 (ByteTrack: 0.5 / 0.6): chosen for the shipped detectors on validation scenes
    # (benchmarks/tracker_default.py), whose heatmap peaks are rarely as confident as ByteTrack's YOLOX
    high_score: float = 0.3
    low_score: float = 0.1
    new_track_score: float = 0.35
    match_thresh_first: float = 0.8
    match_thresh_second: float = 0.5
    match_thresh_tentative: float = 0.7
    appearance_weight: float = 0.3
    iou_gate: float = 0.1
    max_age: int = 30
    min_hits: int = 2
    tentative_max_age: int = 0
    confirm_on_first_frame: bool = True
    embedding_momentum: float = 0.9
    use_tracking_offset: bool = True
    prior_min_score: float = 0.5
    kalman: KalmanConfig = field(default_factory=KalmanConfig)


class Track:
    """One track: Kalman state, id (0 while tentative), status and smoothed embedding."""

    def __init__(self, mean: np.ndarray, cov: np.ndarray, score: float, embedding: np.ndarray | None, frame: int):
        self.mean, self.cov = mean, cov  # (8,), (8, 8)
        self.track_id = 0
        self.state = TENTATIVE
        self.hits = 1
        self.time_since_update = 0
        self.score = score
        self.embedding = embedding
        self.start_frame = frame
        self.last_box_xyxy = self.box_xyxy  # box at the last match (for tracking offsets)

    @property
    def box_xyxy(self) -> np.ndarray:
        return cxcywh_to_xyxy(self.mean[:4])


class MOTTracker:
    """Two-stage (ByteTrack-style) tracker; see the module docstring.

    Args:
        cfg: :class:`TrackerConfig`.
    """

    def __init__(self, cfg: TrackerConfig | None = None):
        self.cfg = cfg or TrackerConfig()
        self.kf = BoxKalmanFilter(self.cfg.kalman)
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 and the frame counter at 0."""
        self.tracks: list[Track] = []
        self.frame_count = 0
        self._next_id = 1
        self._last_output = np.zeros((0, 6))
        self._offsets = None
        self.unclaimed = 0  # detections (score >= low_score) no confirmed/lost track took on the last update

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def update(self, detections: np.ndarray, frame: np.ndarray | None = None,
               embeddings: np.ndarray | None = None, tracking_offsets: np.ndarray | None = None) -> np.ndarray:
        """Advance one frame.

        Args:
            detections: ``(N, 6)`` ``[x1, y1, x2, y2, score, class]`` in pixels (``N`` may be 0).
            frame: the image (unused by this tracker; kept for the common interface).
            embeddings: ``(N, D)`` appearance embeddings of the detections, or ``None``.
            tracking_offsets: ``(N, 2)`` previous minus current centre in pixels (CenterTrack's
                tracking head), or ``None``.

        Returns:
            ``(M, 6)`` ``[x1, y1, x2, y2, track_id, score]`` of the confirmed tracks matched in
            this frame.

        Raises:
            ValueError: naming the row, for a detection or embedding with NaN/inf or a box with
                ``x2 < x1`` or ``y2 < y1``, or for tracking offsets not ``(N, 2)`` (the tracker
                state is left unchanged).
        """
        cfg = self.cfg
        dets, embs = _check_detections(detections, embeddings)
        self._offsets = _check_offsets(tracking_offsets, len(dets)) if cfg.use_tracking_offset else None
        self.frame_count += 1
        self._predict()
        scores = dets[:, 4]
        high_rows = np.flatnonzero(scores >= cfg.high_score)
        low_rows = np.flatnonzero((scores >= cfg.low_score) & (scores < cfg.high_score))

        # first association: high-score detections vs confirmed and lost tracks, IoU + appearance
        active = [t for t in self.tracks if t.state in (CONFIRMED, LOST)]
        n_first, unmatched_active, unmatched_high = self._associate(
            active, dets, embs, high_rows, self._cost(active, dets, embs, high_rows), cfg.match_thresh_first)
        # second association: low-score detections vs the tracks left that were tracked last frame,
        # IoU only (a low score often means occlusion, where appearance is unreliable)
        tracked = [t for t in unmatched_active if t.state == CONFIRMED]
        n_second, unmatched_tracked, _ = self._associate(
            tracked, dets, embs, low_rows, self._iou_cost(tracked, dets, low_rows), cfg.match_thresh_second)
        for track in unmatched_tracked:
            track.state = LOST
        # unconfirmed tracks vs the high-score detections neither association took
        tentative = [t for t in self.tracks if t.state == TENTATIVE]
        _, unmatched_tentative, new_rows = self._associate(
            tentative, dets, embs, unmatched_high, self._cost(tentative, dets, embs, unmatched_high),
            cfg.match_thresh_tentative)
        for track in unmatched_tentative:
            if track.time_since_update > cfg.tentative_max_age:
                track.state = REMOVED
        # detections no confirmed or lost track claimed (new objects, or false positives)
        self.unclaimed = int(np.count_nonzero(scores >= cfg.low_score)) - n_first - n_second

        # new tracks from the high-score detections nothing took, then the expired tracks go
        confirm = self.frame_count == 1 and cfg.confirm_on_first_frame
        for row in new_rows:
            if scores[row] >= cfg.new_track_score:
                self._start(dets[row], None if embs is None else embs[row], confirm=confirm)
        for track in self.tracks:
            if track.state == LOST and track.time_since_update > cfg.max_age:
                track.state = REMOVED
        self.tracks = [t for t in self.tracks if t.state != REMOVED]
        self._last_output = _output_rows([t for t in self.tracks if t.state == CONFIRMED and t.time_since_update == 0])
        return self._last_output.copy()

    def _associate(self, tracks: list[Track], dets: np.ndarray, embs: np.ndarray | None, rows: np.ndarray,
                   cost: np.ndarray, thresh: float) -> tuple[int, list[Track], np.ndarray]:
        """Match ``tracks`` with ``dets[rows]`` by ``cost (len(tracks), len(rows))``, pairs up to
        ``thresh`` only, and update the matched tracks (:meth:`_match`).

        Returns:
            the number of matches, the unmatched tracks and the unmatched detection rows.
        """
        matches, free_tracks, free_cols = linear_assignment(cost, thresh)
        self._match([tracks[i] for i in matches[:, 0]], dets, embs, rows[matches[:, 1]])
        return len(matches), [tracks[i] for i in free_tracks], rows[free_cols]

    def _predict(self) -> None:
        if not self.tracks:
            return
        mean = np.stack([t.mean for t in self.tracks])
        for i, t in enumerate(self.tracks):
            if t.state != CONFIRMED:  # lost/tentative: do not extrapolate a size change
                mean[i, 6:8] = 0.0
        mean, cov = self.kf.predict(mean, np.stack([t.cov for t in self.tracks]))
        for t, m, c in zip(self.tracks, mean, cov):
            t.mean, t.cov = m, c
            t.time_since_update += 1

    def _iou_cost(self, tracks: list[Track], dets: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``1 - IoU`` of tracks vs ``dets[rows]``, with the tracking-offset cue when available."""
        cost = iou_cost(_track_boxes(tracks), dets[rows, :4])
        if self._offsets is None or not tracks or not len(rows):
            return cost
        offsets = self._offsets[rows]
        moved_back = dets[rows, :4] + np.concatenate([offsets, offsets], 1)  # detections in the previous frame
        cost_off = iou_cost(np.array([t.last_box_xyxy for t in tracks]), moved_back)
        fresh = np.array([t.time_since_update == 1 for t in tracks])  # matched in the previous frame
        return np.where(fresh[:, None], np.minimum(cost, cost_off), cost)

    def _cost(self, tracks: list[Track], dets: np.ndarray, embs: np.ndarray | None, cols: np.ndarray) -> np.ndarray:
        iou_c = self._iou_cost(tracks, dets, cols)
        emb_c = None
        if embs is not None and tracks and all(t.embedding is not None for t in tracks):
            emb_c = embedding_cost(np.stack([t.embedding for t in tracks]), embs[cols])
        return fused_cost(iou_c, emb_c, self.cfg.appearance_weight, self.cfg.iou_gate)

    def _match(self, tracks: list[Track], dets: np.ndarray, embs: np.ndarray | None, rows: np.ndarray) -> None:
        """Kalman-correct ``tracks`` with ``dets[rows]`` (one batched update) and refresh them."""
        if not tracks:
            return
        mean, cov = self.kf.update(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]),
                                   xyxy_to_cxcywh(dets[rows, :4]))
        m = self.cfg.embedding_momentum
        for track, mu, p, row in zip(tracks, mean, cov, rows):
            track.mean, track.cov = mu, p
            track.last_box_xyxy = track.box_xyxy
            track.score = float(dets[row, 4])
            track.time_since_update = 0
            track.hits += 1
            if embs is not None:
                e = embs[row] if track.embedding is None else m * track.embedding + (1 - m) * embs[row]
                track.embedding = e / max(np.linalg.norm(e), 1e-12)
            if track.state == TENTATIVE and track.hits >= self.cfg.min_hits:
                track.state, track.track_id = CONFIRMED, self._new_id()
            elif track.state == LOST:
                track.state = CONFIRMED

    def _start(self, det: np.ndarray, emb: np.ndarray | None, confirm: bool) -> None:
        mean, cov = self.kf.initiate(xyxy_to_cxcywh(det[None, :4]))
        track = Track(mean[0], cov[0], float(det[4]), emb, self.frame_count)
        if confirm or self.cfg.min_hits <= 1:
            track.state, track.track_id = CONFIRMED, self._new_id()
        self.tracks.append(track)

    def coast(self, track_ids) -> np.ndarray:
        """Add the tracks ``track_ids`` that the last :meth:`update` did not match to its output, at
        their Kalman prediction with their last score; returns the new ``(M, 6)`` output.

        Ids already in the output, unknown ids and tentative tracks are skipped. The tracks' states
        are unchanged (a coasted track is still lost and is matched as one on the next frame); only
        the output (and so :meth:`results_rows`, :meth:`output_states` and :meth:`prior_heatmap`)
        changes. Used by :class:`~kdtrack_lite.track.interleaved.InterleavedPipeline` to carry the
        teacher's tracks through student frames.
        """
        have = set(self._last_output[:, 4].astype(np.int64).tolist())
        want = {int(i) for i in np.asarray(track_ids).reshape(-1)} - have
        extra = [t for t in self.tracks if t.track_id in want and t.state != TENTATIVE]
        if extra:
            self._last_output = np.vstack([self._last_output, _output_rows(extra)])
        return self._last_output.copy()

    def predicted_overlap(self) -> float:
        """Largest IoU one frame ahead between two confirmed tracks that are *closing in* (their IoU
        one frame ahead, by the Kalman constant-velocity prediction, is above their IoU now); 0 with
        fewer than two tracks or none closing: an occlusion about to happen or deepening. Pairs that
        stay overlapped or move apart do not count. The tracker state is not changed."""
        tracks = [t for t in self.tracks if t.state == CONFIRMED]
        if len(tracks) < 2:
            return 0.0
        means = np.stack([t.mean for t in tracks])
        now = cxcywh_to_xyxy(means[:, :4])
        ahead = cxcywh_to_xyxy((means @ self.kf.transition.T)[:, :4])
        iou_now, iou_ahead = 1.0 - iou_cost(now, now), 1.0 - iou_cost(ahead, ahead)
        closing = np.where(iou_ahead > iou_now + 1e-9, iou_ahead, 0.0)
        np.fill_diagonal(closing, 0.0)
        return float(closing.max())

    def output_states(self, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Kalman states of the last :meth:`update`'s output tracks with score >= ``min_score``.

        Returns:
            ``ids (M,)``, ``means (M, 8)`` (``cx, cy, w, h`` and their velocities) and
            ``covs (M, 8, 8)``; copies, so a caller may propagate them without changing the tracker.
        """
        out = self._last_output[self._last_output[:, 5] >= min_score]
        by_id = {t.track_id: t for t in self.tracks}
        tracks = [by_id[int(i)] for i in out[:, 4]]
        if not tracks:
            return np.zeros(0, np.int64), np.zeros((0, 8)), np.zeros((0, 8, 8))
        return (out[:, 4].astype(np.int64), np.stack([t.mean for t in tracks]).copy(),
                np.stack([t.cov for t in tracks]).copy())

    def prior_heatmap(self, height: int, width: int, predicted: bool = False) -> np.ndarray:
        """CenterTrack prior ``(height, width)`` float32: a Gaussian per output track of the last
        frame with score >= ``prior_min_score`` (:func:`kdtrack_lite.data.heatmap.render_heatmap`).

        ``predicted=True`` renders the tracks one frame ahead with the Kalman motion model (the
        tracker state is not changed).
        """
        out = self._last_output[self._last_output[:, 5] >= self.cfg.prior_min_score]
        boxes = out[:, :4]
        if predicted and len(out):
            by_id = {t.track_id: t for t in self.tracks}
            tracks = [by_id[int(i)] for i in out[:, 4]]
            mean, _ = self.kf.predict(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]))
            boxes = cxcywh_to_xyxy(mean[:, :4])
        return render_heatmap(boxes, height, width, stride=1)

    def results_rows(self, frame_idx: int | None = None) -> np.ndarray:
        """MOTChallenge rows ``(M, 10)`` for the last :meth:`update`: frame, id, left, top, w, h,
        conf, -1, -1, -1 (``frame_idx`` defaults to the tracker's 1-based frame count)."""
        return tracks_to_mot_rows(self._last_output, self.frame_count if frame_idx is None else frame_idx)


def tracks_to_mot_rows(tracks: np.ndarray, frame_idx: int) -> np.ndarray:
    """``(M, 6)`` ``[x1, y1, x2, y2, id, score]`` -> ``(M, 10)`` MOTChallenge rows for ``frame_idx``."""
    tracks = np.asarray(tracks, np.float64).reshape(-1, 6)
    rows = np.full((len(tracks), 10), -1.0)
    rows[:, 0] = frame_idx
    rows[:, 1] = tracks[:, 4]
    rows[:, 2:6] = xyxy_to_tlwh(tracks[:, :4])
    rows[:, 6] = tracks[:, 5]
    return rows


def _track_boxes(tracks: list[Track]) -> np.ndarray:
    """``(M, 4)`` xyxy Kalman boxes of ``tracks`` (each track's :attr:`Track.box_xyxy`, converted at once)."""
    if not tracks:
        return np.zeros((0, 4))
    return cxcywh_to_xyxy(np.stack([t.mean[:4] for t in tracks]))


def _output_rows(tracks: list[Track]) -> np.ndarray:
    """``(M, 6)`` ``[x1, y1, x2, y2, track_id, score]`` of ``tracks`` (their Kalman boxes)."""
    if not tracks:
        return np.zeros((0, 6))
    ids_scores = np.array([[t.track_id, t.score] for t in tracks], np.float64)
    return np.concatenate([_track_boxes(tracks), ids_scores], axis=1)


def _check_offsets(tracking_offsets, n: int) -> np.ndarray | None:
    """``(n, 2)`` float64 tracking offsets, or ``None`` when none are given."""
    if tracking_offsets is None:
        return None
    offsets = np.asarray(tracking_offsets, np.float64)
    if offsets.shape != (n, 2):
        raise ValueError(f"MOTTracker.update: tracking_offsets must be ({n}, 2), got {offsets.shape}")
    return offsets


def _check_detections(detections, embeddings) -> tuple[np.ndarray, np.ndarray | None]:
    dets = np.asarray(detections, np.float64)
    if dets.size == 0:
        dets = dets.reshape(0, 6)
    if dets.ndim != 2 or dets.shape[1] != 6:
        raise ValueError(
            f"MOTTracker.update: detections must be (N, 6) [x1, y1, x2, y2, score, class], got shape {dets.shape}"
        )
    # a NaN box never matches and an inverted one has a negative area: either would live on as a
    # hidden track, so they are refused here rather than tracked
    bad = ~np.isfinite(dets).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"MOTTracker.update: detection row {i} {dets[i].tolist()} holds NaN or inf; "
                         f"expected finite [x1, y1, x2, y2, score, class]")
    bad = (dets[:, 2] < dets[:, 0]) | (dets[:, 3] < dets[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"MOTTracker.update: detection row {i} {dets[i, :4].tolist()} is not an [x1, y1, x2, y2] "
                         f"box (x2 >= x1 and y2 >= y1 expected)")
    if embeddings is None:
        return dets, None
    embs = np.asarray(embeddings, np.float64)
    if embs.ndim != 2 or len(embs) != len(dets):
        raise ValueError(
            f"MOTTracker.update: embeddings must be (N, D) with N = {len(dets)} detections, got shape {embs.shape}"
        )
    bad = ~np.isfinite(embs).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"MOTTracker.update: embedding row {i} holds NaN or inf")
    return dets, embs
