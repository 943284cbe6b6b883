"""Models: backbone family (teacher/student), CenterTrack-style MOT detector, SiamFC.

Importing this package registers the model builders (``kdtrack_lite.registry``).
"""

from .backbone import Backbone, BackboneConfig, count_parameters
from .centertrack import CenterTrackDetector, DecodeConfig, DetectorConfig, decode_detections, to_detections
from .centertrack_loss import CenterTrackLoss, CenterTrackLossConfig, centertrack_loss, focal_loss
from .semantic_encoder import SemanticEncoder, SemanticEncoderConfig, build_semantic_encoder, frame_thumbnail
from .semantic_loss import SemanticTaskLoss, association_nce_loss
from .siamfc import (
    SiamFC,
    SiamFCConfig,
    SiamFCLoss,
    SiamFCLossConfig,
    balanced_logistic_loss,
    pair_labels,
    siamfc_labels,
    siamfc_sample_loss,
    xcorr,
)

__all__ = [
    "Backbone", "BackboneConfig", "count_parameters",
    "CenterTrackDetector", "DetectorConfig", "DecodeConfig", "decode_detections", "to_detections",
    "CenterTrackLoss", "CenterTrackLossConfig", "centertrack_loss", "focal_loss",
    "SemanticEncoder", "SemanticEncoderConfig", "build_semantic_encoder", "frame_thumbnail",
    "SemanticTaskLoss", "association_nce_loss",
    "SiamFC", "SiamFCConfig", "SiamFCLoss", "SiamFCLossConfig", "balanced_logistic_loss", "pair_labels", "siamfc_labels",
    "siamfc_sample_loss", "xcorr",
]
