"""Online CenterTrack-style MOT: detector -> decode -> two-stage tracker, frame by frame.

PAPER FACTS (CenterTrack): the detector sees the current frame, the previous
frame and a prior heatmap rendered from the previous frame's tracks with score >= 0.5.
OUR CHOICES: association by :class:`kdtrack_lite.track.mot_tracker.MOTTracker` (Kalman, IoU,
appearance embeddings and the detector's tracking offsets); on the first frame the previous frame
is the frame itself and the prior is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from ..models.centertrack import DecodeConfig, decode_detections, to_detections
from ..runtime import progress
from .mot_tracker import MOTTracker, TrackerConfig


def frame_to_tensor(frame: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(1, 3, H, W)`` float32 in [0, 1]."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame_to_tensor: expected an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
    return torch.from_numpy(frame).to(device).permute(2, 0, 1)[None].float().div_(255.0)


@torch.no_grad()
def detect_frame(detector: nn.Module, image: torch.Tensor, prev_image: torch.Tensor, prior_hm: torch.Tensor | None,
                 decode_cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One detector call + decoding: the shared step of :class:`MOTPipeline` and the interleaved
    pipeline (:mod:`kdtrack_lite.track.interleaved`).

    Args:
        detector: a CenterTrack detector in eval mode.
        image, prev_image: ``(1, 3, H, W)`` float in [0, 1].
        prior_hm: ``(1, 1, H, W)`` prior heatmap or ``None`` (no prior stem).
        decode_cfg: :class:`DecodeConfig`.

    Returns:
        ``detections (N, 6)`` ``[x1, y1, x2, y2, score, class]``, ``embeddings (N, D)`` and
        ``tracking_offsets (N, 2)`` (previous minus current centre, pixels), as the tracker takes them.
    """
    out = detector(image, prev_image, prior_hm)
    c = decode_cfg
    dec = decode_detections(out, k=c.k, score_threshold=c.score_threshold, nms_iou=c.nms_iou)[0]
    dets, embs = to_detections(dec)
    return dets, embs, dec["tracking"].cpu().double().numpy()


class MOTPipeline:
    """Detector + tracker run online. ``step(frame) -> (M, 6) [x1, y1, x2, y2, track_id, score]``.

    Args:
        detector: a :class:`kdtrack_lite.models.centertrack.CenterTrackDetector` (eval mode is set).
        tracker_cfg: :class:`TrackerConfig` of the owned :class:`MOTTracker`.
        decode_cfg: :class:`DecodeConfig` (top-k, score threshold, NMS IoU).
        use_prior: feed the prior heatmap of the last frame's tracks (CenterTrack); ``False``
            feeds an empty prior.
        use_embeddings: pass the detector's embeddings to the tracker (appearance cost).
        query_fusion: optional ``query_fusion(frame, dets (N, 6), embs (N, D)) -> (N, D)`` that
            replaces the embeddings the tracker associates with, e.g. VSD-MOT's semantic fusion
            (:class:`kdtrack_lite.track.semantic_fusion.SemanticFusion`).

    After each :meth:`step`, ``last_detections`` holds that frame's raw ``dets``, ``embs`` (before
    fusion) and ``offsets``.
    """

    def __init__(self, detector: nn.Module, tracker_cfg: TrackerConfig | None = None,
                 decode_cfg: DecodeConfig | None = None, use_prior: bool = True, use_embeddings: bool = True,
                 query_fusion: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None):
        self.detector = detector.eval()
        self.device = next(detector.parameters()).device
        self.tracker = MOTTracker(tracker_cfg)
        self.decode_cfg = decode_cfg or DecodeConfig()
        self.use_prior, self.use_embeddings = use_prior, use_embeddings
        self.query_fusion = query_fusion
        self.last_detections: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        """Start a new sequence (tracker ids restart at 1)."""
        self.tracker.reset()
        self._prev = None

    @torch.no_grad()
    def step(self, frame: np.ndarray) -> np.ndarray:
        """Track one ``(H, W, 3)`` uint8 RGB frame; returns the tracker's ``(M, 6)`` output."""
        image = frame_to_tensor(frame, self.device)
        h, w = image.shape[-2:]
        prev = image if self._prev is None else self._prev
        prior = None
        if self.use_prior:
            hm = self.tracker.prior_heatmap(h, w) if self._prev is not None else np.zeros((h, w), np.float32)
            prior = torch.from_numpy(hm).to(self.device)[None, None]
        dets, embs, offsets = detect_frame(self.detector, image, prev, prior, self.decode_cfg)
        self._prev = image
        self.last_detections = {"dets": dets, "embs": embs, "offsets": offsets}
        if self.use_embeddings and self.query_fusion is not None:
            embs = np.asarray(self.query_fusion(frame, dets, embs), np.float64)
            if embs.shape[0] != len(dets):
                raise ValueError(f"MOTPipeline.step: query_fusion returned {embs.shape[0]} rows for {len(dets)} detections")
        return self.tracker.update(dets, frame, embs if self.use_embeddings else None, tracking_offsets=offsets)

    def run(self, frames: Iterable[np.ndarray], desc: str = "tracking") -> np.ndarray:
        """Track a whole sequence from its first frame; returns MOTChallenge rows ``(N, 10)``."""
        self.reset()
        rows = []
        for i, frame in enumerate(progress(frames, desc=desc), start=1):
            self.step(frame)
            rows.append(self.tracker.results_rows(i))
        return np.concatenate(rows) if rows else np.zeros((0, 10))
