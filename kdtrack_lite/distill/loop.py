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
after every epoch (:mod:`.resume`) and, when that file exists at start, continues from it; a
killed run thus loses at most the epoch in progress. When the run finishes, the file and any
temporary files left by killed writes are removed.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
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
from ..fileio import check_writable_file, remove_stale_temps
from ..runtime import progress
from .base import Distiller, total_loss
from .resume import ResumeFile, resume_path

_log = logging.getLogger(__name__)

_END = object()  # what next(iterator, _END) returns once a loader is exhausted


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


class _TrainStep(nn.Module):
    """``forward(batch) = distiller.forward_train(batch)``: the module DDP wraps, so gradient
    averaging covers the student, the task loss's parameters and the adapters together."""

    def __init__(self, distiller: Distiller):
        super().__init__()
        self.distiller = distiller

    def forward(self, batch: Any) -> tuple[Any, dict[str, torch.Tensor]]:
        return self.distiller.forward_train(batch)


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
        return _fit(distiller=distiller, train_loader=train_loader, cfg=cfg, validate=validate, maximize=maximize,
                    device=torch.device(device), checkpoint_path=checkpoint_path,
                    checkpoint_extra=checkpoint_extra, desc=desc, resume=resume)
    finally:
        distiller.remove_taps()


@dataclass
class Optimisation:
    """What a step advances besides the weights: AdamW, its learning-rate schedule (warm-up, then
    ``cfg.scheduler``) and the fp16 gradient scaler (a no-op unless ``cfg.amp == "fp16"``)."""

    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler

    @classmethod
    def make(cls, distiller: Distiller, cfg: TrainConfig, total_steps: int, device: torch.device) -> "Optimisation":
        params = distiller.trainable_parameters()
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total_steps, cfg))
        return cls(params, optimizer, scheduler, torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16"))


@dataclass
class _RunState:
    """Where a run stands after ``epoch`` epochs: the history, the best student weights so far and
    the epochs since the validation metric last improved (early stopping)."""

    history: History = field(default_factory=History)
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    epoch: int = 0

    def note_validation(self, metric: float, student: nn.Module, cfg: TrainConfig, maximize: bool) -> bool:
        """Record this epoch's ``metric``; when it beats the best by more than ``cfg.min_delta``, keep a
        copy of the student's weights. Returns whether it did."""
        best = self.history.best_metric
        improved = best is None or (metric > best + cfg.min_delta if maximize else metric < best - cfg.min_delta)
        if not improved:
            self.bad_epochs += 1
            return False
        self.history.best_metric, self.history.best_epoch, self.bad_epochs = metric, self.epoch, 0
        self.best_state = copy.deepcopy(student.state_dict())
        return True

    @classmethod
    def restore(cls, resume_file: ResumeFile) -> "_RunState":
        """The state a resume file left (its weights, optimiser and RNG states loaded in place)."""
        saved = resume_file.restore()
        return cls(history=History(**saved["history"]), best_state=saved["best_state"],
                   bad_epochs=saved["bad_epochs"], epoch=saved["epoch"])

    def save(self, resume_file: ResumeFile) -> None:
        """Write this state, with the weights, optimiser and RNG states, to ``resume_file``."""
        resume_file.write(epoch=self.epoch, history=self.history.to_dict(), best_state=self.best_state,
                          bad_epochs=self.bad_epochs)

    def patience_spent(self, cfg: TrainConfig) -> bool:
        """Early stopping: ``cfg.patience`` epochs without improvement (0: never), after ``cfg.min_epochs``."""
        return bool(cfg.patience) and self.bad_epochs >= cfg.patience and self.epoch >= cfg.min_epochs


def train_step(step_module: nn.Module, batch: Any, *, optim: Optimisation, cfg: TrainConfig,
               device: torch.device, where: str = "train") -> dict[str, torch.Tensor]:
    """One optimiser step on ``batch``: the summed loss back-propagated, gradients clipped, AdamW and
    the learning-rate schedule advanced.

    Args:
        step_module: ``step_module(batch) -> (student_out, {"loss_*": tensor})`` -- the distiller's
            ``forward_train`` (wrapped in DDP when distributed, so gradients are averaged over ranks).
        batch: a batch already on ``device``.
        optim: the optimiser, schedule and gradient scaler the step advances.
        cfg: ``amp`` (autocast dtype) and ``grad_clip`` (max gradient norm, 0: off).
        where: names the run and epoch in the error below.

    Returns:
        ``{"loss": the total that was minimised, **the loss terms}``.

    Raises:
        FloatingPointError: the loss is NaN or infinite (no step is taken).
    """
    with _autocast(device, cfg.amp):
        _, losses = step_module(batch)
        loss = total_loss(losses)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{where}: loss became {loss.item()} "
                                 f"({ {k: float(v) for k, v in losses.items()} }); lower TrainConfig.lr")
    optim.optimizer.zero_grad(set_to_none=True)
    optim.scaler.scale(loss).backward()  # fp16: scaled so small gradients do not underflow
    if cfg.grad_clip > 0:
        optim.scaler.unscale_(optim.optimizer)  # clip the true gradients, not the scaled ones
        torch.nn.utils.clip_grad_norm_(optim.params, cfg.grad_clip)
    optim.scaler.step(optim.optimizer)
    optim.scaler.update()
    optim.scheduler.step()
    return {"loss": loss, **losses}


def _batches(loader: Iterable, steps: int) -> Iterator[Any]:
    """``steps`` batches of ``loader``, starting it again whenever it runs out."""
    iterator = iter(loader)
    for _ in range(steps):
        batch = next(iterator, _END)
        if batch is _END:
            iterator = iter(loader)
            batch = next(iterator, _END)
            if batch is _END:
                raise ValueError("fit: the training loader gave no batch (no batch to take a step on)")
        yield batch


def _train_epoch(step_module: nn.Module, train_loader: Iterable, *, optim: Optimisation, cfg: TrainConfig,
                 device: torch.device, steps: int, epoch: int, desc: str) -> dict[str, float]:
    """``steps`` :func:`train_step` calls -> the epoch's mean of the total loss and of each term."""
    sampler = getattr(train_loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)  # a DistributedSampler reshuffles per epoch
    sums: dict[str, float] = {}
    bar = progress(_batches(train_loader, steps), desc=f"{desc} {epoch + 1}/{cfg.epochs}", total=steps,
                   disable=not is_main_process())
    for seen, batch in enumerate(bar, start=1):
        losses = train_step(step_module, _to_device(batch, device), optim=optim, cfg=cfg, device=device,
                            where=f"{desc} epoch {epoch + 1}")
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach())
        bar.set_postfix(loss=f"{sums['loss'] / seen:.4f}")
    return {k: v / steps for k, v in sums.items()}


def _steps_per_epoch(train_loader: Iterable, cfg: TrainConfig, desc: str) -> int:
    """Steps in one epoch: ``cfg.steps_per_epoch``, or one pass over the loader; refuses an empty budget."""
    if cfg.epochs < 1 or (cfg.steps_per_epoch is not None and cfg.steps_per_epoch < 1):
        raise ValueError(f"TrainConfig.epochs and steps_per_epoch must be >= 1, got {cfg.epochs} and "
                         f"{cfg.steps_per_epoch}")
    steps = cfg.steps_per_epoch if cfg.steps_per_epoch is not None else len(train_loader)  # type: ignore[arg-type]
    if steps < 1:
        raise ValueError(f"{desc}: the training loader is empty (no batch to take a step on)")
    return steps


def _fit(*, distiller: Distiller, train_loader: Iterable, cfg: TrainConfig,
         validate: Callable[[nn.Module], float] | None, maximize: bool, device: torch.device,
         checkpoint_path: str | Path | None, checkpoint_extra: dict[str, Any] | None, desc: str,
         resume: bool) -> History:
    if resume and checkpoint_path is None:
        raise ValueError("fit(resume=True) needs a checkpoint_path (the resume file sits beside it)")
    steps = _steps_per_epoch(train_loader, cfg, desc)
    main = is_main_process()
    if checkpoint_path is not None and main:
        check_writable_file(checkpoint_path, "checkpoint_path")  # now, not after the first epoch
    distiller.to(device)
    if cfg.compile:
        distiller.student.compile()  # in place: state_dict keys (and checkpoints) are unchanged
    optim = Optimisation.make(distiller, cfg, total_steps=steps * cfg.epochs, device=device)
    step_module: nn.Module = _TrainStep(distiller)
    if is_distributed():
        step_module = DistributedDataParallel(step_module, device_ids=[device.index] if device.type == "cuda" else None)

    resume_file = None
    if resume:
        resume_file = ResumeFile(resume_path(checkpoint_path), distiller=distiller, optimizer=optim.optimizer,
                                 scheduler=optim.scheduler, scaler=optim.scaler, train_loader=train_loader,
                                 cfg=cfg, extra=checkpoint_extra)
    run_state = _RunState()
    if resume_file is not None and resume_file.exists():
        run_state = _RunState.restore(resume_file)
        _log.info("%s: resuming from %s after epoch %d", desc, resume_file.path, run_state.epoch)
    history = run_state.history
    start = time.perf_counter() - history.seconds

    for epoch in range(run_state.epoch, cfg.epochs):
        distiller.train()
        mean_losses = _train_epoch(step_module, train_loader, optim=optim, cfg=cfg, device=device, steps=steps,
                                   epoch=epoch, desc=desc)
        record = {"epoch": epoch + 1, **mean_losses, "lr": optim.optimizer.param_groups[0]["lr"],
                  "seconds": time.perf_counter() - start}
        run_state.epoch = epoch + 1
        if validate is not None:
            distiller.eval()
            record["val"] = _validate_on_rank0(validate, distiller.student)
        history.epochs.append(record)
        if validate is not None and run_state.note_validation(record["val"], distiller.student, cfg, maximize):
            if checkpoint_path is not None and main:  # a long run keeps its best so far on disk
                _save(checkpoint_path, distiller.student, cfg, history, checkpoint_extra)
        if main:
            _log.info("%s epoch %d/%d: %s", desc, epoch + 1, cfg.epochs,
                      ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"))
        history.seconds = time.perf_counter() - start
        if resume_file is not None and main:
            run_state.save(resume_file)
        if validate is not None and run_state.patience_spent(cfg):
            history.stopped_early = True
            break

    if run_state.best_state is not None:
        distiller.student.load_state_dict(run_state.best_state)
    history.seconds = time.perf_counter() - start
    distiller.eval()
    if checkpoint_path is not None and main:
        _save(checkpoint_path, distiller.student, cfg, history, checkpoint_extra)
        if resume_file is not None:
            resume_file.path.unlink(missing_ok=True)  # finished: the checkpoint holds the result
        remove_stale_temps(checkpoint_path)  # left by writes of a killed run
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
