"""Evaluation: MOT metrics (motmetrics + trackeval), SOT success/precision, speed and size.

* :mod:`.mot`   -- ``evaluate_mot`` -> MOTA, MOTP, IDF1, IDP/IDR, IDSW, MT/ML, FP/FN, HOTA/DetA/AssA/LocA
* :mod:`.sot`   -- success curve/AUC, precision@20, normalised precision, per-attribute tables
* :mod:`.mot_protocol` -- a detector + online tracker run over held-out sequences and scored (``evaluate_detector``)
* :mod:`.sot_protocol` -- a SiamFC run over sequences, one pass (OPE) or VOT resets, and scored (``evaluate_siamfc``)
* :mod:`.fusion` -- association variants (no semantics / fixed weight / DSWR) on identical detections;
  re-identification accuracy of fused embeddings (``pair_match_accuracy``)
* :mod:`.head_swap` -- where a teacher-student MOT gap lives: detector heads swapped between the models
* :mod:`.speed` -- FPS (median, p10/p90), parameters, FLOPs, peak memory, ``compare_models``
"""

from .mot import MOTReport, evaluate_mot
from .fusion import FUSION_COLUMNS, compare_fusion, record_queries, weights_over_time
from .sot import (
    SOTReport, evaluate_sot, normalized_precision, precision_at, precision_curve, success_auc, success_curve,
)
from .speed import SpeedStats, compare_models, count_flops, count_params, measure_fps, peak_memory

__all__ = ["MOTReport", "evaluate_mot", "FUSION_COLUMNS", "compare_fusion", "record_queries", "weights_over_time",
           "SOTReport", "evaluate_sot", "normalized_precision", "precision_at",
           "precision_curve", "success_auc", "success_curve", "SpeedStats", "compare_models", "count_flops",
           "count_params", "measure_fps", "peak_memory"]
