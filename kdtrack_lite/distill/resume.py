"""The resume file of a training run: ``<checkpoint>.resume``, written by :func:`~.loop.fit` after every epoch.

It holds the distiller (student, adapters), optimiser, scheduler, gradient scaler, the epoch, the
history, the best weights so far, the epochs without improvement and the RNG states of torch, the
loader's generator, NumPy and Python, so a resumed run ends with the same weights as an
uninterrupted one (``tests/test_distributed.py``). The file holds only tensors and plain values
and is read with ``weights_only=True``, so a planted pickle cannot run code; it also records the
run's settings (train config, checkpoint extras, the student's builder and config) and every
tensor's shape, and a file written by another configuration, another architecture, or cut short
is refused with a :class:`~kdtrack_lite.checkpoint.CheckpointError` naming it and what differs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import CheckpointError, load_plain
from ..config import Config
from ..fileio import atomic_path
from .base import Distiller

RESUME_FORMAT = "kdtrack_lite.resume"
RESUME_VERSION = 1
_RESUME_FIELDS = ("run", "shapes", "epoch", "distiller", "optimizer", "scheduler", "scaler", "history",
                  "best_state", "bad_epochs", "rng")


def resume_path(checkpoint_path: str | Path) -> Path:
    """Where :func:`fit` keeps the training state of a resumable run: ``<checkpoint>.resume``."""
    return Path(str(checkpoint_path) + ".resume")


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


def _run_description(distiller: Distiller, cfg: Config, extra: dict[str, Any] | None) -> dict[str, Any]:
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


class ResumeFile:
    """The resume file of one run, and the objects it saves and restores.

    Args:
        path: the file (:func:`resume_path` of the checkpoint).
        distiller, optimizer, scheduler, scaler: saved with ``state_dict()``, restored in place.
        train_loader: its generator's state is saved and restored with the other RNGs.
        cfg, extra: the run's settings; a file written with others is refused.
    """

    def __init__(self, path: Path, *, distiller: Distiller, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler,
                 train_loader: Iterable, cfg: Config, extra: dict[str, Any] | None):
        self.path = path
        self.distiller, self.optimizer, self.scheduler, self.scaler = distiller, optimizer, scheduler, scaler
        self.train_loader = train_loader
        self.run = _run_description(distiller, cfg, extra)
        self.shapes = {k: list(v.shape) for k, v in distiller.state_dict().items()}

    def exists(self) -> bool:
        return self.path.exists()

    def restore(self) -> dict[str, Any]:
        """Load the file into the distiller, optimiser, scheduler, scaler and RNGs.

        Returns:
            ``{"epoch", "history" (a :class:`~.loop.History` dict), "best_state", "bad_epochs"}``.

        Raises:
            CheckpointError: see :func:`_load_resume`.
        """
        state = _load_resume(self.path, self.run, self.shapes)  # on the CPU: load_state_dict moves tensors
        self.distiller.load_state_dict(state["distiller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"], self.train_loader)
        return {k: state[k] for k in ("epoch", "history", "best_state", "bad_epochs")}

    def write(self, *, epoch: int, history: dict[str, Any], best_state: dict[str, torch.Tensor] | None,
              bad_epochs: int) -> None:
        """Save the state after ``epoch`` epochs, atomically (a killed write leaves the last file)."""
        with atomic_path(self.path) as tmp:
            torch.save({"format": RESUME_FORMAT, "format_version": RESUME_VERSION,
                        "run": json.dumps(self.run, sort_keys=True), "shapes": self.shapes,
                        "epoch": epoch, "distiller": self.distiller.state_dict(),
                        "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                        "scaler": self.scaler.state_dict(), "history": history, "best_state": best_state,
                        "bad_epochs": bad_epochs, "rng": _rng_state(self.train_loader)}, tmp)
