"""Square crops around a target, resized: the SiamFC template/search geometry.

Paper fact (SiamFC, Bertinetto et al. 2016): the exemplar crop has side
``s = sqrt((w + p) (h + p))`` with context margin ``p = (w + h) / 2`` and is resized to the
exemplar size; the search crop covers ``s * search_size / exemplar_size`` of the frame. Pixels
outside the frame are filled with the frame's mean colour.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def context_size(w: float, h: float, context: float = 0.5) -> float:
    """SiamFC's exemplar side in frame pixels: ``sqrt((w + p)(h + p))``, ``p = context (w + h)``."""
    p = context * (w + h)
    return math.sqrt((w + p) * (h + p))


def crop_and_resize(image: np.ndarray, center_xy: tuple[float, float], side: float, out_size: int,
                    fill: np.ndarray | None = None) -> np.ndarray:
    """Crop a ``side x side`` square centred at ``center_xy`` from ``image (H, W, C)`` and resize.

    Sub-pixel exact: output pixel ``(u, v)`` samples frame point
    ``center + (u - (out_size - 1) / 2) * side / out_size`` (bilinear). Outside the frame the
    ``fill`` colour is used (default: the image's mean colour).

    Returns:
        ``(out_size, out_size, C)`` array, same dtype as ``image``.
    """
    if image.ndim != 3:
        raise ValueError(f"crop_and_resize: expected an (H, W, C) image, got shape {image.shape}")
    if side <= 0 or out_size <= 0:
        raise ValueError(f"crop_and_resize: side and out_size must be positive, got {side}, {out_size}")
    scale = out_size / side
    cx, cy = center_xy
    # affine map frame -> crop: u = scale * (x - cx) + (out_size - 1) / 2
    matrix = np.array([[scale, 0, (out_size - 1) / 2 - scale * cx],
                       [0, scale, (out_size - 1) / 2 - scale * cy]], np.float64)
    if fill is None:
        fill = image.reshape(-1, image.shape[2]).mean(0)
    return cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in fill))
