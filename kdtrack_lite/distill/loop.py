"""The one training loop: any :class:`~kdtrack_lite.distill.base.Distiller`, same budget for all.

Our design: a baseline student and every distilled student run this loop with the same
``TrainConfig`` (epochs x steps, optimiser, schedule), so "distillation helps" is measured at an
equal training budget. Validation after each epoch drives early stopping; the best weights are
restored at the end and, when a path is given, written as a self-describing checkpoint.

Multi-process (``torchrun``, see :mod:`kdtrack_lite.distributed`): when a process group is
running, the training step is wrapped in ``DistributedDataParallel`` (gradients averaged across
ranks), the sampler's ``set_epoch`` is called, validation runs on rank 0 and its result is
broadcast so every rank stops at the same epoch, and only rank 0 logs and writes files.

Resumable: with ``resume=True`` and a checkpoint path, the loop writes ``<checkpoint>.resume``
after every epoch (student, adapters, optimiser, scheduler, epoch, history, best weights so far,
RNG states including the loader's generator) and, when that file exists at start, continues from
it; a killed run thus loses at most the epoch in progress, and the resumed run ends with the same
weights as an uninterrupted one (``tests/test_distributed.py``). The file is removed when the
run finishes.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import save_checkpoint
from ..config import Config
from ..distributed import is_distributed, is_main_process
from ..fileio import atomic_path
from ..runtime import progress
from .base import Distiller, total_loss

_log = logging.getLogger(__name__)


@dataclass
class TrainConfig(Config):
    epochs: int = 20
    steps_per_epoch: int | None = None  # None: one pass over the loader
    lr: float = 2e-3
    weight_decay: float = 1e-4
    grad_clip: float = 10.0  # max gradient norm (0: off)
    scheduler: str = "cosine"  # "cosine" (per step, to 0) or "constant"
    warmup_steps: int = 20
    patience: int = 6  # epochs without a better validation metric before stopping (0: never)
    min_epochs: int = 0  # never stop earlier (a metric stuck at its floor early on says little)
    min_delta: float = 1e-4
    seed: int = 0
    amp: str = "off"  # mixed precision: "off", "bf16" (CPU or GPU) or "fp16" (GPU, with a GradScaler)
    compile: bool = False  # torch.compile the student (in place: checkpoints keep their keys)
    FAST: ClassVar[dict] = {"epochs": 3, "steps_per_epoch": 25, "patience": 0, "warmup_steps": 5}


def recipe_train_config(full_budget: dict[str, Any], profile: str | None = None, **overrides: Any) -> TrainConfig:
    """A recipe's :class:`TrainConfig`: ``full_budget`` (its epochs x steps) in the FULL profile,
    TrainConfig's own FAST values in the FAST profile, then ``overrides``."""
    from ..config import current_profile

    profile = profile or current_profile()
    return TrainConfig.make(profile, **({**full_budget, **overrides} if profile == "full" else overrides))


@dataclass
class History:
    """Per-epoch records, the best validation metric and where it happened."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_metric: float | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    def losses(self, key: str = "loss") -> list[float]:
        return [e[key] for e in self.epochs]

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "best_epoch": self.best_epoch, "best_metric": self.best_metric,
                "stopped_early": self.stopped_early, "seconds": self.seconds}


def _lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.scheduler == "constant":
        return 1.0
    if cfg.scheduler == "cosine":
        progress_frac = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress_frac)))
    raise ValueError(f"TrainConfig.scheduler must be 'cosine' or 'constant', got {cfg.scheduler!r}")


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def resume_path(checkpoint_path: str | Path) -> Path:
    """Where :func:`fit` keeps the training state of a resumable run: ``<checkpoint>.resume``."""
    return Path(str(checkpoint_path) + ".resume")


class _TrainStep(nn.Module):
    """``forward(batch) = distiller.forward_train(batch)``: the module DDP wraps, so gradient
    averaging covers the student, the task loss's parameters and the adapters together."""

    def __init__(self, distiller: Distiller):
        super().__init__()
        self.distiller = distiller

    def forward(self, batch: Any) -> tuple[Any, dict[str, torch.Tensor]]:
        return self.distiller.forward_train(batch)


def _rng_state(loader: Iterable) -> dict[str, Any]:
    generator = getattr(loader, "generator", None)
    return {"torch": torch.get_rng_state(), "loader": generator.get_state() if generator is not None else None,
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict[str, Any], loader: Iterable) -> None:
    torch.set_rng_state(state["torch"])
    generator = getattr(loader, "generator", None)
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _autocast(device: torch.device, amp: str):
    if amp not in ("off", "bf16", "fp16"):
        raise ValueError(f"TrainConfig.amp must be 'off', 'bf16' or 'fp16', got {amp!r}")
    dtype = torch.float16 if amp == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=amp != "off")


def fit(
    distiller: Distiller,
    train_loader: Iterable,
    cfg: TrainConfig,
    validate: Callable[[nn.Module], float] | None = None,
    maximize: bool = True,
    device: torch.device | str = "cpu",
    checkpoint_path: str | Path | None = None,
    checkpoint_extra: dict[str, Any] | None = None,
    desc: str = "train",
    resume: bool = False,
) -> History:
    """Train ``distiller.student`` (and its loss terms' adapters) for ``cfg.epochs`` epochs.

    Args:
        distiller: student + teachers + losses; a student alone is ``Distiller(student, task_loss)``.
        train_loader: iterable of batch dicts (a ``DataLoader``; per-rank shards when distributed,
            see :func:`kdtrack_lite.distributed.make_loader`).
        cfg: the budget and optimiser settings (``amp``, ``compile`` for the GPU path).
        validate: ``validate(student) -> float`` run after each epoch with the student in eval
            mode (e.g. validation HOTA or AUC); drives early stopping and best-weight restore.
        maximize: whether a larger validation value is better.
        checkpoint_path: where to write the best student (self-describing checkpoint).
        resume: keep ``<checkpoint_path>.resume`` after every epoch and continue from it when it
            exists (needs ``checkpoint_path``).

    Returns:
        :class:`History`; the student holds the best weights seen (or the last, with no validation).
        Whether training ends or raises, the distiller's feature hooks are removed
        (:meth:`Distiller.remove_taps`): the student and the teachers then run as plain models.
    """
    try:
        return _fit(distiller, train_loader, cfg, validate, maximize, device, checkpoint_path, checkpoint_extra,
                    desc, resume)
    finally:
        distiller.remove_taps()


def _fit(distiller: Distiller, train_loader: Iterable, cfg: TrainConfig, validate, maximize: bool, device,
         checkpoint_path, checkpoint_extra, desc: str, resume: bool) -> History:
    if resume and checkpoint_path is None:
        raise ValueError("fit(resume=True) needs a checkpoint_path (the resume file sits beside it)")
    device = torch.device(device)
    distiller.to(device)
    if cfg.compile:
        distiller.student.compile()  # in place: state_dict keys (and checkpoints) are unchanged
    params = distiller.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.steps_per_epoch or len(train_loader)  # type: ignore[arg-type]
    total_steps = steps * cfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total_steps, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    step_module: nn.Module = _TrainStep(distiller)
    if is_distributed():
        step_module = DistributedDataParallel(step_module, device_ids=[device.index] if device.type == "cuda" else None)
    history, best_state, bad_epochs, first_epoch = History(), None, 0, 0
    state_file = resume_path(checkpoint_path) if resume else None
    if state_file is not None and state_file.exists():
        state = torch.load(state_file, map_location=device, weights_only=False)
        distiller.load_state_dict(state["distiller"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        history = History(**state["history"])
        best_state, bad_epochs, first_epoch = state["best_state"], state["bad_epochs"], state["epoch"]
        _set_rng_state(state["rng"], train_loader)
        _log.info("%s: resuming from %s after epoch %d", desc, state_file, first_epoch)
    start = time.perf_counter() - history.seconds
    main = is_main_process()
    for epoch in range(first_epoch, cfg.epochs):
        sampler = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        distiller.train()
        sums: dict[str, float] = {}
        seen = 0
        iterator = iter(train_loader)
        bar = progress(range(steps), desc=f"{desc} {epoch + 1}/{cfg.epochs}", disable=not main)
        for _ in bar:
            try:
                batch = next(iterator)
            except StopIteration:
                iterator = iter(train_loader)
                batch = next(iterator)
            batch = _to_device(batch, device)
            with _autocast(device, cfg.amp):
                _, losses = step_module(batch)
                loss = total_loss(losses)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{desc}: loss became {loss.item()} at epoch {epoch + 1} "
                    f"({ {k: float(v) for k, v in losses.items()} }); lower TrainConfig.lr"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            seen += 1
            for key, value in {"loss": loss, **losses}.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}")
        record = {"epoch": epoch + 1, **{k: v / seen for k, v in sums.items()},
                  "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
        if validate is not None:
            distiller.eval()
            metric = _validate_on_rank0(validate, distiller.student)
            record["val"] = metric
            better = history.best_metric is None or (
                metric > history.best_metric + cfg.min_delta if maximize
                else metric < history.best_metric - cfg.min_delta)
            history.epochs.append(record)
            if better:
                history.best_metric, history.best_epoch, bad_epochs = metric, epoch + 1, 0
                best_state = copy.deepcopy(distiller.student.state_dict())
                if checkpoint_path is not None and main:  # a long run keeps its best so far on disk
                    _save(checkpoint_path, distiller.student, cfg, history, checkpoint_extra)
            else:
                bad_epochs += 1
        else:
            history.epochs.append(record)
        if main:
            _log.info("%s epoch %d/%d: %s", desc, epoch + 1, cfg.epochs,
                      ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"))
        history.seconds = time.perf_counter() - start
        if state_file is not None and main:
            with atomic_path(state_file) as tmp:
                torch.save({"epoch": epoch + 1, "distiller": distiller.state_dict(),
                            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                            "scaler": scaler.state_dict(), "history": history.to_dict(), "best_state": best_state,
                            "bad_epochs": bad_epochs, "rng": _rng_state(train_loader)}, tmp)
        if validate is not None and cfg.patience and bad_epochs >= cfg.patience and epoch + 1 >= cfg.min_epochs:
            history.stopped_early = True
            break
    if best_state is not None:
        distiller.student.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    distiller.eval()
    if checkpoint_path is not None and main:
        _save(checkpoint_path, distiller.student, cfg, history, checkpoint_extra)
        if state_file is not None:
            state_file.unlink(missing_ok=True)  # finished: the checkpoint holds the result
    if is_distributed():
        dist.barrier()
    return history


def _validate_on_rank0(validate: Callable[[nn.Module], float], student: nn.Module) -> float:
    """Rank 0 validates; every rank gets its number (so all stop at the same epoch)."""
    metric = [float("nan")]
    if is_main_process():
        with torch.no_grad():
            metric[0] = float(validate(student))
    if is_distributed():
        dist.broadcast_object_list(metric, src=0)
    return metric[0]


def _save(path, student: nn.Module, cfg: TrainConfig, history: History, extra: dict[str, Any] | None) -> None:
    metrics = {} if history.best_metric is None else {"val": history.best_metric}
    save_checkpoint(path, student, seed=cfg.seed, metrics=metrics,
                    extra={"history": history.to_dict(), "train_config": cfg.to_dict(), **(extra or {})})
