"""Heatmap and attention-map overlays on frames.

A detector heatmap (CenterNet, stride 4), a SiamFC response map (17x17) or an attention map
``Q = mean_c |A|^p`` (Zagoruyko & Komodakis 2017) all live at a lower resolution than the frame;
:func:`overlay_heatmap` resizes any of them bilinearly to the frame, min-max normalises it (OUR
DESIGN CHOICE, so maps of different scales are comparable by eye; pass ``normalize=False`` for
maps already in [0, 1]), colours it with a matplotlib colormap and alpha-blends it.
"""

from __future__ import annotations

import cv2
import matplotlib
import numpy as np

from .draw import as_rgb_uint8


def overlay_heatmap(frame, heatmap, alpha: float = 0.5, cmap: str = "jet", normalize: bool = True) -> np.ndarray:
    """Blend a colour-mapped ``(h, w)`` heatmap over a ``(H, W, 3)`` RGB frame.

    Args:
        frame: ``(H, W, 3)`` RGB (or gray) image.
        heatmap: ``(h, w)`` map at any resolution (NumPy or torch; ``(1, h, w)`` accepted).
        alpha: weight of the heatmap, in [0, 1].
        cmap: matplotlib colormap name.
        normalize: min-max scale the map to [0, 1] first (a constant map becomes 0).

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    out = as_rgb_uint8(frame)
    hm = np.asarray(heatmap.detach().cpu() if hasattr(heatmap, "detach") else heatmap, dtype=np.float32)
    hm = np.squeeze(hm)
    if hm.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (h, w), got shape {np.shape(heatmap)}")
    if not np.isfinite(hm).all():
        raise ValueError("heatmap contains NaN/inf")
    if normalize:
        lo, hi = float(hm.min()), float(hm.max())
        hm = (hm - lo) / (hi - lo) if hi > lo else np.zeros_like(hm)
    hm = cv2.resize(np.clip(hm, 0, 1), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
    colored = (matplotlib.colormaps[cmap](hm)[..., :3] * 255.0).astype(np.float32)
    return np.clip((1 - alpha) * out.astype(np.float32) + alpha * colored, 0, 255).astype(np.uint8)


def overlay_attention(frame, attention, alpha: float = 0.5, cmap: str = "inferno") -> np.ndarray:
    """:func:`overlay_heatmap` with a colormap suited to attention maps (``(h, w)`` at any stride)."""
    return overlay_heatmap(frame, attention, alpha=alpha, cmap=cmap, normalize=True)
