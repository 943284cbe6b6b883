"""Trackers: Kalman motion model, association, ByteTrack-style MOT tracker, SiamFC SOT tracker."""

from .association import embedding_cost, fused_cost, iou_cost, linear_assignment
from .kalman import BoxKalmanFilter, KalmanConfig, kf_predict, kf_update
from .mot_tracker import MOTTracker, TrackerConfig, tracks_to_mot_rows
from .interleaved import InterleavedConfig, InterleavedPipeline, prior_from_states, propagate_states
from .pipeline import MOTPipeline, detect_frame, frame_to_tensor
from .oracles import ErrorOracleSchedule, EventSchedule, GroundTruthErrors
from .schedules import AdaptiveConfig, AdaptiveSchedule, FixedSchedule, FrameSignals, Schedule
from .semantic_fusion import FrameQueries, QueryExtractor, SemanticFusion, roi_features, track_queries
from .sot_tracker import SiamFCTracker, SOTTrackerConfig

__all__ = [
    "embedding_cost", "fused_cost", "iou_cost", "linear_assignment",
    "BoxKalmanFilter", "KalmanConfig", "kf_predict", "kf_update",
    "MOTTracker", "TrackerConfig", "tracks_to_mot_rows",
    "MOTPipeline", "detect_frame", "frame_to_tensor",
    "InterleavedConfig", "InterleavedPipeline", "prior_from_states", "propagate_states",
    "AdaptiveConfig", "AdaptiveSchedule", "ErrorOracleSchedule", "EventSchedule", "FixedSchedule", "FrameSignals",
    "GroundTruthErrors", "Schedule",
    "FrameQueries", "QueryExtractor", "SemanticFusion", "roi_features", "track_queries",
    "SiamFCTracker", "SOTTrackerConfig",
]
