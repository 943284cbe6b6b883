"""Self-describing checkpoints (STYLE 11).

A checkpoint is one ``torch.save`` file holding everything needed to rebuild and judge a model:

====================  ===========================================================
``format``            ``"kdtrack_lite.checkpoint"`` (anything else is refused)
``format_version``    integer, bumped when the layout changes
``builder``           registry name of the model builder (``kdtrack_lite.registry``)
``config``            the builder's config as a plain dict
``seed``              the seed the model was trained with
``metrics``           dict of validation/test figures measured for these weights
``state_dict``        the weights
``extra``             free dict (training history, data description, ...)
``library_version``   ``kdtrack_lite.__version__`` that wrote it
====================  ===========================================================

Writes are atomic (temporary file, then rename). Loading into the wrong architecture raises
:class:`CheckpointError` naming the file, the builder it was written by and the mismatching
tensors, instead of torch's long generic message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .config import Config
from .fileio import atomic_path
from .registry import build

FORMAT = "kdtrack_lite.checkpoint"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, malformed, or does not fit the model it is loaded into."""


@dataclass
class Checkpoint:
    builder: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    seed: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    library_version: str = __version__
    path: Path | None = None

    def build(self) -> nn.Module:
        """Rebuild the model and load the weights into it."""
        model = build(self.builder, self.config)
        load_weights(model, self)
        return model


def _config_dict(config: Config | dict | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Config):
        return config.to_dict()
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"config must be a Config, a dict or None, got {type(config).__name__}")


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    builder: str | None = None,
    config: Config | dict | None = None,
    seed: int | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its description to ``path`` atomically.

    ``builder`` and ``config`` default to what :func:`kdtrack_lite.registry.build` stored on the
    model; a model built by hand must pass them.
    """
    builder = builder or getattr(model, "kdtrack_builder", None)
    if builder is None:
        raise CheckpointError(
            "save_checkpoint needs builder=...: the model was not built through "
            "kdtrack_lite.registry, so its checkpoint could not say how to rebuild it"
        )
    if config is None:
        config = getattr(model, "kdtrack_config", None)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "builder": builder,
        "config": _config_dict(config),
        "seed": seed,
        "metrics": dict(metrics or {}),
        "extra": dict(extra or {}),
        "library_version": __version__,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (weights on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not ours"
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a kdtrack_lite checkpoint (expected a dict with format={FORMAT!r}); "
            "plain state_dicts can be loaded with torch.load"
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format_version {version}; this kdtrack_lite "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    missing = [k for k in ("builder", "config", "state_dict") if k not in payload]
    if missing:
        raise CheckpointError(f"{path} lacks the field(s) {missing}")
    return Checkpoint(
        builder=payload["builder"],
        config=payload["config"],
        state_dict=payload["state_dict"],
        seed=payload.get("seed"),
        metrics=payload.get("metrics", {}),
        extra=payload.get("extra", {}),
        library_version=payload.get("library_version", "?"),
        path=path,
    )


def load_weights(model: nn.Module, checkpoint: Checkpoint | str | os.PathLike) -> nn.Module:
    """Load a checkpoint's weights into ``model``, checking that the architecture fits.

    Raises:
        CheckpointError: the model was built by another builder, or tensors are missing,
            unexpected, or of another shape. The message names the file and the tensors.
    """
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    where = ckpt.path or "checkpoint"
    model_builder = getattr(model, "kdtrack_builder", None)
    if model_builder is not None and model_builder != ckpt.builder:
        raise CheckpointError(
            f"{where} holds a {ckpt.builder!r} model; it cannot be loaded into a "
            f"{model_builder!r} model"
        )
    own = model.state_dict()
    missing = sorted(set(own) - set(ckpt.state_dict))
    unexpected = sorted(set(ckpt.state_dict) - set(own))
    wrong_shape = [
        f"{k}: checkpoint {tuple(ckpt.state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(ckpt.state_dict))
        if own[k].shape != ckpt.state_dict[k].shape
    ]
    if missing or unexpected or wrong_shape:
        def head(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")

        parts = [f"{where} (builder {ckpt.builder!r}, config {ckpt.config}) does not fit this model:"]
        if missing:
            parts.append(f"missing tensors: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected tensors: {head(unexpected)}")
        if wrong_shape:
            parts.append(f"shape mismatches: {head(wrong_shape)}")
        raise CheckpointError("\n  ".join(parts))
    model.load_state_dict(ckpt.state_dict)
    return model
