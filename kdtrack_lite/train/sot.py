"""Training recipe for SiamFC trackers (teacher or student baseline; SDST reuses it).

OUR DESIGN: SOT splits are drawn from the synthetic engine with disjoint seed ranges; the i-th
sequence of every split is asked to carry the attribute pair ``ATTRIBUTE_CYCLE[i % 6]``, so each
split covers every LaSOT-style attribute and per-attribute scores have enough frames. Validation
runs the full tracker (multi-scale search, Hann window) and scores success AUC (OTB/LaSOT).
"""

from __future__ import annotations

from collections import Counter
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
from ..eval.sot import SOTReport, evaluate_sot, failure_attributes, frame_iou, success_auc
from ..models.siamfc import SiamFCConfig, SiamFCLoss, build_siamfc
from ..runtime import progress
from ..track.sot_tracker import SiamFCTracker, SOTTrackerConfig

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


def track_sot(model: nn.Module, seq: SOTSequence, cfg: SOTTrackerConfig | None = None) -> np.ndarray:
    """Run :class:`SiamFCTracker` from the first frame's true box -> predicted ``(T, 4)`` tlwh."""
    tracker = SiamFCTracker(model, cfg)
    tracker.init(seq.frames[0], seq.boxes_tlwh[0])
    pred = np.empty_like(seq.boxes_tlwh)
    pred[0] = seq.boxes_tlwh[0]
    for t in range(1, seq.num_frames):
        pred[t], _ = tracker.update(seq.frames[t])
    return pred


def track_sot_resets(model: nn.Module, seq: SOTSequence, cfg: SOTTrackerConfig | None = None,
                     skip: int = 5) -> tuple[np.ndarray, list[int]]:
    """Run :class:`SiamFCTracker` under the VOT reset protocol -> ``(pred (T, 4) tlwh, failures)``.

    The VOT supervised protocol (Kristan et al., VOT 2013-2019) separates *accuracy* (overlap
    while tracking) from *robustness* (how often the target is lost): a frame where the target is
    visible and the predicted box does not overlap it (IoU 0) is a **failure**; the tracker is
    re-initialised from the true box ``skip`` frames later (the first visible frame from there).
    Predictions of the frames in between are NaN (not tracking). OUR USE: an analysis of what a
    SiamFC loses to failures vs to box accuracy on our sequences; the scores of the shipped
    tables use the no-reset OPE protocol (:func:`track_sot`).

    Returns:
        pred: ``(T, 4)`` tlwh, NaN on the frames skipped after a failure.
        failures: frame indices of the failures.
    """
    tracker = SiamFCTracker(model, cfg)
    visible, gt = seq.visible, seq.boxes_tlwh
    pred = np.full_like(gt, np.nan)
    failures: list[int] = []
    restart = 0  # next frame to (re-)initialise on: the first, or the first visible one `skip` after a failure
    for t in range(seq.num_frames):
        if t < restart:
            continue
        if t == restart:
            if visible[t]:
                tracker.init(seq.frames[t], gt[t])
                pred[t] = gt[t]
            else:
                restart += 1
            continue
        pred[t], _ = tracker.update(seq.frames[t])
        if visible[t] and frame_iou(pred[t:t + 1], gt[t:t + 1])[0] == 0.0:
            failures.append(t)
            restart = t + skip
    return pred, failures


def tracker_search_boxes(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                         protocol: str = "reset") -> dict[str, np.ndarray]:
    """Where ``model``'s tracker searched at each frame -> ``{name: (T, 4) tlwh}``: its box of the
    frame before (NaN at frame 0 and after frames it did not track), for the on-policy pairs of
    :class:`~kdtrack_lite.data.datasets.SiamesePairs`. ``protocol``: :func:`track_sequences`;
    OUR CHOICE ``"reset"``, so the crops follow tracking up to each failure (the frame it is lost
    included) rather than a box that wandered off for the rest of the sequence."""
    out = {}
    for name, pred in track_sequences(model, sequences, cfg, protocol, desc="tracking the training sequences").items():
        out[name] = np.vstack([np.full((1, 4), np.nan), pred[:-1]])
    return out


def accuracy_robustness(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                        skip: int = 5) -> dict:
    """What a SiamFC loses to failures vs to box accuracy on ``sequences`` (OUR analysis; RESULTS.md,
    issue 5, session 16): each sequence tracked once in one pass (OPE, :func:`track_sot`) and once
    under the VOT reset protocol (:func:`track_sot_resets`).

    Returns:
        ``{"OPE AUC", "OPE: sequences never lost", "OPE AUC of those", "failures per sequence",
        "sequences without failure", "accuracy (AUC of tracked frames)", "accuracy, true box size",
        "failures by attribute", "per sequence"}``. AUCs in percent are means over sequences;
        "accuracy, true box size" scores each tracked frame's predicted centre with the true size
        (what the size estimate costs); "failures by attribute" counts, per
        :func:`~kdtrack_lite.eval.sot.failure_attributes` name (``"none"`` if a failure carries
        none), the failures whose frames carry it.
    """
    per_seq, by_attr = {}, Counter()
    for seq in progress(sequences, desc="OPE + resets"):
        gt, visible = seq.boxes_tlwh, seq.visible
        pred = track_sot(model, seq, cfg)
        reset_pred, fails = track_sot_resets(model, seq, cfg, skip=skip)
        tracking = visible & np.isfinite(reset_pred).all(axis=1)
        centred = np.c_[reset_pred[:, :2] + (reset_pred[:, 2:] - gt[:, 2:]) / 2, gt[:, 2:]]  # true size, same centre
        causes = [failure_attributes(seq.frame_attributes, visible, f) for f in fails]
        by_attr.update(a for c in causes for a in c or ["none"])
        per_seq[seq.name] = {"OPE AUC": 100 * success_auc(pred, gt, valid=visible),
                             "OPE lost": bool((frame_iou(pred, gt, valid=visible) == 0).any()),
                             "tracked AUC": 100 * success_auc(reset_pred, gt, valid=tracking),
                             "true size AUC": 100 * success_auc(centred, gt, valid=tracking),
                             "failures": [{"frame": f, "causes": c} for f, c in zip(fails, causes)]}
    rows = per_seq.values()
    never = [r["OPE AUC"] for r in rows if not r["OPE lost"]]
    return {"OPE AUC": float(np.mean([r["OPE AUC"] for r in rows])),
            "OPE: sequences never lost": len(never),
            "OPE AUC of those": float(np.mean(never)) if never else float("nan"),
            "failures per sequence": sum(len(r["failures"]) for r in rows) / len(per_seq),
            "sequences without failure": sum(not r["failures"] for r in rows),
            "accuracy (AUC of tracked frames)": float(np.mean([r["tracked AUC"] for r in rows])),
            "accuracy, true box size": float(np.mean([r["true size AUC"] for r in rows])),
            "failures by attribute": by_attr,
            "per sequence": per_seq}


SOT_PROTOCOLS = ("ope", "reset")  # one pass (LaSOT, the shipped tables) / VOT re-initialisation after failures


def track_sequences(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                    protocol: str = "ope", desc: str = "SOT eval") -> dict[str, np.ndarray]:
    """Track every sequence -> ``{name: (T, 4) tlwh}``, under ``protocol``: ``"ope"`` one pass from
    the first frame's true box (:func:`track_sot`), ``"reset"`` re-initialised 5 frames after each
    failure (:func:`track_sot_resets`; the skipped frames are NaN and score IoU 0)."""
    if protocol not in SOT_PROTOCOLS:
        raise ValueError(f"protocol must be one of {SOT_PROTOCOLS}, got {protocol!r}")
    was_training = model.training
    model.eval()
    try:
        return {s.name: track_sot(model, s, cfg) if protocol == "ope" else track_sot_resets(model, s, cfg)[0]
                for s in progress(sequences, desc=desc)}
    finally:
        model.train(was_training)


def evaluate_siamfc(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                    protocol: str = "ope") -> SOTReport:
    """Success AUC / precision overall and per attribute on ``sequences`` (frames with the target
    fully occluded or out of view are not scored, as in LaSOT); ``protocol``: :func:`track_sequences`."""
    return score_sequences(track_sequences(model, sequences, cfg, protocol), sequences)


def score_sequences(results: dict[str, np.ndarray], sequences: list[SOTSequence]) -> SOTReport:
    """:func:`~kdtrack_lite.eval.sot.evaluate_sot` of ``{name: (T, 4) tlwh}`` against ``sequences``'
    boxes, frame attributes and visibility."""
    return evaluate_sot(results, {s.name: s.boxes_tlwh for s in sequences},
                        frame_attributes={s.name: s.frame_attributes for s in sequences},
                        valid={s.name: s.visible for s in sequences})


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
