"""Drawing boxes and identities on frames, and teacher/student frames side by side.

Frames are ``(H, W, 3)`` uint8 **RGB** everywhere in ``kdtrack_lite.viz`` (what matplotlib and
notebooks show); :mod:`kdtrack_lite.viz.video` converts to BGR only when OpenCV writes a file.

One colour per identity (OUR DESIGN CHOICE): the hue of id ``k`` is ``frac(k * phi)`` with the
golden-ratio conjugate ``phi = 0.618...``, so consecutive ids get far-apart hues, a given id has
the same colour in every frame, figure and run, and no palette table or global state is needed.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

_PHI = 0.618033988749895


def id_color(track_id: int) -> tuple[int, int, int]:
    """The RGB colour (0-255 ints) of identity ``track_id``; stable across calls and runs."""
    h = (int(track_id) * _PHI) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.75, 0.95)
    return int(round(255 * r)), int(round(255 * g)), int(round(255 * b))


def as_rgb_uint8(frame) -> np.ndarray:
    """A copy of ``frame`` as ``(H, W, 3)`` uint8 RGB (gray is repeated; floats in [0, 1] scaled)."""
    a = np.asarray(frame.detach().cpu() if hasattr(frame, "detach") else frame)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):  # (C, H, W) tensor layout
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"expected a frame (H, W), (H, W, 3) or (3, H, W), got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(a * 255.0 if a.max(initial=0) <= 1.0 else a, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a.copy())


def draw_tracks(frame, ids, boxes_tlwh, scores=None, thickness: int = 2, show_labels: bool = True) -> np.ndarray:
    """Draw ``N`` boxes with their id colour and an ``id`` (and score) label.

    Args:
        frame: ``(H, W, 3)`` RGB image (not modified).
        ids: ``(N,)`` integer identities.
        boxes_tlwh: ``(N, 4)`` boxes ``[left, top, w, h]`` in pixels.
        scores: optional ``(N,)`` confidences printed after the id.

    Returns:
        A new ``(H, W, 3)`` uint8 RGB frame.

    Raises:
        ValueError: shapes disagree or a box is NaN/inf (naming the row).
    """
    out = as_rgb_uint8(frame)
    ids = np.asarray(ids).reshape(-1)
    boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4) if np.size(boxes_tlwh) else np.zeros((0, 4))
    if len(ids) != len(boxes) or (scores is not None and len(np.asarray(scores).reshape(-1)) != len(ids)):
        raise ValueError(f"draw_tracks: {len(ids)} ids, {len(boxes)} boxes"
                         + ("" if scores is None else f", {len(np.asarray(scores).reshape(-1))} scores")
                         + " -- they must have the same length")
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        raise ValueError(f"draw_tracks: box {int(np.flatnonzero(bad)[0])} is NaN/inf: {boxes[bad][0]}")
    scale = max(0.35, out.shape[0] / 600)
    for k, (tid, (x, y, w, h)) in enumerate(zip(ids, boxes)):
        color = id_color(int(tid))
        p1, p2 = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
        cv2.rectangle(out, p1, p2, color, thickness)
        if show_labels:
            text = f"{int(tid)}" if scores is None else f"{int(tid)} {float(np.asarray(scores).reshape(-1)[k]):.2f}"
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            top = max(p1[1] - th - 4, 0)
            cv2.rectangle(out, (p1[0], top), (p1[0] + tw + 4, top + th + 4), color, -1)
            cv2.putText(out, text, (p1[0] + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                        cv2.LINE_AA)
    return out


def side_by_side(frames, titles=None, gap: int = 4, title_height: int = 22) -> np.ndarray:
    """Place frames left to right (e.g. teacher | student), each resized to the first one's height.

    Args:
        frames: sequence of ``(H_i, W_i, 3)`` images.
        titles: optional sequence of strings, one per frame, drawn in a white band on top.

    Returns:
        ``(H + title band, sum W_i + gaps, 3)`` uint8 RGB.
    """
    frames = [as_rgb_uint8(f) for f in frames]
    if not frames:
        raise ValueError("side_by_side needs at least one frame")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"side_by_side: {len(frames)} frames but {len(titles)} titles")
    h = frames[0].shape[0]
    tiles = []
    for i, f in enumerate(frames):
        if f.shape[0] != h:
            f = cv2.resize(f, (max(1, round(f.shape[1] * h / f.shape[0])), h), interpolation=cv2.INTER_AREA)
        if titles is not None:
            band = np.full((title_height, f.shape[1], 3), 255, np.uint8)
            cv2.putText(band, str(titles[i]), (4, title_height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                        cv2.LINE_AA)
            f = np.concatenate([band, f], axis=0)
        tiles.append(f)
        if i < len(frames) - 1:
            tiles.append(np.full((f.shape[0], gap, 3), 255, np.uint8))
    return np.concatenate(tiles, axis=1)
