"""Model builders by name, so that a checkpoint can say how to rebuild its model.

A builder is a function ``config -> nn.Module`` registered under a short name::

    @register_builder("mot_detector")
    def build_mot_detector(cfg: DetectorConfig) -> CenterTrackDetector: ...

``build("mot_detector", cfg_dict)`` rebuilds it; the name is stored on the module
(``model.kdtrack_builder``) and in every checkpoint written from it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import nn

from .config import Config

_BUILDERS: dict[str, tuple[Callable[..., nn.Module], type[Config] | None]] = {}


def register_builder(name: str, config_cls: type[Config] | None = None):
    """Decorator: register ``fn(config) -> nn.Module`` under ``name``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        known = _BUILDERS.get(name)
        if known is not None and known[0].__qualname__ != fn.__qualname__:
            raise KeyError(f"a model builder named {name!r} is already registered")

        @functools.wraps(fn)
        def build_and_tag(cfg: Any = None) -> nn.Module:
            model = fn(cfg)
            model.kdtrack_builder = name  # read back by save_checkpoint / load_weights
            model.kdtrack_config = cfg
            return model

        _BUILDERS[name] = (build_and_tag, config_cls)
        return build_and_tag

    return wrap


def builder_names() -> list[str]:
    """Every registered builder name, sorted."""
    _import_builtin_models()
    return sorted(_BUILDERS)


def build(name: str, config: Config | dict | None = None) -> nn.Module:
    """Build the model registered as ``name`` from ``config`` (a Config or its dict form)."""
    _import_builtin_models()
    if name not in _BUILDERS:
        raise KeyError(f"unknown model builder {name!r}; known: {sorted(_BUILDERS)}")
    fn, config_cls = _BUILDERS[name]
    if isinstance(config, dict) and config_cls is not None:
        config = config_cls.from_dict(config)
    return fn(config)


def _import_builtin_models() -> None:
    """Import the library's model modules so their builders are registered."""
    import importlib

    for module in ("kdtrack_lite.models",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:  # the models package is optional while it grows
            if err.name != module:
                raise
