"""DSWR: Dynamic Semantic Weight Regulation -- frame quality decides how much semantics to fuse.

PAPER FACT (VSD-MOT abstract): DSWR evaluates each frame's quality through clarity, noise
level and contrast and generates adaptive fusion weights for combining the semantic features
with the query vectors. The predecessor VSE-MOT fuses with a gate ``w * f_clip + (1 - w) * f_query``.

OUR DESIGN CHOICE: the three normalised quality scores ``q`` (:mod:`.metrics`, higher = better)
go through a small MLP ``3 -> hidden -> 1 (or D)`` and a sigmoid, giving a weight
``a = sigmoid(MLP(q))`` in ``(0, 1)`` -- one scalar per frame, or one per channel. The fused
query is

    fused = (1 - a) * query + a * semantic

so ``a -> 0`` keeps the tracker's own query and ``a -> 1`` replaces it by the semantic feature.
The last layer's bias starts at ``init_bias`` (``a = sigmoid(init_bias)`` before training).

OUR DESIGN CHOICE: with ``standardize`` the scores are z-scored with the mean and spread of the
frames the regulator is trained on (:meth:`DSWRRegulator.fit_input`, kept as buffers in the state
dict). Normalised scores of real degradations differ by only ~0.1-0.3, so without it a regulator
trained for a few hundred Adam steps barely moves its weight with quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..config import Config
from .metrics import METRICS


@dataclass
class DSWRConfig(Config):
    """Regulator size and output kind.

    Attributes:
        hidden: width of the hidden layer.
        per_channel: one weight per feature channel (True) or one scalar per frame (False).
        channels: feature width ``D`` (used when ``per_channel``).
        init_bias: output bias at initialisation; ``sigmoid(0) = 0.5`` = an even mix.
        standardize: z-score the inputs with the statistics set by :meth:`DSWRRegulator.fit_input`.
    """

    hidden: int = 16
    per_channel: bool = False
    channels: int = 64
    init_bias: float = 0.0
    standardize: bool = True

    FAST: ClassVar[dict] = {}


def fuse(query: torch.Tensor, semantic: torch.Tensor, a: torch.Tensor | float) -> torch.Tensor:
    """Quality-weighted fusion ``(1 - a) * query + a * semantic``.

    Args:
        query: ``(N, D)`` query vectors.
        semantic: ``(N, D)`` per-query semantic features, or ``(D,)`` one frame-level feature
            shared by all queries.
        a: weight(s) in ``[0, 1]``: a float, a ``()`` / ``(1,)`` scalar, ``(D,)`` per channel,
            or ``(N, 1)`` / ``(N, D)`` per query.
    Returns:
        ``(N, D)`` fused queries.
    """
    if query.ndim != 2:
        raise ValueError(f"fuse: query must be (N, D), got shape {tuple(query.shape)}")
    n, d = query.shape
    if semantic.shape not in ((n, d), (d,)):
        raise ValueError(f"fuse: semantic must be ({n}, {d}) or ({d},) to match query {tuple(query.shape)}, "
                         f"got {tuple(semantic.shape)}")
    a = torch.as_tensor(a, dtype=query.dtype, device=query.device)
    if a.shape not in ((), (1,), (d,), (n, 1), (n, d), (1, d), (1, 1)):
        raise ValueError(f"fuse: a must be a scalar, (D,)=({d},), (N, 1)=({n}, 1) or (N, D)=({n}, {d}), "
                         f"got {tuple(a.shape)}")
    return (1 - a) * query + a * semantic


class DSWRRegulator(nn.Module):
    """Normalised frame quality ``(B, 3)`` -> fusion weight(s) ``(B, 1)`` or ``(B, D)`` in (0, 1)."""

    def __init__(self, cfg: DSWRConfig | None = None):
        super().__init__()
        self.cfg = cfg or DSWRConfig()
        if self.cfg.hidden < 1 or self.cfg.channels < 1:
            raise ValueError(f"DSWRRegulator: hidden and channels must be >= 1, got {self.cfg}")
        out = self.cfg.channels if self.cfg.per_channel else 1
        self.mlp = nn.Sequential(nn.Linear(len(METRICS), self.cfg.hidden), nn.ReLU(), nn.Linear(self.cfg.hidden, out))
        nn.init.constant_(self.mlp[-1].bias, self.cfg.init_bias)
        self.register_buffer("input_mean", torch.zeros(len(METRICS)))
        self.register_buffer("input_std", torch.ones(len(METRICS)))

    @torch.no_grad()
    def fit_input(self, quality: torch.Tensor, min_std: float = 0.02) -> DSWRRegulator:
        """Set the input statistics from the training frames' scores ``(F, 3)`` (no-op unless
        ``cfg.standardize``); a spread below ``min_std`` is raised to it, so a metric that hardly
        varies in training is not blown up at test time."""
        quality = torch.as_tensor(quality, dtype=torch.float32)
        if quality.ndim != 2 or quality.shape[1] != len(METRICS) or len(quality) < 2:
            raise ValueError(f"DSWRRegulator.fit_input: need (F >= 2, {len(METRICS)}) scores {METRICS}, "
                             f"got shape {tuple(quality.shape)}")
        _check_finite_rows("DSWRRegulator.fit_input", quality)
        if self.cfg.standardize:
            self.input_mean.copy_(quality.mean(0))
            self.input_std.copy_(quality.std(0).clamp_min(min_std))
        return self

    def forward(self, quality: torch.Tensor) -> torch.Tensor:
        """Args:
            quality: ``(B, 3)`` (or one ``(3,)``) scores in ``METRICS`` order, higher = better.
        Returns:
            ``(B, 1)`` or ``(B, D)`` weights (``(1,)`` / ``(D,)`` for a single frame).
        """
        if quality.shape[-1:] != (len(METRICS),) or quality.ndim not in (1, 2):
            raise ValueError(f"DSWRRegulator: quality must be (B, {len(METRICS)}) or ({len(METRICS)},) "
                             f"scores {METRICS}, got shape {tuple(quality.shape)}")
        _check_finite_rows("DSWRRegulator", quality.reshape(-1, len(METRICS)))
        x = (quality.float() - self.input_mean) / self.input_std
        return torch.sigmoid(self.mlp(x))

    def fuse(self, query: torch.Tensor, semantic: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """One frame: ``quality (3,)`` -> weight -> :func:`fuse` of ``query (N, D)`` and ``semantic``."""
        return fuse(query, semantic, self(quality.reshape(len(METRICS))))


def _check_finite_rows(where: str, quality: torch.Tensor) -> None:
    """A NaN score would give a NaN weight and a NaN fused query: refuse it, naming the frame."""
    bad = (~torch.isfinite(quality)).any(dim=1).nonzero()
    if len(bad):
        i = int(bad[0, 0])
        raise ValueError(f"{where}: quality row {i} {quality[i].tolist()} holds NaN or inf; expected finite "
                         f"scores {METRICS}")
