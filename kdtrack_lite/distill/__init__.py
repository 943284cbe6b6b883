"""Distillation: the Distiller base, feature taps, loss terms and the training loop."""

from .attention import AttentionConfig, AttentionTransfer, at_loss, attention_map
from .base import Distiller, DistillContext, LossTerm, total_loss
from .cka import cka_matrix, feature_cka, feature_rows, linear_cka
from .dcsd import DCSDConfig, DCSDLoss, dcsd_frame_loss, dcsd_global_loss, dcsd_local_loss, relation_loss
from .hint import HintConfig, HintLoss, hint_loss, make_regressor
from .hooks import FeatureTaps
from .loop import History, TrainConfig, fit
from .response import (
    ResponseKD,
    ResponseKDConfig,
    SoftmaxKD,
    SoftmaxKDConfig,
    binary_kd_loss,
    confidence_weight,
    kd_loss,
    kd_per_sample,
    weighted_l1_loss,
)

__all__ = ["Distiller", "DistillContext", "LossTerm", "total_loss", "FeatureTaps", "History",
           "TrainConfig", "fit",
           "hint_loss", "make_regressor", "HintConfig", "HintLoss",
           "attention_map", "at_loss", "AttentionConfig", "AttentionTransfer",
           "binary_kd_loss", "confidence_weight", "kd_loss", "kd_per_sample", "weighted_l1_loss",
           "ResponseKDConfig", "ResponseKD", "SoftmaxKDConfig", "SoftmaxKD",
           "linear_cka", "feature_rows", "feature_cka", "cka_matrix",
           "DCSDConfig", "DCSDLoss", "dcsd_local_loss", "dcsd_frame_loss", "dcsd_global_loss", "relation_loss"]
