"""Procedural cluttered backgrounds (seeded): what makes detection non-trivial for a small CNN.

OUR DESIGN CHOICE: a street-like scene -- facades with windows above a horizon line, a tiled
ground plane below it, multi-octave value noise over everything, then random clutter
(rectangles, lines, blobs) whose colours are drawn from the same palette as clothing, so a
detector cannot find people by colour alone.
"""

from __future__ import annotations

import cv2
import numpy as np


def value_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 4,
                base_cells: int = 4, persistence: float = 0.5) -> np.ndarray:
    """Multi-octave value noise ``(height, width)`` float32 in ``[0, 1]``.

    Octave ``k`` is a random ``(base_cells * 2^k)``-cell grid, bicubically upsampled, weighted
    by ``persistence^k``.
    """
    out = np.zeros((height, width), np.float32)
    total = 0.0
    for k in range(octaves):
        cells = base_cells * 2**k
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += persistence**k * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += persistence**k
    out /= total
    return np.clip((out - out.min()) / max(float(np.ptp(out)), 1e-6), 0, 1)


def random_color(rng: np.random.Generator, sat: tuple[float, float] = (0.2, 0.9),
                 val: tuple[float, float] = (0.25, 0.95)) -> np.ndarray:
    """A random RGB colour (float32, 0..255) from HSV ranges."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def street_background(rng: np.random.Generator, height: int, width: int, horizon: float = 0.3,
                      clutter: float = 1.0) -> np.ndarray:
    """A cluttered street-like background ``(height, width, 3)`` uint8 RGB.

    Args:
        horizon: the horizon line as a fraction of the height (facades above, ground below).
        clutter: scales the number of clutter shapes (0 = none).
    """
    img = np.zeros((height, width, 3), np.float32)
    hy = int(horizon * height)
    # facades: vertical bands of building colour with window grids
    x = 0
    while x < width:
        bw = int(rng.integers(width // 8, width // 3))
        col = random_color(rng, (0.05, 0.5), (0.3, 0.8))
        top = int(rng.integers(0, max(1, hy // 2)))
        img[:top, x:x + bw] = random_color(rng, (0.1, 0.4), (0.6, 0.95))  # sky
        img[top:hy, x:x + bw] = col
        win = random_color(rng, (0.0, 0.6), (0.1, 0.9))
        step = int(rng.integers(6, 12))
        for wy in range(top + 3, hy - 4, step):
            for wx in range(x + 3, x + bw - 4, step):
                img[wy:wy + step // 2, wx:wx + step // 2] = win
        x += bw
    # ground: two-colour tiles whose rows get taller towards the camera (perspective)
    g1, g2 = random_color(rng, (0.0, 0.4), (0.35, 0.7)), random_color(rng, (0.0, 0.4), (0.35, 0.7))
    y, row = hy, 0
    while y < height:
        th = max(2, int(3 + 14 * (y - hy) / max(1, height - hy)))
        tw = 2 * th
        xs = (np.arange(width) + row * tw // 2) // tw
        img[y:y + th] = np.where((xs % 2 == 0)[:, None], g1, g2)[None]
        y, row = y + th, row + 1
    noise = value_noise(rng, height, width, octaves=4)
    img *= (0.65 + 0.7 * noise)[..., None]
    # clutter: rectangles, lines and blobs in clothing-like colours
    n = int(clutter * (width * height) / 1500)
    for _ in range(n):
        col = tuple(float(c) for c in random_color(rng))
        kind = rng.integers(0, 3)
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        s = int(rng.integers(3, max(4, height // 8)))
        if kind == 0:
            cv2.rectangle(img, (x0, y0), (x0 + s, y0 + int(rng.integers(2, s + 1))), col, -1)
        elif kind == 1:
            cv2.line(img, (x0, y0), (x0 + int(rng.integers(-2 * s, 2 * s)), y0 + int(rng.integers(-s, s))),
                     col, int(rng.integers(1, 3)))
        else:
            cv2.ellipse(img, (x0, y0), (s // 2 + 1, s // 3 + 1), float(rng.uniform(0, 180)), 0, 360, col, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def texture_background(rng: np.random.Generator, height: int, width: int, clutter: float = 1.0) -> np.ndarray:
    """A generic cluttered texture (for SOT): coloured noise plus clutter shapes, uint8 RGB."""
    c1, c2 = random_color(rng, (0.1, 0.7), (0.3, 0.8)), random_color(rng, (0.1, 0.7), (0.3, 0.8))
    n = value_noise(rng, height, width, octaves=5, base_cells=3)[..., None]
    img = c1 * n + c2 * (1 - n)
    img *= (0.75 + 0.5 * value_noise(rng, height, width, octaves=3, base_cells=8))[..., None]
    img = img.astype(np.float32)
    for _ in range(int(clutter * width * height / 1200)):
        col = tuple(float(c) for c in random_color(rng))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        s = int(rng.integers(3, max(4, height // 10)))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x0 + s, y0 + int(rng.integers(2, s + 1))), col, -1)
        else:
            cv2.line(img, (x0, y0), (x0 + int(rng.integers(-2 * s, 2 * s)), y0 + int(rng.integers(-2 * s, 2 * s))),
                     col, int(rng.integers(1, 3)))
    return np.clip(img, 0, 255).astype(np.uint8)
