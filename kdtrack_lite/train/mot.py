"""Training recipe for the CenterTrack-style MOT detector (teacher or student baseline).

OUR DESIGN: every MOT experiment draws its sequences from the synthetic engine with disjoint seed
ranges per split (train / val / test), so "held-out" means scenes never seen in training, drawn
from the same distribution. Validation runs the full online tracker (detector + association) and
scores HOTA with trackeval (:func:`~kdtrack_lite.eval.mot_protocol.evaluate_detector`), so early
stopping follows the metric the tables report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..config import Config
from ..data.datasets import CenterTrackPairs, PairConfig
from ..data.mot_synth import SPLIT_SEED_BASE, MOTSceneConfig, generate_mot_sequence, world_scene
from ..data.sequence import MOTSequence
from ..distill.base import Distiller
from ..distributed import make_loader
from ..distill.loop import History, TrainConfig, fit, recipe_train_config
from ..eval.mot_protocol import evaluate_detector
from ..models.centertrack import DetectorConfig, build_centertrack
from ..models.centertrack_loss import CenterTrackLoss, CenterTrackLossConfig
from ..track.mot_tracker import TrackerConfig


@dataclass
class MOTDataConfig(Config):
    """How many synthetic scenes each split has, and how long they are (OUR CHOICE)."""

    train_sequences: int = 12
    val_sequences: int = 2
    test_sequences: int = 4
    num_frames: int = 150
    batch_size: int = 8
    seed: int = 0  # shifts every split's seeds together (another draw of the same benchmark)
    world: str = "street"  # scene presets the splits cycle through (data.mot_synth.WORLDS)
    FAST: ClassVar[dict] = {"train_sequences": 3, "val_sequences": 1, "test_sequences": 2, "num_frames": 40}


MOT_TRAIN_FULL = {"epochs": 15, "steps_per_epoch": 150, "patience": 5, "min_epochs": 8}


def mot_train_config(profile: str | None = None, **overrides) -> TrainConfig:
    """The training budget of the MOT baselines (FULL: 15 x 150 steps of batch 8; FAST: TrainConfig's)."""
    return recipe_train_config(MOT_TRAIN_FULL, profile, **overrides)


def make_mot_split(split: str, cfg: MOTDataConfig, scene: MOTSceneConfig | None = None) -> list[MOTSequence]:
    """The sequences of ``split`` ("train", "val" or "test"), generated deterministically.

    Scene ``i`` of a split uses seed ``SPLIT_SEED_BASE[split] + 100 * cfg.seed + i`` and, unless
    ``scene`` is given, the preset ``i mod n`` of ``cfg.world``; the seed ranges never overlap, so
    test scenes are never trained on.
    """
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEED_BASE)}, got {split!r}")
    count = getattr(cfg, f"{split}_sequences")
    base = SPLIT_SEED_BASE[split] + 100 * cfg.seed
    return [generate_mot_sequence(scene or world_scene(cfg.world, i, num_frames=cfg.num_frames),
                                  seed=base + i, name=f"{split}-{i:02d}") for i in range(count)]


def detector_forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """How a CenterTrack detector consumes a :class:`CenterTrackPairs` batch."""
    return model(batch["image"], batch["prev_image"], batch["prior_hm"])


def mot_loader(sequences: list[MOTSequence], batch_size: int, seed: int, pair_cfg: PairConfig | None = None,
               num_workers: int = 0) -> DataLoader:
    """Shuffled CenterTrack pairs; the order depends only on ``seed`` (per-rank shards under torchrun)."""
    return make_loader(CenterTrackPairs(sequences, pair_cfg or PairConfig(seed=seed)), batch_size, seed,
                       num_workers=num_workers)


def train_mot_detector(
    role: str,
    data_cfg: MOTDataConfig | None = None,
    train_cfg: TrainConfig | None = None,
    loss_cfg: CenterTrackLossConfig | None = None,
    detector_cfg: DetectorConfig | None = None,
    checkpoint_path: str | Path | None = None,
    distiller_losses: list | None = None,
    teachers: dict[str, nn.Module] | None = None,
    train_sequences: list[MOTSequence] | None = None,
    val_sequences: list[MOTSequence] | None = None,
    init_from: nn.Module | None = None,
    device: torch.device | str = "cpu",
    resume: bool = False,
    num_workers: int = 0,
    tracker_cfg: TrackerConfig | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    student_bn: str = "train",
) -> tuple[nn.Module, History]:
    """Train a CenterTrack detector (``role`` = ``"teacher"`` or ``"student"`` preset).

    With ``teachers`` and ``distiller_losses`` the same recipe trains a distilled student, at the
    same budget (``train_cfg``) as its baseline. ``init_from`` starts from another detector's
    weights (same architecture): continued training, or fine-tuning a shipped baseline.
    ``tracker_cfg`` is the tracker that validation runs (default ``TrackerConfig()``).
    ``checkpoint_extra`` adds entries to the checkpoint's description (e.g. the distillation settings).
    ``student_bn`` is the Distiller's BatchNorm mode of the trained model (``"train"`` or ``"frozen"``).
    """
    data_cfg = data_cfg or MOTDataConfig.make()
    train_cfg = train_cfg or TrainConfig.make()
    torch.manual_seed(train_cfg.seed)
    model = build_centertrack(detector_cfg or (init_from.cfg if init_from is not None else DetectorConfig.preset(role)))
    if init_from is not None:
        model.load_state_dict(init_from.state_dict())
    train_seqs = train_sequences if train_sequences is not None else make_mot_split("train", data_cfg)
    val_seqs = val_sequences if val_sequences is not None else make_mot_split("val", data_cfg)
    loader = mot_loader(train_seqs, data_cfg.batch_size, seed=train_cfg.seed, num_workers=num_workers)
    task = CenterTrackLoss(loss_cfg, embedding_dim=model.cfg.embedding_dim, seed=train_cfg.seed)
    distiller = Distiller(model, task, teachers=teachers, losses=distiller_losses, forward=detector_forward,
                          student_bn=student_bn)

    def validate(student: nn.Module) -> float:
        return float(evaluate_detector(student, val_seqs, tracker_cfg).combined["HOTA"])

    history = fit(distiller, loader, train_cfg, validate=validate, maximize=True,
                  checkpoint_path=checkpoint_path, desc=f"mot {role}",
                  checkpoint_extra={"role": role, "data_config": data_cfg.to_dict(), **(checkpoint_extra or {})},
                  device=device, resume=resume)
    return model, history
