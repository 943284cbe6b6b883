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
RNG states of torch, the loader's generator, NumPy and Python) and, when that file exists at
start, continues from it; a killed run thus loses at most the epoch in progress, and the resumed
run ends with the same weights as an uninterrupted one (``tests/test_distributed.py``). The file
holds only tensors and plain values and is read with ``weights_only=True``, so a planted pickle
cannot run code; it also records the run's settings (train config, checkpoint extras, the
student's builder and config) and every tensor's shape, and a file written by another
configuration, another architecture, or cut short is refused with a :class:`CheckpointError`
naming it and what differs. When the run finishes, the file and any temporary files left by
killed writes are removed.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..checkpoint import CheckpointError, load_plain, save_checkpoint
from ..config import Config
from ..distributed import is_distributed, is_main_process
from ..fileio import atomic_path, check_writable_file, remove_stale_temps
from ..runtime import progress
from .base import Distiller, total_loss

_log = logging.getLogger(__name__)

RESUME_FORMAT = "kdtrack_lite.resume"
RESUME_VERSION = 1
_RESUME_FIELDS = ("run", "shapes", "epoch", "distiller", "optimizer", "scheduler", "scaler", "history",
                  "best_state", "bad_epochs", "rng")


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
    """Every RNG a training step may draw from, as tensors and plain values (``weights_only`` loads it)."""
    generator = getattr(loader, "generator", None)
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "loader": generator.get_state() if generator is not None else None,
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
            "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                      "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)}}


def _set_rng_state(state: dict[str, Any], loader: Iterable) -> None:
    torch.set_rng_state(state["torch"])
    generator = getattr(loader, "generator", None)
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    np_state = state["numpy"]
    np.random.set_state((np_state["name"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))


def _run_description(distiller: Distiller, cfg: TrainConfig, extra: dict[str, Any] | None) -> dict[str, Any]:
    """What must match for a resume file to continue this run: settings, as JSON-plain values."""
    model_cfg = getattr(distiller.student, "kdtrack_config", None)
    run = {"train_config": cfg.to_dict(), "extra": extra or {},
           "builder": getattr(distiller.student, "kdtrack_builder", None),
           "model_config": model_cfg.to_dict() if isinstance(model_cfg, Config) else model_cfg}
    return json.loads(json.dumps(run, sort_keys=True, default=str))  # tuples -> lists, as read back


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for key, value in d.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _head(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _load_resume(state_file: Path, run: dict[str, Any], shapes: dict[str, list[int]]) -> dict[str, Any]:
    """Read ``state_file`` (tensors and plain values only) and check that it belongs to this run.

    Raises:
        CheckpointError: the file is unreadable (truncated, or a pickle of other objects), or was
            written by another configuration or architecture; the message says what differs.
    """
    afresh = "delete it to start the run afresh"
    try:
        state = load_plain(state_file, f"resume file {state_file}", "kdtrack_lite resume file")
    except CheckpointError as err:
        raise CheckpointError(f"{err}; {afresh}") from err.__cause__
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise CheckpointError(f"resume file {state_file} is not a kdtrack_lite resume file "
                              f"(expected a dict with format={RESUME_FORMAT!r}); {afresh}")
    if state.get("format_version") != RESUME_VERSION:
        raise CheckpointError(f"resume file {state_file} has format_version {state.get('format_version')}; this "
                              f"kdtrack_lite reads version {RESUME_VERSION}; {afresh}")
    missing = [k for k in _RESUME_FIELDS if k not in state]
    if missing:
        raise CheckpointError(f"resume file {state_file} lacks the field(s) {missing}; {afresh}")
    theirs, ours = _flat(json.loads(state["run"])), _flat(run)
    differ = [f"{k}: {theirs.get(k, '(unset)')!r} in the file, {ours.get(k, '(unset)')!r} now"
              for k in sorted(set(theirs) | set(ours)) if theirs.get(k, "(unset)") != ours.get(k, "(unset)")]
    if differ:
        raise CheckpointError(f"resume file {state_file} was written by a run with other settings ({_head(differ)}); "
                              f"rerun with the settings that wrote it, or {afresh}")
    saved = {k: list(v) for k, v in state["shapes"].items()}
    wrong = ([f"{k} missing from the file" for k in sorted(set(shapes) - set(saved))]
             + [f"{k} not in this model" for k in sorted(set(saved) - set(shapes))]
             + [f"{k}: {saved[k]} in the file, {shapes[k]} now" for k in sorted(set(saved) & set(shapes))
                if saved[k] != shapes[k]])
    if wrong:
        raise CheckpointError(f"resume file {state_file} was written for another architecture ({_head(wrong)}); "
                              f"{afresh}")
    return state


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
    if cfg.epochs < 1 or (cfg.steps_per_epoch is not None and cfg.steps_per_epoch < 1):
        raise ValueError(f"TrainConfig.epochs and steps_per_epoch must be >= 1, got {cfg.epochs} and "
                         f"{cfg.steps_per_epoch}")
    if checkpoint_path is not None and is_main_process():
        check_writable_file(checkpoint_path, "checkpoint_path")  # now, not after the first epoch
    device = torch.device(device)
    distiller.to(device)
    if cfg.compile:
        distiller.student.compile()  # in place: state_dict keys (and checkpoints) are unchanged
    params = distiller.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.steps_per_epoch if cfg.steps_per_epoch is not None else len(train_loader)  # type: ignore[arg-type]
    if steps < 1:
        raise ValueError(f"{desc}: the training loader is empty (no batch to take a step on)")
    total_steps = steps * cfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, total_steps, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    step_module: nn.Module = _TrainStep(distiller)
    if is_distributed():
        step_module = DistributedDataParallel(step_module, device_ids=[device.index] if device.type == "cuda" else None)
    history, best_state, bad_epochs, first_epoch = History(), None, 0, 0
    state_file = resume_path(checkpoint_path) if resume else None
    run = _run_description(distiller, cfg, checkpoint_extra)
    shapes = {k: list(v.shape) for k, v in distiller.state_dict().items()}
    if state_file is not None and state_file.exists():
        # on the CPU: RNG states must stay there; load_state_dict moves the rest to the parameters' device
        state = _load_resume(state_file, run, shapes)
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
                torch.save({"format": RESUME_FORMAT, "format_version": RESUME_VERSION,
                            "run": json.dumps(run, sort_keys=True), "shapes": shapes,
                            "epoch": epoch + 1, "distiller": distiller.state_dict(),
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
        remove_stale_temps(checkpoint_path)  # left by writes of a killed earlier attempt
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
