"""Checks and spatial matching shared by the distillation losses.

The input rule every loss function follows (OUR DESIGN CHOICE, one rule for all):

* a NaN or inf in any input is a ``ValueError`` naming the argument (:func:`check_finite`): a
  non-finite loss would otherwise poison the weights a few steps later, far from its cause;
* a loss over nothing (an empty batch, ``B = 0``, or no element to compare) is a zero that keeps
  the autograd graph (:func:`zero_loss`): ``backward()`` runs and gives zero gradients, so a
  training step on an empty batch changes nothing instead of writing NaN into the weights.
"""

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


def check_finite(where: str, **tensors: torch.Tensor | None) -> None:
    """Raise ``ValueError`` naming the first argument that holds NaN or inf (``None`` skipped).

    One host-device sync for all the arguments together.
    """
    named = [(name, t) for name, t in tensors.items() if isinstance(t, torch.Tensor) and t.numel()]
    if not named:
        return
    finite = torch.stack([torch.isfinite(t).all() for _, t in named])
    if bool(finite.all()):
        return
    name, t = named[int((~finite).nonzero()[0, 0])]
    bad = int((~torch.isfinite(t)).sum())
    raise ValueError(f"{where}: argument {name!r} holds {bad} NaN/inf value(s) out of {t.numel()}; "
                     f"a loss needs finite inputs")


def zero_loss(like: torch.Tensor) -> torch.Tensor:
    """A scalar 0 that keeps the graph of ``like`` (``backward`` gives zero gradients): the loss of
    an empty batch."""
    return like.sum() * 0.0
