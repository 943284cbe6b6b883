"""Feature taps through forward hooks: read a model's intermediate features without rewriting it.

Our design choice: distillation never edits a model's ``forward``. A
:class:`FeatureTaps` attaches a forward hook to each named sub-module and keeps its latest
output, so the same student can be trained alone, with hints, or with attention transfer.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class FeatureTaps:
    """Record the outputs of named sub-modules on every forward pass.

    Args:
        modules: ``{tap_name: module}`` (e.g. ``backbone.taps()``), or a model and a list of
            dotted sub-module names via :meth:`from_names`.
        detach: store detached outputs (for teachers, whose features are targets).

    Example:
        >>> taps = FeatureTaps({"s8": model.backbone.stage2})
        >>> _ = model(x); taps.features["s8"].shape
    """

    def __init__(self, modules: Mapping[str, nn.Module], detach: bool = False):
        self.detach = detach
        self.features: dict[str, torch.Tensor] = {}
        self._handles = [m.register_forward_hook(self._hook(name)) for name, m in modules.items()]
        self.names = list(modules)

    @classmethod
    def from_names(cls, model: nn.Module, names: list[str], detach: bool = False) -> "FeatureTaps":
        found = dict(model.named_modules())
        missing = [n for n in names if n not in found]
        if missing:
            raise KeyError(f"{type(model).__name__} has no sub-module(s) {missing}")
        return cls({n: found[n] for n in names}, detach=detach)

    def _hook(self, name: str):
        def record(module: nn.Module, inputs, output) -> None:
            self.features[name] = output.detach() if self.detach else output

        return record

    def clear(self) -> None:
        self.features = {}

    def remove(self) -> None:
        """Detach every hook (the model runs exactly as before)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
