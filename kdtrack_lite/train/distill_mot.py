"""AttTrack component (1), cross-model feature learning: distil the MOT teacher into the student.

PAPER FACT (AttTrack): a lightweight student learns from a complex teacher by
aligning their *intermediate* representations. The paper's building blocks we use are FitNets
hints (Romero et al. 2015) and attention transfer (Zagoruyko & Komodakis 2017).

OUR DESIGN CHOICES (one recipe shared by the notebooks, ``benchmarks/distill_mot.py`` and
``kdtrack distill mot``):

* losses are picked by name: ``"hint"`` (FitNets, :class:`~kdtrack_lite.distill.hint.HintLoss`),
  ``"at"`` (:class:`~kdtrack_lite.distill.attention.AttentionTransfer`) and ``"kd"`` (response KD
  on the detector heads, :class:`~kdtrack_lite.distill.response.ResponseKD`), in any combination;
  an empty list is the student alone, trained by the same loop at the same budget;
* taps ``s8``, ``s16`` and ``neck``: both models share strides, so every pair has the same
  spatial size; ``s4`` is left out because the student's stride-4 stage (16 channels) is the
  weakest place to ask for the teacher's 48-channel features;
* the student is *fine-tuned* from the shipped baseline checkpoint (``init_from``), which keeps
  every compared variant at the same starting point and the same number of steps.

Command line: ``kdtrack distill mot --losses hint,at --out runs/mot_hint_at.pt [--fast --seed N
--epochs E --steps S --threads T]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import load_checkpoint
from ..config import Config, current_profile
from ..data.sequence import MOTSequence
from ..distill.attention import AttentionTransfer
from ..distill.base import LossTerm
from ..distill.hint import HintConfig, HintLoss
from ..distill.loop import History, TrainConfig
from ..distill.response import ResponseKD
from ..models.centertrack import DetectorConfig, build_centertrack
from ..paths import samples_dir
from .mot import MOTDataConfig, detector_forward, mot_train_config, train_mot_detector

LOSS_NAMES = ("hint", "at", "kd")


@dataclass
class MOTDistillConfig(Config):
    """Which taps each distillation term reads, and its weight (OUR DESIGN CHOICES).

    Attributes:
        hint_taps: taps given FitNets hints (one regressor each).
        hint_weight: multiplier of ``loss_hint``; 0.1 brings the summed hint loss of the shipped
            pair (about 7.5 at the start, three taps) to the scale of the task loss (about 2).
        hint_kind: regressor kernel, ``"conv1x1"`` or ``"conv3x3"``.
        hint_region: where hints imitate: ``"all"`` or ``"objects"`` (:mod:`~kdtrack_lite.distill.regions`).
        at_taps: taps whose attention maps are matched.
        at_beta: AT weight ``beta`` (the term is ``beta / 2 * sum_taps L_AT``; 1e3 in the AT code).
        at_p: attention power ``p`` (2 in the AT paper).
        at_region: where attention maps are compared: ``"all"`` or ``"objects"``.
        kd_temperature: heatmap KD temperature ``T``.
        kd_weight: multiplier of the heatmap KD term.
        kd_reg_weight: multiplier of the regression-head KD term (``wh``, ``reg``, ``tracking``
            matched at the teacher's object centres; :class:`~kdtrack_lite.distill.response.ResponseKD`).
        teacher: name of the teacher in the Distiller.
    """

    hint_taps: tuple[str, ...] = ("s8", "s16", "neck")
    hint_weight: float = 0.1
    hint_kind: str = "conv1x1"
    hint_region: str = "all"
    at_taps: tuple[str, ...] = ("s8", "s16", "neck")
    at_beta: float = 1e3
    at_p: float = 2.0
    at_region: str = "all"
    kd_temperature: float = 2.0
    kd_weight: float = 1.0
    kd_reg_weight: float = 0.1
    teacher: str = "teacher"


# The fine-tune every compared MOT student gets (FULL): from the shipped student, a low learning
# rate with a cosine decay, so that fine-tuning alone does not lower the student it starts from.
MOT_FINETUNE_FULL = {"epochs": 4, "steps_per_epoch": 100, "lr": 2e-4, "warmup_steps": 20, "patience": 0}
MOT_FINETUNE_FAST = {"epochs": 2, "steps_per_epoch": 15, "lr": 2e-4, "warmup_steps": 5, "patience": 0}


def mot_finetune_config(profile: str | None = None, **overrides) -> TrainConfig:
    """The fine-tune budget of the compared MOT students (:data:`MOT_FINETUNE_FULL`; FAST: a few steps)."""
    profile = profile or current_profile()
    budget = MOT_FINETUNE_FULL if profile == "full" else MOT_FINETUNE_FAST
    return TrainConfig.make(profile, **{**budget, **overrides})


def parse_losses(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"hint,at"`` / ``["hint", "at"]`` / ``"none"`` -> ``("hint", "at")`` / ``()``; unknown names raise."""
    if spec is None:
        return ()
    parts = [p.strip().lower() for p in (spec.split(",") if isinstance(spec, str) else spec)]
    parts = [p for p in parts if p and p not in ("none", "student")]
    unknown = sorted(set(parts) - set(LOSS_NAMES))
    if unknown:
        raise ValueError(f"losses: unknown name(s) {unknown}; expected a comma list of {LOSS_NAMES} or 'none'")
    if len(set(parts)) != len(parts):
        raise ValueError(f"losses: a name is repeated in {spec!r}")
    return tuple(n for n in LOSS_NAMES if n in parts)  # canonical order


def loss_label(names: Sequence[str]) -> str:
    """Table label of a loss combination: ``()`` -> ``"student"``, ``("hint", "at")`` -> ``"+hint+at"``."""
    return "student" if not names else "".join(f"+{n}" for n in names)


def _probe_batch(student: nn.Module, size_hw: tuple[int, int] = (64, 64)) -> dict[str, torch.Tensor]:
    """A zero batch of the detector's inputs: enough to read every tap's channels (sizes follow the strides)."""
    h, w = size_hw
    image = torch.zeros(1, 3, h, w)
    return {"image": image, "prev_image": image, "prior_hm": torch.zeros(1, 1, h, w)}


def build_mot_losses(names: str | Sequence[str], student: nn.Module, teacher: nn.Module,
                     cfg: MOTDistillConfig | None = None) -> list[LossTerm]:
    """The distillation terms named in ``names`` for this teacher/student pair.

    Args:
        names: e.g. ``"hint,at"`` or ``["kd"]`` (see :func:`parse_losses`).
        student, teacher: CenterTrack detectors exposing ``taps()``.
        cfg: taps and weights (default ``MOTDistillConfig()``).

    Returns:
        Loss terms for :class:`~kdtrack_lite.distill.base.Distiller`; FitNets regressors are
        sized from one forward of each model on a small zero batch.
    """
    cfg = cfg or MOTDistillConfig()
    terms: list[LossTerm] = []
    for name in parse_losses(names):
        if name == "hint":
            terms.append(HintLoss.from_models(student, teacher, list(cfg.hint_taps), _probe_batch(student),
                                              forward=detector_forward,
                                              cfg=HintConfig(teacher=cfg.teacher, weight=cfg.hint_weight,
                                                             kind=cfg.hint_kind, region=cfg.hint_region)))
        elif name == "at":
            terms.append(AttentionTransfer(taps=tuple(cfg.at_taps), beta=cfg.at_beta, p=cfg.at_p, teacher=cfg.teacher,
                                           region=cfg.at_region))
        else:
            terms.append(ResponseKD(teacher=cfg.teacher, temperature=cfg.kd_temperature, hm_weight=cfg.kd_weight,
                                    reg_weight=cfg.kd_reg_weight))
    return terms


def shipped_detector(name: str, root: str | Path | None = None) -> nn.Module:
    """The model of ``data_samples/checkpoints/{name}.pt`` (e.g. ``"mot_student_x2_kd_s0"``), built, in eval mode."""
    folder = Path(root) if root is not None else samples_dir() / "checkpoints"
    return load_checkpoint(folder / f"{name}.pt").build().eval()


def shipped_mot_pair(root: str | Path | None = None) -> tuple[nn.Module, nn.Module]:
    """``(teacher, student)`` built from ``data_samples/checkpoints/mot_{teacher,student}.pt``, in eval mode."""
    return shipped_detector("mot_teacher", root), shipped_detector("mot_student", root)


def distilled_name(losses: str | Sequence[str] | None, seed: int, arch: str = "student") -> str:
    """Checkpoint name of a shipped student: ``("kd",), 0`` -> ``"mot_student_kd_s0"``; no loss -> ``..._alone_s0``;
    ``arch="student_x2"`` -> ``"mot_student_x2_kd_s0"``."""
    names = parse_losses(losses)
    return f"mot_{arch}_{'_'.join(names) if names else 'alone'}_s{seed}"


def fresh_student(arch: str, seed: int) -> nn.Module:
    """An untrained detector of preset ``arch`` whose initial weights depend only on ``seed``."""
    torch.manual_seed(seed)
    return build_centertrack(DetectorConfig.preset(arch)).eval()


def load_or_distill(losses: str | Sequence[str] | None, seed: int, teacher: nn.Module, student: nn.Module | None,
                    arch: str | None = None, cfg: MOTDistillConfig | None = None,
                    root: str | Path | None = None) -> nn.Module:
    """A shipped distilled (or alone) student if it ships, else one trained now in the FAST profile.

    Two recipes, the same as ``kdtrack distill mot``: with ``arch=None``, a fine-tune of ``student``
    (:func:`mot_finetune_config`); with ``arch`` (e.g. ``"student_x2"``), a fresh student of that
    preset trained from scratch with the losses (:func:`~kdtrack_lite.train.mot.mot_train_config`).
    Shipped: ``data_samples/checkpoints/{distilled_name(losses, seed, arch)}.pt`` (FULL budget,
    commands in ``MANIFEST.json``). Missing: the same recipe in the FAST profile, with a printed
    line saying so, so that a notebook still runs end to end.
    """
    folder = Path(root) if root is not None else samples_dir() / "checkpoints"
    path = folder / f"{distilled_name(losses, seed, arch or 'student')}.pt"
    if path.is_file():
        return load_checkpoint(path).build().eval()
    print(f"{path.name} does not ship: training it now (FAST profile)")
    data = MOTDataConfig.make("fast", world="mixed")
    if arch is None:
        model, _ = distill_mot_student(losses, teacher, student, data, mot_finetune_config("fast", seed=seed), cfg)
    else:
        model, _ = distill_mot_student(losses, teacher, fresh_student(arch, seed), data,
                                       mot_train_config("fast", seed=seed), cfg)
    return model.eval()


def distill_mot_student(
    losses: str | Sequence[str] | None,
    teacher: nn.Module,
    student_init: nn.Module,
    data_cfg: MOTDataConfig | None = None,
    train_cfg: TrainConfig | None = None,
    cfg: MOTDistillConfig | None = None,
    checkpoint_path: str | Path | None = None,
    train_sequences: list[MOTSequence] | None = None,
    val_sequences: list[MOTSequence] | None = None,
    terms: list[LossTerm] | None = None,
    **fit_options,
) -> tuple[nn.Module, History]:
    """Fine-tune a copy of ``student_init`` with the named distillation losses (none = alone).

    Every call with the same ``train_cfg`` runs the same loop for the same number of steps from
    the same weights, so the returned students compare at an equal training budget.

    Args:
        losses: loss names (:func:`parse_losses`); ``""`` or ``"none"`` trains the student alone.
        teacher: the frozen teacher detector (not modified).
        student_init: the starting student (not modified; its weights are copied).
        data_cfg, train_cfg: as in :func:`~kdtrack_lite.train.mot.train_mot_detector`.
        cfg: taps and weights of the terms.
        checkpoint_path: where to write the best student (self-describing checkpoint).
        train_sequences, val_sequences: pre-generated splits (default: generated from ``data_cfg``).
        terms: ready-built loss terms (e.g. from :func:`build_mot_losses`, kept by the caller to
            inspect the trained FitNets regressors afterwards); then ``losses`` must be ``None``.
        **fit_options: ``device``, ``resume``, ``num_workers`` of
            :func:`~kdtrack_lite.train.mot.train_mot_detector`.

    Returns:
        ``(student, history)``: the best student by validation HOTA, and the training history.
    """
    cfg = cfg or MOTDistillConfig()
    if terms is None:
        terms = build_mot_losses(parse_losses(losses), student_init, teacher, cfg)
    elif losses is not None:
        raise ValueError("distill_mot_student: give loss names or ready-built terms, not both")
    return train_mot_detector("student", data_cfg, train_cfg, checkpoint_path=checkpoint_path,
                              distiller_losses=terms, teachers={cfg.teacher: teacher} if terms else None,
                              train_sequences=train_sequences, val_sequences=val_sequences, init_from=student_init,
                              checkpoint_extra={"distill": {"losses": [t.name for t in terms], **cfg.to_dict()}},
                              **fit_options)

