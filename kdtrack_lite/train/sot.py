"""Training recipe for SiamFC trackers (teacher or student baseline; SDST reuses it).

OUR DESIGN: SOT splits are drawn from the synthetic engine with disjoint seed ranges; the i-th
sequence of every split is asked to carry the attribute pair ``ATTRIBUTE_CYCLE[i % 6]``, so each
split covers every LaSOT-style attribute and per-attribute scores have enough frames. Validation
runs the full tracker (multi-scale search, Hann window) and scores success AUC (OTB/LaSOT).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from ..config import Config
from ..data.datasets import SiamesePairs, SiamPairConfig
from ..data.sequence import SOTSequence
from ..data.sot_synth import SOTConfig, generate_sot_sequence
from ..distill.base import Distiller
from ..distill.loop import History, TrainConfig, fit, recipe_train_config
from ..distributed import make_loader
from ..eval.sot_protocol import evaluate_siamfc, track_sequences
from ..models.siamfc import SiamFCConfig, SiamFCLoss, build_siamfc
from ..track.sot_tracker import SOTTrackerConfig

SPLIT_SEED_BASE = {"train": 40_000, "val": 50_000, "test": 60_000}
ATTRIBUTE_CYCLE = (("FOC", "FM"), ("POC", "SV"), ("IV", "MB"), ("BC", "DEF"), ("OV", "LR"), ("FM", "SV"))
SOT_TRAIN_FULL = {"epochs": 15, "steps_per_epoch": 150, "patience": 5, "min_epochs": 8}
# OUR CHOICE: lighting and blur augmentation of the search crop (SiamPairConfig), so trackers hold
# targets through illumination variation and motion blur instead of matching raw colours.
SOT_PAIR_AUGMENT = {"photometric_prob": 0.5, "blur_prob": 0.2}
# OUR CHOICE: training shifts of the search crop up to this share of the response map's reach
# ((search - template) / 2 search px), so the net learns to find targets far from the crop centre
# (fast motion). 0.5 of the 128-px crop's reach (32 px) is the 16 px the shipped checkpoints used.
SOT_SHIFT_OF_REACH = 0.5


def siam_pair_config(model_cfg, seed: int = 0, shift_of_reach: float = SOT_SHIFT_OF_REACH,
                     **overrides) -> SiamPairConfig:
    """Training-pair geometry of a SiamFC model: its template / search sides, shifts up to
    ``shift_of_reach`` of its reach, and the ``SOT_PAIR_AUGMENT`` augmentation.

    Args:
        model_cfg: a :class:`SiamFCConfig` (``template_size``, ``search_size``).
        seed: pair-sampling seed.
        shift_of_reach: largest target shift from the search crop's centre, as a share of the
            response map's reach ``(search - template) / 2`` search px.
        overrides: any other :class:`SiamPairConfig` field.
    """
    if not 0 <= shift_of_reach <= 1:
        raise ValueError(f"shift_of_reach must be in [0, 1] (a share of the map's reach), got {shift_of_reach}")
    reach = (model_cfg.search_size - model_cfg.template_size) / 2
    values = dict(exemplar_size=model_cfg.template_size, search_size=model_cfg.search_size,
                  max_shift=shift_of_reach * reach, seed=seed, **SOT_PAIR_AUGMENT)
    return SiamPairConfig(**{**values, **overrides})


@dataclass
class SOTDataConfig(Config):
    """Split sizes and sequence length of the SOT experiments (OUR CHOICE)."""

    train_sequences: int = 240  # many short sequences: each is one target appearance, and a
    train_frames: int = 60      # Siamese net trained on few appearances memorises them
    val_sequences: int = 6
    test_sequences: int = 18
    num_frames: int = 120       # val / test sequence length
    batch_size: int = 16
    seed: int = 0
    FAST: ClassVar[dict] = {"train_sequences": 24, "train_frames": 30, "val_sequences": 3, "test_sequences": 6,
                            "num_frames": 40}


def sot_train_config(profile: str | None = None, **overrides) -> TrainConfig:
    """The training budget of the SiamFC baselines (FULL: 15 x 150 steps of batch 16)."""
    return recipe_train_config(SOT_TRAIN_FULL, profile, **overrides)


def make_sot_split(split: str, cfg: SOTDataConfig, scene: SOTConfig | None = None) -> list[SOTSequence]:
    """The sequences of ``split`` ("train", "val", "test"), deterministic, attributes cycled."""
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"split must be one of {sorted(SPLIT_SEED_BASE)}, got {split!r}")
    frames = cfg.train_frames if split == "train" else cfg.num_frames
    scene = scene or SOTConfig.make(num_frames=frames)
    base = SPLIT_SEED_BASE[split] + 100 * cfg.seed
    count = getattr(cfg, f"{split}_sequences")
    return [generate_sot_sequence(scene, seed=base + i, name=f"{split}-{i:02d}",
                                  attributes=list(ATTRIBUTE_CYCLE[i % len(ATTRIBUTE_CYCLE)]))
            for i in range(count)]


def siamfc_forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """How a SiamFC model consumes a :class:`SiamesePairs` batch -> response logits (B, 1, R, R)."""
    return model(batch["template"], batch["search"])


def sot_loader(sequences: list[SOTSequence], batch_size: int, seed: int,
               sampler: Sampler | None = None, pair_cfg: SiamPairConfig | None = None,
               num_workers: int = 0, search_boxes: dict[str, np.ndarray] | None = None) -> DataLoader:
    """Shuffled (or ``sampler``-drawn) Siamese pairs; per-rank shards under torchrun.
    ``search_boxes``: where a tracker searched (:func:`tracker_search_boxes`, :class:`SiamesePairs`)."""
    dataset = SiamesePairs(sequences, pair_cfg or SiamPairConfig(seed=seed, **SOT_PAIR_AUGMENT),  # 64/128 crops
                           search_boxes=search_boxes)
    return make_loader(dataset, batch_size, seed, sampler=sampler, num_workers=num_workers)


def tracker_search_boxes(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                         protocol: str = "reset") -> dict[str, np.ndarray]:
    """Where ``model``'s tracker searched at each frame -> ``{name: (T, 4) tlwh}``: its box of the
    frame before (NaN at frame 0 and after frames it did not track), for the on-policy pairs of
    :class:`~kdtrack_lite.data.datasets.SiamesePairs`. ``protocol``:
    :func:`~kdtrack_lite.eval.sot_protocol.track_sequences`;
    OUR CHOICE ``"reset"``, so the crops follow tracking up to each failure (the frame it is lost
    included) rather than a box that wandered off for the rest of the sequence."""
    out = {}
    for name, pred in track_sequences(model, sequences, cfg, protocol, desc="tracking the training sequences").items():
        out[name] = np.vstack([np.full((1, 4), np.nan), pred[:-1]])
    return out


def train_siamfc(
    role: str,
    data_cfg: SOTDataConfig | None = None,
    train_cfg: TrainConfig | None = None,
    model_cfg: SiamFCConfig | None = None,
    checkpoint_path: str | Path | None = None,
    teachers: dict[str, nn.Module] | None = None,
    distiller_losses: list | None = None,
    train_sequences: list[SOTSequence] | None = None,
    val_sequences: list[SOTSequence] | None = None,
    sampler: Sampler | None = None,
    init_from: nn.Module | None = None,
    device: torch.device | str = "cpu",
    resume: bool = False,
    num_workers: int = 0,
    shift_of_reach: float = SOT_SHIFT_OF_REACH,
    pair_overrides: dict | None = None,
    search_boxes: dict[str, np.ndarray] | None = None,
    student_bn: str = "train",
) -> tuple[nn.Module, History]:
    """Train a SiamFC (``role`` preset ``"teacher"``/``"student"``), alone or distilled.

    ``init_from`` starts from another model's weights (a specialised teacher is fine-tuned from
    the general one); ``sampler`` re-weights training pairs (e.g. by attribute); ``shift_of_reach``
    and ``pair_overrides`` (any other :class:`SiamPairConfig` field): see :func:`siam_pair_config`;
    ``search_boxes``: where a tracker searched, for on-policy pairs (:func:`tracker_search_boxes`).
    ``student_bn``: ``"train"`` or ``"frozen"`` BatchNorm (:class:`~kdtrack_lite.distill.base.Distiller`).
    """
    data_cfg = data_cfg or SOTDataConfig.make()
    train_cfg = train_cfg or sot_train_config()
    torch.manual_seed(train_cfg.seed)
    model = build_siamfc(model_cfg or SiamFCConfig.preset(role))
    if init_from is not None:
        model.load_state_dict(init_from.state_dict())
    train_seqs = train_sequences if train_sequences is not None else make_sot_split("train", data_cfg)
    val_seqs = val_sequences if val_sequences is not None else make_sot_split("val", data_cfg)
    loader = sot_loader(train_seqs, data_cfg.batch_size, seed=train_cfg.seed, sampler=sampler,
                        pair_cfg=siam_pair_config(model.cfg, train_cfg.seed, shift_of_reach, **(pair_overrides or {})),
                        num_workers=num_workers, search_boxes=search_boxes)
    distiller = Distiller(model, SiamFCLoss(stride=model.cfg.stride), teachers=teachers,
                          losses=distiller_losses, forward=siamfc_forward, student_bn=student_bn)

    def validate(student: nn.Module) -> float:
        return float(evaluate_siamfc(student, val_seqs).overall.loc["ALL", "AUC"])

    # no validation sequences (a short fine-tune): no per-epoch validation, the last weights are kept
    history = fit(distiller, loader, train_cfg, validate=validate if val_seqs else None, maximize=True,
                  checkpoint_path=checkpoint_path, desc=f"sot {role}",
                  checkpoint_extra={"role": role, "data_config": data_cfg.to_dict(),
                                    "shift_of_reach": shift_of_reach, "pair_overrides": pair_overrides or {},
                                    "student_bn": student_bn},
                  device=device, resume=resume)
    return model, history
