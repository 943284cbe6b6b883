"""SDST recipes: specialised teachers fine-tuned per attribute, and the multi-teacher student.

PAPER FACTS (SDST): a general teacher plus teachers specialised on
challenging attributes (occlusion and fast motion named) distil one small Siamese student.

OUR DESIGN CHOICES:

* a specialist = the general SiamFC teacher fine-tuned on the training sequences asked to carry
  its attribute, drawing frames that carry it ``boost`` times as often
  (:func:`~kdtrack_lite.data.datasets.attribute_sampler`), optionally with the attribute's own
  pair augmentation and a weight-space interpolation back towards the general teacher
  (:class:`SpecialistConfig`); it counts as a *specialist* only if it beats the general teacher
  on held-out sequences carrying that attribute (:func:`check_specialist`, with a paired bootstrap
  interval, under one-pass or reset tracking), since a fine-tune on an attribute is not by
  itself better on it;
* four specialists: OCC (occlusion, partial or full), FM (fast motion), IV (illumination
  variation), SV (scale variation);
* student variants at an equal budget, all fine-tuned from the same student checkpoint:
  ``"alone"`` (task loss only), ``"general"`` (+ response KD and attention transfer from the
  general teacher), ``"fixed"`` and ``"adaptive"`` (+ specialised-teacher response KD per sample,
  :class:`~kdtrack_lite.distill.multi_teacher.SDSTKD`; adaptive = each gated teacher weighted by
  its own task loss on the sample).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ..checkpoint import save_checkpoint
from ..config import Config
from ..data.datasets import SiamesePairs, attribute_sampler
from ..data.sequence import SOTSequence
from ..data.sot_synth import SOTConfig, generate_sot_sequence
from ..distill.attention import AttentionTransfer
from ..distill.base import LossTerm
from ..distill.loop import History, TrainConfig
from ..distill.multi_teacher import SDSTKD
from ..eval.sot import success_auc
from ..eval.sot_protocol import score_sequences, track_sequences
from ..models.siamfc import siamfc_sample_loss
from .sot import (
    ATTRIBUTE_CYCLE,
    SOT_SHIFT_OF_REACH,
    SPLIT_SEED_BASE,
    SOTDataConfig,
    siam_pair_config,
    tracker_search_boxes,
    train_siamfc,
)

SPECIALIST_ATTRIBUTES: dict[str, tuple[str, ...]] = {"OCC": ("OCC",), "FM": ("FM",), "IV": ("IV",), "SV": ("SV",)}
VARIANTS = ("alone", "general", "fixed", "adaptive")


@dataclass
class SpecialistConfig(Config):
    """Budget and data of a specialist fine-tune and of its check (OUR CHOICES).

    Attributes:
        steps: fine-tuning steps (one epoch of ``steps``), batch ``batch_size``.
        lr: peak learning rate (lower than from-scratch training: we adapt, not relearn).
        boost: how much more often frames carrying the attribute are drawn.
        train_sequences, train_frames: training sequences carrying the attribute, and their length.
        check_sequences, check_frames: held-out (test-split seeds) sequences carrying the attribute.
        shift_of_reach: largest training shift as a share of the map's reach (:func:`siam_pair_config`).
        scale_jitter, brightness: :class:`~kdtrack_lite.data.datasets.SiamPairConfig` fields of the
            training pairs (``None``: the SOT recipe's); an attribute's own augmentation, e.g. wider
            scale jitter for SV, stronger lighting changes for IV.
        wise: weight-space interpolation with the general teacher, ``general + wise * (tuned -
            general)`` (:func:`interpolate_weights`); 1 keeps the fine-tuned weights.
        on_policy: share of training pairs cropped where the general teacher's tracker searched
            (:func:`~kdtrack_lite.train.sot.tracker_search_boxes`, ``SiamPairConfig.on_policy_prob``);
            0 (default) crops every pair around the true box.
        search_size: the training search crop's side (``None``: the model's); the tracker searches a
            1.25x wider crop than the 128-px training one, so on-policy pairs may want that side.
        student_bn: the fine-tuned model's BatchNorm, ``"train"`` (batch statistics, the shipped
            specialists') or ``"frozen"`` (:class:`~kdtrack_lite.distill.base.Distiller`).
    """

    steps: int = 100
    batch_size: int = 8
    lr: float = 5e-4
    boost: float = 8.0
    train_sequences: int = 60
    train_frames: int = 60
    check_sequences: int = 4
    check_frames: int = 80
    seed: int = 0
    shift_of_reach: float = SOT_SHIFT_OF_REACH
    scale_jitter: float | None = None
    brightness: float | None = None
    wise: float = 1.0
    on_policy: float = 0.0
    search_size: int | None = None
    student_bn: str = "train"
    FAST: ClassVar[dict] = {"steps": 6, "batch_size": 8, "train_sequences": 6, "train_frames": 30,
                            "check_sequences": 2, "check_frames": 40}


def attribute_sequences(split: str, attribute: str, count: int, num_frames: int, seed: int = 0) -> list[SOTSequence]:
    """The first ``count`` sequences of ``split`` whose :data:`ATTRIBUTE_CYCLE` slot carries ``attribute``.

    Same seeds and names as :func:`~kdtrack_lite.train.sot.make_sot_split` (so no test sequence
    is ever trained on); ``OCC`` matches the POC and FOC slots.
    """
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"attribute_sequences: split must be one of {sorted(SPLIT_SEED_BASE)}, got {split!r}")
    wanted = {"POC", "FOC"} if attribute == "OCC" else {attribute}
    slots = [i for i, pair in enumerate(ATTRIBUTE_CYCLE) if wanted & set(pair)]
    if not slots:
        raise ValueError(f"attribute_sequences: no ATTRIBUTE_CYCLE slot carries {attribute!r}; cycle = {ATTRIBUTE_CYCLE}")
    scene, base = SOTConfig.make(num_frames=num_frames), SPLIT_SEED_BASE[split] + 100 * seed
    out, i = [], 0
    while len(out) < count:
        if i % len(ATTRIBUTE_CYCLE) in slots:
            out.append(generate_sot_sequence(scene, seed=base + i, name=f"{split}-{i:02d}",
                                             attributes=list(ATTRIBUTE_CYCLE[i % len(ATTRIBUTE_CYCLE)])))
        i += 1
    return out


def interpolate_weights(general: nn.Module, tuned: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``tuned`` with every float tensor of its state (BatchNorm statistics included) at
    ``general + alpha * (tuned - general)``.

    OUR CHOICE, after WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR
    2022), which interpolates a fine-tuned model's weights with those it started from: a short
    fine-tune on one attribute moves a SiamFC a long way in weight space, and part of the move
    loses what the general teacher knew; ``alpha`` < 1 keeps part of it. The two models must share
    an architecture (the fine-tune starts from ``general``).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"interpolate_weights: alpha must be in [0, 1], got {alpha}")
    start, end = general.state_dict(), tuned.state_dict()
    if start.keys() != end.keys() or any(start[k].shape != end[k].shape for k in start):
        raise ValueError("interpolate_weights: the two models have different state_dict keys or shapes; "
                         "a specialist must be fine-tuned from the general teacher it is interpolated with")
    mixed = {k: torch.lerp(start[k].to(end[k]), end[k], alpha) if end[k].is_floating_point() else end[k]
             for k in end}
    out = copy.deepcopy(tuned)
    out.load_state_dict(mixed)
    return out


def train_specialist(general: nn.Module, attribute: str, cfg: SpecialistConfig | None = None,
                     checkpoint_path: str | Path | None = None, half: bool = True,
                     device: torch.device | str = "cpu",
                     sequences: list[SOTSequence] | None = None) -> tuple[nn.Module, History]:
    """Fine-tune a copy of ``general`` into the ``attribute`` specialist (module doc), then
    interpolate it with ``general`` by ``cfg.wise`` (:func:`interpolate_weights`).

    ``half``: store the checkpoint's weights in float16 (half the bytes; they load back into the
    float32 model, and the tracker's AUC is unchanged to within rounding). ``sequences``: the
    training sequences (default: the first ``cfg.train_sequences`` training sequences carrying
    ``attribute``, :func:`attribute_sequences`); a control may pass the general split instead.

    Returns:
        ``(specialist on the CPU, history)``; the checkpoint (if asked) records ``role="specialist"``,
        the attribute and the whole :class:`SpecialistConfig`.
    """
    if attribute not in SPECIALIST_ATTRIBUTES:
        raise ValueError(f"train_specialist: attribute must be one of {sorted(SPECIALIST_ATTRIBUTES)}, got {attribute!r}")
    cfg = cfg or SpecialistConfig.make()
    seqs = sequences if sequences is not None else attribute_sequences("train", attribute, cfg.train_sequences,
                                                                       cfg.train_frames, cfg.seed)
    overrides = {k: getattr(cfg, k) for k in ("scale_jitter", "brightness", "search_size") if getattr(cfg, k) is not None}
    search_boxes = None
    if cfg.on_policy > 0:
        overrides["on_policy_prob"] = cfg.on_policy
        search_boxes = tracker_search_boxes(general, seqs)
    pairs = SiamesePairs(seqs, siam_pair_config(general.cfg, cfg.seed, cfg.shift_of_reach, **overrides))
    sampler = attribute_sampler(pairs, list(SPECIALIST_ATTRIBUTES[attribute]), cfg.boost,
                                num_samples=cfg.steps * cfg.batch_size, seed=cfg.seed)
    data_cfg = SOTDataConfig.make(batch_size=cfg.batch_size, seed=cfg.seed)
    train_cfg = TrainConfig.make("full", epochs=1, steps_per_epoch=cfg.steps, lr=cfg.lr, patience=0,
                                 warmup_steps=min(20, cfg.steps // 4), seed=cfg.seed)
    model, history = train_siamfc("teacher", data_cfg, train_cfg, model_cfg=general.cfg, checkpoint_path=None,
                                  train_sequences=seqs, val_sequences=[], sampler=sampler, init_from=general,
                                  device=device, shift_of_reach=cfg.shift_of_reach, pair_overrides=overrides,
                                  search_boxes=search_boxes, student_bn=cfg.student_bn)
    model = model.cpu()
    if cfg.wise != 1.0:
        model = interpolate_weights(general, model, cfg.wise)
    if checkpoint_path is not None:
        stored = copy.deepcopy(model).half() if half else model
        save_checkpoint(checkpoint_path, stored, seed=cfg.seed, metrics={},
                        extra={"role": "specialist", "attribute": attribute, "specialist_config": cfg.to_dict(),
                               "history": history.to_dict(), "stored_dtype": "float16" if half else "float32"})
    return model, history


def attribute_auc(model: nn.Module, attribute: str, sequences: list[SOTSequence], protocol: str = "ope") -> dict:
    """Success AUC (0-100) of ``model`` on ``sequences``: over all scored frames and over
    the ``attribute`` frames -> ``{"ALL": auc, attribute: auc, "frames": attribute frames,
    "per_sequence": (S,) array}``.

    ``per_sequence[s]`` is sequence ``s``'s success AUC on its own ``attribute`` frames (NaN when it
    has none scored); the ``attribute`` AUC is their mean, as in
    :func:`~kdtrack_lite.eval.sot.evaluate_sot` (each sequence's curve counts once).

    ``protocol`` (:func:`~kdtrack_lite.eval.sot_protocol.track_sequences`): ``"ope"`` tracks each sequence
    once from its first frame (LaSOT's one-pass evaluation, the protocol of every shipped table);
    ``"reset"`` re-initialises the tracker 5 frames after each failure (VOT's reset protocol), the
    skipped frames scoring IoU 0. OUR CHOICE for checking a specialist: under OPE one loss early
    in a sequence decides all its later attribute frames, so the per-sequence AUCs swing by tens
    of points; under resets each attribute frame is mostly met while tracking, which is what a
    specialist's features can change.
    """
    results = track_sequences(model, sequences, protocol=protocol, desc=f"SOT eval ({attribute} check, {protocol})")
    report = score_sequences(results, sequences)
    table = report.per_attribute
    if attribute not in table.index:
        raise ValueError(f"no scored {attribute!r} frame in the given {len(sequences)} sequences")
    per_seq = np.full(len(sequences), np.nan)
    for i, seq in enumerate(sequences):
        mask = np.asarray(seq.frame_attributes.get(attribute, False), bool) & np.asarray(seq.visible, bool)
        if mask.any():
            per_seq[i] = 100 * success_auc(results[seq.name], seq.boxes_tlwh, valid=mask)
    return {"ALL": float(report.overall.loc["ALL", "AUC"]), attribute: float(table.loc[attribute, "AUC"]),
            "frames": int(table.loc[attribute, "frames"]), "per_sequence": per_seq}


def paired_interval(differences: np.ndarray, level: float = 0.95, draws: int = 2000,
                    seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sequence ``differences`` (NaN ignored),
    resampling sequences with replacement (OUR CHOICE: sequences, not frames, are the independent
    units -- one lost target spoils a whole run of frames)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        raise ValueError(f"paired_interval: need >= 2 sequences with a difference, got {len(d)}")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (draws, len(d)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def check_specialist(general: nn.Module, specialist: nn.Module, attribute: str,
                     sequences: list[SOTSequence], protocol: str = "ope") -> dict[str, float]:
    """Success AUC (0-100) of both teachers on the ``attribute`` frames of ``sequences``, and how
    sure the difference is.

    Returns:
        ``{"general": auc, "specialist": auc, "gain": specialist - general, "frames": n,
        "sequences": m, "ci_low": lo, "ci_high": hi}``: ``[lo, hi]`` is the 95 % paired bootstrap
        interval of the gain over the ``m`` sequences with attribute frames (:func:`paired_interval`;
        NaN with fewer than 2). A gain whose interval holds 0 is not shown to be one.
        ``protocol``: ``"ope"`` or ``"reset"`` (:func:`attribute_auc`).
    """
    out: dict[str, float] = {}
    per = {}
    for role, model in (("general", general), ("specialist", specialist)):
        scores = attribute_auc(model, attribute, sequences, protocol)
        out[role], out["frames"], per[role] = scores[attribute], scores["frames"], scores["per_sequence"]
    out["gain"] = out["specialist"] - out["general"]
    diff = per["specialist"] - per["general"]
    out["sequences"] = int(np.isfinite(diff).sum())
    out["ci_low"], out["ci_high"] = paired_interval(diff) if out["sequences"] >= 2 else (float("nan"),) * 2
    return out


@dataclass
class SDSTStudentConfig(Config):
    """Loss weights of the student variants (OUR CHOICES).

    Attributes:
        temperature: response KD temperature ``T``.
        kd_form: ``"softmax"`` or ``"bernoulli"`` response KD
            (:func:`~kdtrack_lite.distill.multi_teacher.per_sample_kd`).
        kd_weight: weight of the (general or SDST) response KD.
        at_beta: attention-transfer ``beta`` on taps ``at_taps`` (general teacher only).
        specialist_weight: ``a_k`` of the fixed scheme (general ``a_0`` = 1).
        tau: softmax temperature of the adaptive (loss-based) scheme.
        student_bn: the student's BatchNorm while fine-tuning, ``"train"`` or ``"frozen"``
            (:class:`~kdtrack_lite.distill.base.Distiller`), the same in every variant.
        boost: training frames carrying a specialist's attribute are drawn ``boost`` times as often
            (:func:`~kdtrack_lite.data.datasets.attribute_sampler`), in *every* variant, so all see
            the same pairs; 1 = uniform.
    """

    temperature: float = 4.0
    kd_form: str = "softmax"
    kd_weight: float = 1.0
    at_beta: float = 100.0
    at_taps: tuple[str, ...] = ("s4", "s8")
    specialist_weight: float = 1.0
    tau: float = 0.1
    student_bn: str = "train"
    boost: float = 1.0


def sdst_terms(variant: str, specialists: dict[str, tuple[str, ...]] | None = None,
               cfg: SDSTStudentConfig | None = None) -> list[LossTerm]:
    """The distillation terms of a student ``variant`` in :data:`VARIANTS` (module doc)."""
    if variant not in VARIANTS:
        raise ValueError(f"sdst_terms: variant must be one of {VARIANTS}, got {variant!r}")
    cfg = cfg or SDSTStudentConfig()
    if variant == "alone":
        return []
    at = AttentionTransfer(teacher="general", taps=cfg.at_taps, beta=cfg.at_beta)
    specs = {} if variant == "general" else dict(specialists or SPECIALIST_ATTRIBUTES)
    scheme = {"general": "fixed", "fixed": "fixed", "adaptive": "loss"}[variant]
    kd = SDSTKD(specialists=specs, scheme=scheme, temperature=cfg.temperature, form=cfg.kd_form,
                weight=cfg.kd_weight, specialist_weight=cfg.specialist_weight, tau=cfg.tau,
                sample_loss=siamfc_sample_loss if scheme == "loss" else None)
    return [kd, at]


def train_sdst_student(variant: str, student_init: nn.Module, general: nn.Module,
                       specialists: dict[str, nn.Module], train_sequences: list[SOTSequence],
                       train_cfg: TrainConfig, batch_size: int = 16, cfg: SDSTStudentConfig | None = None,
                       val_sequences: list[SOTSequence] | None = None,
                       checkpoint_path: str | Path | None = None,
                       device: torch.device | str = "cpu") -> tuple[nn.Module, History]:
    """Fine-tune ``student_init`` as ``variant`` at the budget ``train_cfg`` (equal for all variants).

    Args:
        specialists: ``{attribute: specialist model}``, keys in :data:`SPECIALIST_ATTRIBUTES`.
        val_sequences: validation sequences (``[]`` or ``None``: no validation, last weights kept).
    """
    teachers = {} if variant == "alone" else {"general": general}
    if variant in ("fixed", "adaptive"):
        unknown = sorted(set(specialists) - set(SPECIALIST_ATTRIBUTES))
        if unknown or not specialists:
            raise ValueError(f"train_sdst_student: specialists keys must be some of {sorted(SPECIALIST_ATTRIBUTES)}, "
                             f"got {sorted(specialists)}")
        teachers.update(specialists)
    cfg = cfg or SDSTStudentConfig()
    terms = sdst_terms(variant, {k: SPECIALIST_ATTRIBUTES[k] for k in specialists}, cfg)
    sampler = None
    if cfg.boost != 1.0:
        gated = sorted({a for k in specialists for a in SPECIALIST_ATTRIBUTES[k]})
        pairs = SiamesePairs(train_sequences, siam_pair_config(student_init.cfg, train_cfg.seed))
        sampler = attribute_sampler(pairs, gated, cfg.boost, seed=train_cfg.seed,
                                    num_samples=train_cfg.epochs * train_cfg.steps_per_epoch * batch_size
                                    if train_cfg.steps_per_epoch else None)
    return train_siamfc("student", SOTDataConfig.make(batch_size=batch_size, seed=train_cfg.seed), train_cfg,
                        model_cfg=student_init.cfg, checkpoint_path=checkpoint_path, teachers=teachers or None,
                        distiller_losses=terms, train_sequences=train_sequences,
                        val_sequences=val_sequences or [], init_from=student_init, device=device, sampler=sampler,
                        student_bn=cfg.student_bn)
