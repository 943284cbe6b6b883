"""CenterNet/CenterTrack Gaussian heatmaps (building block, used for targets and priors).

Paper fact (CenterNet, Zhou et al. 2019; CenterTrack, Zhou et al. 2020): each object is a
Gaussian peak at its centre; its radius is the largest one for which a box whose corners move by
that radius still has IoU >= ``min_overlap`` (0.7) with the true box; sigma = (2r + 1) / 6;
overlapping peaks combine by element-wise max. CenterTrack renders the previous frame's boxes
the same way as the *prior heatmap* it feeds to the network.

``gaussian_radius`` follows the reference implementation's three quadratic cases (including its
``/ 2`` in place of ``/ (2a)``, so radii match the reference models).
"""

from __future__ import annotations

import functools
import math

import numpy as np


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """Peak radius (pixels) for a box of ``height`` x ``width`` (CenterNet's rule)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"gaussian_radius: box size must be positive, got h={height}, w={width}")
    m = min_overlap
    b1, c1 = height + width, width * height * (1 - m) / (1 + m)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    a2, b2, c2 = 4, 2 * (height + width), (1 - m) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * m, -2 * m * (height + width), (m - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def gaussian_kernel(radius: int) -> np.ndarray:
    """``(2r+1, 2r+1)`` Gaussian with peak 1 and sigma = (2r + 1) / 6 (a fresh, writable array)."""
    return _kernel(int(radius)).copy()


@functools.lru_cache(maxsize=256)
def _kernel(radius: int) -> np.ndarray:
    """Cached, read-only :func:`gaussian_kernel` (the tracker renders a prior every frame)."""
    sigma = (2 * radius + 1) / 6
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    g = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    g = g.astype(np.float32)
    g.flags.writeable = False
    return g


def draw_gaussian(heatmap: np.ndarray, center_xy: tuple[float, float], radius: int, peak: float = 1.0) -> np.ndarray:
    """Max-paste a Gaussian of ``radius`` at the integer centre into ``heatmap (H, W)`` in place.

    A centre outside the map draws nothing (the part of the kernel inside the map is drawn when
    the centre is inside). Returns ``heatmap`` for chaining.
    """
    radius = max(0, int(radius))
    kernel = _kernel(radius) if peak == 1.0 else _kernel(radius) * np.float32(peak)
    x, y = int(center_xy[0]), int(center_xy[1])
    h, w = heatmap.shape
    if not (0 <= x < w and 0 <= y < h):
        return heatmap
    left, right = min(x, radius), min(w - x, radius + 1)
    top, bottom = min(y, radius), min(h - y, radius + 1)
    region = heatmap[y - top : y + bottom, x - left : x + right]
    patch = kernel[radius - top : radius + bottom, radius - left : radius + right]
    np.maximum(region, patch, out=region)
    return heatmap


def render_heatmap(boxes_xyxy: np.ndarray, height: int, width: int, stride: int = 1,
                   min_overlap: float = 0.7, peaks: np.ndarray | None = None) -> np.ndarray:
    """Render ``(N, 4)`` xyxy boxes (input pixels) as a ``(height // stride, width // stride)`` map.

    Used for detection targets (stride = output stride) and for CenterTrack prior heatmaps
    (stride 1, boxes of the previous frame's tracks). ``peaks`` (N,) scales each Gaussian.
    """
    out_h, out_w = height // stride, width // stride
    hm = np.zeros((out_h, out_w), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes_xyxy, np.float64).reshape(-1, 4) / stride):
        bw, bh = x2 - x1, y2 - y1
        if bw <= 0 or bh <= 0:
            continue
        r = max(0, int(gaussian_radius(math.ceil(bh), math.ceil(bw), min_overlap)))
        draw_gaussian(hm, ((x1 + x2) / 2, (y1 + y2) / 2), r, 1.0 if peaks is None else float(peaks[i]))
    return hm
