"""Shape checks and spatial matching shared by the feature-level distillation losses."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def check_4d(where: str, name: str, feat: torch.Tensor) -> None:
    """Raise a clear error unless ``feat`` is a ``(B, C, H, W)`` tensor."""
    if not isinstance(feat, torch.Tensor):
        raise TypeError(f"{where}: argument {name!r} must be a torch.Tensor of shape (B, C, H, W), "
                        f"got {type(feat).__name__}")
    if feat.dim() != 4:
        raise ValueError(f"{where}: argument {name!r} must have shape (B, C, H, W), "
                         f"got {tuple(feat.shape)}")


def check_same_shape(where: str, a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{where}: {a_name!r} {tuple(a.shape)} and {b_name!r} {tuple(b.shape)} "
                         "must have the same shape")


def match_spatial(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Adaptive-average-pool ``a`` and/or ``b`` ``(B, C, H, W)`` to their common smaller size.

    The target is ``(min(H_a, H_b), min(W_a, W_b))``; a map already at that size is unchanged
    (Zagoruyko & Komodakis 2017 reference practice for maps of different resolution).
    """
    size = (min(a.shape[-2], b.shape[-2]), min(a.shape[-1], b.shape[-1]))
    if tuple(a.shape[-2:]) != size:
        a = F.adaptive_avg_pool2d(a, size)
    if tuple(b.shape[-2:]) != size:
        b = F.adaptive_avg_pool2d(b, size)
    return a, b
