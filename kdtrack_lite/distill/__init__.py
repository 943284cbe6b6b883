"""Distillation: the Distiller base, feature taps, loss terms and the training loop."""

from .base import Distiller, DistillContext, LossTerm, total_loss
from .hooks import FeatureTaps
from .loop import History, TrainConfig, fit

__all__ = ["Distiller", "DistillContext", "LossTerm", "total_loss", "FeatureTaps", "History",
           "TrainConfig", "fit"]
