"""Self-describing checkpoints.

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

Writes are atomic (temporary file, then rename). Files are read with ``weights_only=True``: a
pickle that would run code is refused, never executed. Loading into the wrong architecture raises
:class:`CheckpointError` naming the file, the builder it was written by and the mismatching
tensors, instead of torch's long generic message; ``load_checkpoint(path, builder=..., arg=...)``
refuses a checkpoint of another model family (a SiamFC given where a detector is expected) before
it reaches code that would fail on it with an unrelated message.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .config import Config
from .fileio import UserInputError, atomic_path
from .registry import build

FORMAT = "kdtrack_lite.checkpoint"
FORMAT_VERSION = 1


# what each builder's checkpoints hold, for messages about a checkpoint of the wrong family
FAMILIES = {"centertrack": "MOT detector", "siamfc": "SOT tracker (SiamFC)", "semantic_encoder": "semantic encoder"}
# the builder of each command-line family (``kdtrack train mot|sot``, ``kdtrack track mot|sot``)
FAMILY_BUILDERS = {"mot": "centertrack", "sot": "siamfc"}


class CheckpointError(UserInputError, RuntimeError):
    """A checkpoint file is missing, malformed, or does not fit the model it is loaded into."""


def _family(builder: str) -> str:
    return f"{FAMILIES.get(builder, 'model')} checkpoint (builder {builder!r})"


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
        try:
            model = build(self.builder, self.config)
        except KeyError as err:  # an unknown builder name: a file from elsewhere or a newer library
            raise CheckpointError(f"{self.path or 'checkpoint'}: {err.args[0]}") from err
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


def load_plain(path: Path, where: str, kind: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain values only, never arbitrary objects.

    Raises:
        CheckpointError: naming ``where`` (the argument and file), when the file holds other
            objects (a pickle that could run code is refused unread) or is truncated or corrupt.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's own message suggests weights_only=False, which is what must not happen here
        raise CheckpointError(f"{where} is not a readable {kind}: it holds objects other than tensors and plain "
                              "values, refused unread (unpickling them could run code)") from err
    except Exception as err:  # noqa: BLE001 - a truncated zip, a bad magic number, ...: "not ours"
        raise CheckpointError(f"{where} is not a readable {kind} (truncated or corrupt?): "
                              f"{_first_sentence(err)}") from err


def _first_sentence(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0].split(". ")[0]


def load_checkpoint(path: str | os.PathLike, *, builder: str | None = None, arg: str | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (weights on the CPU).

    Args:
        path: the ``.pt`` file.
        builder: when given, the registry name the checkpoint must have been written by
            (``"centertrack"`` for a MOT detector, ``"siamfc"`` for a SOT tracker).
        arg: the command-line argument the path came from (``"--checkpoint"``), named in errors.

    Raises:
        CheckpointError: the file is missing, unreadable, not a kdtrack_lite checkpoint, or of
            another family than ``builder``; the message names ``arg`` and the file.
    """
    path = Path(path)
    where = f"{arg} {path}" if arg else str(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {where}")
    payload = load_plain(path, where, "torch checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{where} is not a kdtrack_lite checkpoint (expected a dict with format={FORMAT!r}); "
            "plain state_dicts can be loaded with torch.load"
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{where} has checkpoint format_version {version}; this kdtrack_lite "
            f"({__version__}) reads version {FORMAT_VERSION}"
        )
    missing = [k for k in ("builder", "config", "state_dict") if k not in payload]
    if missing:
        raise CheckpointError(f"{where} lacks the field(s) {missing}")
    if builder is not None and payload["builder"] != builder:
        raise CheckpointError(f"{where}: expected a {_family(builder)}, found a {_family(payload['builder'])}")
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
