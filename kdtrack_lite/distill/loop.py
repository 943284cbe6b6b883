"""The one training loop: any :class:`~kdtrack_lite.distill.base.Distiller`, same budget for all.

Our design: a baseline student and every distilled student run this loop with the same
``TrainConfig`` (epochs x steps, optimiser, schedule), so "distillation helps" is measured at an
equal training budget. Validation after each epoch drives early stopping; the best weights are
restored at the end and, when a path is given, written as a self-describing checkpoint.

Written for a later multi-process launch: the loop only calls ``sampler.set_epoch`` when the
sampler has it, and logs/saves on rank 0 only when ``torch.distributed`` is initialised.
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

from ..checkpoint import save_checkpoint
from ..config import Config
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


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


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
) -> History:
    """Train ``distiller.student`` (and its loss terms' adapters) for ``cfg.epochs`` epochs.

    Args:
        distiller: student + teachers + losses; a student alone is ``Distiller(student, task_loss)``.
        train_loader: iterable of batch dicts (a ``DataLoader``).
        cfg: the budget and optimiser settings.
        validate: ``validate(student) -> float`` run after each epoch with the student in eval
            mode (e.g. validation HOTA or AUC); drives early stopping and best-weight restore.
        maximize: whether a larger validation value is better.
        checkpoint_path: where to write the best student (self-describing checkpoint).

    Returns:
        :class:`History`; the student holds the best weights seen (or the last, with no validation).
    """
    device = torch.device(device)
    distiller.to(device)
    params = distiller.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.steps_per_epoch or len(train_loader)  # type: ignore[arg-type]
    total_steps = steps * cfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total_steps, cfg))
    history, best_state, bad_epochs = History(), None, 0
    start = time.perf_counter()
    main = is_main_process()
    for epoch in range(cfg.epochs):
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
            _, losses = distiller.forward_train(batch)
            loss = total_loss(losses)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{desc}: loss became {loss.item()} at epoch {epoch + 1} "
                    f"({ {k: float(v) for k, v in losses.items()} }); lower TrainConfig.lr"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            seen += 1
            for key, value in {"loss": loss, **losses}.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}")
        record = {"epoch": epoch + 1, **{k: v / seen for k, v in sums.items()},
                  "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
        if validate is not None:
            distiller.eval()
            with torch.no_grad():
                metric = float(validate(distiller.student))
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
        if validate is not None and cfg.patience and bad_epochs >= cfg.patience and epoch + 1 >= cfg.min_epochs:
            history.stopped_early = True
            break
    if best_state is not None:
        distiller.student.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    distiller.eval()
    if checkpoint_path is not None and main:
        _save(checkpoint_path, distiller.student, cfg, history, checkpoint_extra)
    return history


def _save(path, student: nn.Module, cfg: TrainConfig, history: History, extra: dict[str, Any] | None) -> None:
    metrics = {} if history.best_metric is None else {"val": history.best_metric}
    save_checkpoint(path, student, seed=cfg.seed, metrics=metrics,
                    extra={"history": history.to_dict(), "train_config": cfg.to_dict(), **(extra or {})})
