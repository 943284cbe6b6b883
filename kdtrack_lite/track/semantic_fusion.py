"""VSD-MOT at inference: query vectors -> student semantics -> DSWR-weighted fusion -> association.

PAPER FACT (VSD-MOT): the student's semantic features are fused with the query
vectors by weights that DSWR derives from each frame's quality; the fused vectors go to the tracker.

OUR DESIGN CHOICES:

* the query vectors of a frame are its detections' appearance embeddings (``D_q``), ROI features
  of the detector's stride-4 neck (``torchvision.ops.roi_align``, averaged) and normalised boxes
  (:func:`semantic_inputs`); only detections with ``score >= min_score`` (the ones the tracker's
  appearance stage uses) go through the student, the others keep their raw embedding;
* the fused embedding ``normalize((1 - a) e + a s)`` replaces the detector embedding in the
  tracker's appearance cost (:class:`~kdtrack_lite.track.mot_tracker.MOTTracker`), with ``a`` from
  :class:`~kdtrack_lite.quality.dswr.DSWRRegulator` (DSWR) or a fixed number (the baseline);
* :class:`QueryExtractor` records every frame's queries once, so that association variants are
  compared on *identical detections* (:func:`track_queries` replays the tracker only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from ..boxes import xyxy_to_cxcywh
from ..distill.hooks import FeatureTaps
from ..models.centertrack import OUTPUT_STRIDE
from ..quality.dswr import DSWRRegulator, fuse
from ..quality.metrics import QualityNormalizer
from ..runtime import progress
from .mot_tracker import MOTTracker, TrackerConfig
from .pipeline import MOTPipeline, frame_to_tensor


@dataclass
class FrameQueries:
    """One frame's detections and query vectors: ``dets (N, 6)`` [x1, y1, x2, y2, score, class],
    ``embs (N, D_q)``, ``roi (N, D_roi)``, ``offsets (N, 2)`` (CenterTrack tracking offsets)."""

    dets: np.ndarray
    embs: np.ndarray
    roi: np.ndarray
    offsets: np.ndarray


def roi_features(neck: torch.Tensor, boxes_xyxy: np.ndarray, stride: int = OUTPUT_STRIDE) -> np.ndarray:
    """Average ROI-aligned features of ``boxes_xyxy (N, 4)`` (input pixels) on ``neck (1, C, h, w)`` -> ``(N, C)``."""
    if neck.ndim != 4 or neck.shape[0] != 1:
        raise ValueError(f"roi_features: neck must be (1, C, h, w), got {tuple(neck.shape)}")
    boxes = torch.as_tensor(np.asarray(boxes_xyxy, np.float32).reshape(-1, 4), device=neck.device)
    if not len(boxes):
        return np.zeros((0, neck.shape[1]), np.float32)
    pooled = roi_align(neck.float(), [boxes], output_size=(2, 2), spatial_scale=1.0 / stride, sampling_ratio=2,
                       aligned=True)  # (N, C, 2, 2)
    return pooled.mean((2, 3)).cpu().numpy()


def semantic_inputs(encoder: nn.Module, frame: np.ndarray, dets: np.ndarray, embs: np.ndarray, roi: np.ndarray
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Student inputs for one frame: ``thumbs (1, 3, h, w)``, ``queries (1, N, D_q + D_roi)``,
    ``boxes_cxcywh (1, N, 4)`` normalised by the frame's width and height."""
    h, w = frame.shape[:2]
    device = next(encoder.parameters()).device
    thumbs = encoder.thumbnail(frame_to_tensor(frame, device))
    q = np.concatenate([np.asarray(embs, np.float32).reshape(len(dets), -1),
                        np.asarray(roi, np.float32).reshape(len(dets), -1)], 1)
    boxes = xyxy_to_cxcywh(np.asarray(dets, np.float64)[:, :4].reshape(-1, 4)) / np.array([w, h, w, h])
    return (thumbs, torch.as_tensor(q, device=device)[None],
            torch.as_tensor(boxes, dtype=torch.float32, device=device)[None])


class QueryExtractor:
    """Run the detector + tracker (no fusion) over a sequence and keep every frame's queries.

    Args:
        detector: a CenterTrack detector (its ``neck`` is tapped for ROI features).
        tracker_cfg, decode_cfg: as :class:`~kdtrack_lite.track.pipeline.MOTPipeline`.
    """

    def __init__(self, detector: nn.Module, tracker_cfg: TrackerConfig | None = None, decode_cfg=None):
        self.pipeline = MOTPipeline(detector, tracker_cfg, decode_cfg)
        self.detector = detector

    @torch.no_grad()
    def run(self, frames: Sequence[np.ndarray], desc: str = "queries") -> list[FrameQueries]:
        taps = FeatureTaps({"neck": self.detector.neck}, detach=True)
        try:
            self.pipeline.reset()
            out = []
            for frame in progress(frames, desc=desc):
                self.pipeline.step(frame)
                d = self.pipeline.last_detections
                out.append(FrameQueries(d["dets"], d["embs"].astype(np.float32),
                                        roi_features(taps.features["neck"], d["dets"][:, :4]), d["offsets"]))
            return out
        finally:
            taps.remove()


class SemanticFusion:
    """``fusion(frame, dets, embs, roi=None) -> (N, D_q)`` fused embeddings for the tracker.

    Args:
        encoder: a trained :class:`~kdtrack_lite.models.semantic_encoder.SemanticEncoder`.
        regulator: a :class:`DSWRRegulator` (DSWR weights) ...
        fixed_weight: ... or a fixed ``a`` in [0, 1] (exactly one of the two).
        normalizer: frame quality -> scores (default :class:`QualityNormalizer`).
        min_score: detections below this score keep their raw embedding.
        detector: when given, its neck is tapped so the object works as
            ``MOTPipeline(query_fusion=...)`` (ROI features read from the last forward).

    ``last_weight`` / ``last_quality`` hold the latest frame's ``a`` and quality scores.
    """

    def __init__(self, encoder: nn.Module, regulator: DSWRRegulator | None = None, fixed_weight: float | None = None,
                 normalizer: QualityNormalizer | None = None, min_score: float = 0.5, detector: nn.Module | None = None):
        if (regulator is None) == (fixed_weight is None):
            raise ValueError("SemanticFusion: give exactly one of regulator= (DSWR) or fixed_weight=")
        if fixed_weight is not None and not 0.0 <= fixed_weight <= 1.0:
            raise ValueError(f"SemanticFusion: fixed_weight must be in [0, 1], got {fixed_weight}")
        self.encoder, self.regulator, self.fixed_weight = encoder.eval(), regulator, fixed_weight
        self.normalizer = normalizer or QualityNormalizer()
        self.min_score = min_score
        self.taps = FeatureTaps({"neck": detector.neck}, detach=True) if detector is not None else None
        self.last_weight, self.last_quality = None, None

    @torch.no_grad()
    def weight(self, frame: np.ndarray) -> torch.Tensor:
        """``a`` for this frame: ``(1,)`` (scalar regulator / fixed) or ``(D_q,)`` (per channel)."""
        if self.regulator is None:
            a = torch.tensor([float(self.fixed_weight)])
        else:
            self.last_quality = self.normalizer.frame(frame)
            a = self.regulator.eval()(torch.as_tensor(self.last_quality)).cpu()
        self.last_weight = a.numpy()
        return a

    @torch.no_grad()
    def semantic(self, frame: np.ndarray, dets: np.ndarray, embs: np.ndarray, roi: np.ndarray) -> np.ndarray:
        """Student semantics ``(N, D_q)`` of the given detections (all of them)."""
        if not len(dets):
            return np.zeros((0, self.encoder.cfg.query_dim), np.float32)
        out = self.encoder(*semantic_inputs(self.encoder, frame, dets, embs, roi))
        return out["semantic"][0].cpu().numpy()

    def __call__(self, frame: np.ndarray, dets: np.ndarray, embs: np.ndarray, roi: np.ndarray | None = None
                 ) -> np.ndarray:
        dets = np.asarray(dets, np.float64).reshape(-1, 6)
        embs = np.asarray(embs, np.float32)
        if roi is None:
            if self.taps is None or "neck" not in self.taps.features:
                raise ValueError("SemanticFusion: roi=None needs detector= (tapped neck) and a detector forward first")
            roi = roi_features(self.taps.features["neck"], dets[:, :4])
        a = self.weight(frame)
        fused = embs.copy()
        keep = np.flatnonzero(dets[:, 4] >= self.min_score)
        if len(keep):
            sem = self.semantic(frame, dets[keep], embs[keep], roi[keep])
            mixed = fuse(torch.as_tensor(embs[keep]), torch.as_tensor(sem), a)  # (K, D_q)
            fused[keep] = F.normalize(mixed, dim=-1).numpy()
        return fused


def track_queries(queries: Sequence[FrameQueries], frames: Sequence[np.ndarray], tracker_cfg: TrackerConfig | None = None,
                  fusion: SemanticFusion | None = None) -> np.ndarray:
    """Replay the tracker on recorded queries (optionally fused) -> MOTChallenge rows ``(N, 10)``."""
    if len(queries) != len(frames):
        raise ValueError(f"track_queries: {len(queries)} recorded frames but {len(frames)} frames given")
    tracker = MOTTracker(tracker_cfg)
    rows = []
    for i, (fq, frame) in enumerate(zip(queries, frames), start=1):
        embs = fq.embs if fusion is None else fusion(frame, fq.dets, fq.embs, fq.roi)
        tracker.update(fq.dets, frame, embs, tracking_offsets=fq.offsets)
        rows.append(tracker.results_rows(i))
    return np.concatenate(rows) if rows else np.zeros((0, 10))
