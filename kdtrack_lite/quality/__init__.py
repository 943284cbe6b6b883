"""Frame quality (clarity, noise level, contrast) and DSWR, the quality-driven fusion weights."""

from .dswr import DSWRConfig, DSWRRegulator, fuse
from .metrics import (METRICS, QualityConfig, QualityNormalizer, clarity, frame_quality, noise_sigma, rms_contrast,
                      sequence_quality)

__all__ = ["METRICS", "QualityConfig", "QualityNormalizer", "clarity", "noise_sigma", "rms_contrast", "frame_quality",
           "sequence_quality", "DSWRConfig", "DSWRRegulator", "fuse"]
