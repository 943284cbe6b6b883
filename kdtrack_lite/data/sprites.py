"""Sprites drawn into RGBA patches, and z-ordered pasting with an identity buffer.

A sprite is an ``(h, w, 4)`` uint8 patch: RGB plus an alpha mask (255 = object pixel). Pasting
into a frame also writes the object's id into an ``(H, W)`` identity buffer, so visibility is
measured from the pixels that are really left after everything in front has been drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .background import random_color


@dataclass
class PedestrianLook:
    """Per-identity appearance: what an appearance embedding must learn to tell apart."""

    skin: tuple[float, ...]
    hair: tuple[float, ...]
    shirt: tuple[float, ...]
    shirt2: tuple[float, ...]
    pants: tuple[float, ...]
    stripes: int  # 0 plain, 1 horizontal stripes, 2 vertical split (jacket)
    bag: bool
    width_ratio: float  # shoulder width relative to height

    @staticmethod
    def random(rng: np.random.Generator) -> "PedestrianLook":
        tone = rng.uniform(0.35, 0.95)
        skin = tuple(float(v) for v in np.array([235, 190, 160]) * tone)
        c = lambda s=(0.2, 1.0), v=(0.15, 0.95): tuple(float(x) for x in random_color(rng, s, v))
        return PedestrianLook(skin, c((0, 0.6), (0.05, 0.5)), c(), c(), c((0.1, 0.8), (0.1, 0.7)),
                              int(rng.integers(0, 3)), bool(rng.random() < 0.3), float(rng.uniform(0.32, 0.42)))

    def lookalike(self, rng: np.random.Generator, jitter: float = 12.0) -> "PedestrianLook":
        """A different person dressed almost the same (colours jittered by ``jitter`` levels)."""
        j = lambda col: tuple(float(np.clip(v + rng.uniform(-jitter, jitter), 0, 255)) for v in col)
        return PedestrianLook(j(self.skin), j(self.hair), j(self.shirt), j(self.shirt2), j(self.pants),
                              self.stripes, self.bag, self.width_ratio)


def draw_pedestrian(look: PedestrianLook, height: int, phase: float, facing: int = 1) -> np.ndarray:
    """Render a walking person ``height`` pixels tall as an ``(height, w, 4)`` RGBA patch.

    Args:
        phase: walking phase in radians (legs and arms swing with ``sin(phase)``).
        facing: +1 walking right, -1 walking left (mirrors the bag side).
    """
    h = max(int(height), 8)
    w = max(int(math.ceil(look.width_ratio * h * 1.25)), 4)
    p = np.zeros((h, w, 4), np.uint8)
    a = lambda col: (*col, 255)
    cx = (w - 1) / 2
    sw = look.width_ratio * h / 2  # half shoulder width
    swing = math.sin(phase)
    t_leg = max(1, int(round(0.09 * h)))
    t_arm = max(1, int(round(0.06 * h)))
    hip_y, foot_y = int(0.55 * h), h - 1 - max(0, t_leg // 2)
    for side, s in ((-1, swing), (1, -swing)):  # legs
        hip = (int(round(cx + side * 0.06 * h)), hip_y)
        foot = (int(round(cx + side * 0.05 * h + s * 0.13 * h)), foot_y)
        cv2.line(p, hip, foot, a(look.pants), t_leg)
    top, bottom = int(0.17 * h), int(0.58 * h)
    cv2.rectangle(p, (int(round(cx - sw)), top), (int(round(cx + sw)), bottom), a(look.shirt), -1)
    if look.stripes == 1:
        step = max(2, int(0.07 * h))
        for y in range(top + step // 2, bottom, step):
            cv2.line(p, (int(round(cx - sw)), y), (int(round(cx + sw)), y), a(look.shirt2), max(1, step // 2))
    elif look.stripes == 2:
        cv2.rectangle(p, (int(round(cx - sw)), top), (int(round(cx - sw / 3)), bottom), a(look.shirt2), -1)
        cv2.rectangle(p, (int(round(cx + sw / 3)), top), (int(round(cx + sw)), bottom), a(look.shirt2), -1)
    for side, s in ((-1, -swing), (1, swing)):  # arms
        sh = (int(round(cx + side * sw)), int(0.2 * h))
        hand = (int(round(cx + side * (sw + 0.02 * h) + s * 0.08 * h)), int(0.52 * h))
        cv2.line(p, sh, hand, a(look.shirt), t_arm)
    if look.bag:
        bx = int(round(cx - facing * sw))
        cv2.rectangle(p, (bx - max(1, int(0.06 * h)), int(0.35 * h)), (bx + max(1, int(0.06 * h)), int(0.52 * h)),
                      a(look.shirt2), -1)
    r = max(2, int(round(0.085 * h)))
    head = (int(round(cx)), r + 1)
    cv2.circle(p, head, r, a(look.skin), -1)
    cv2.ellipse(p, head, (r, r), 0, 180, 360, a(look.hair), -1)
    return p


def make_object_patch(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A textured rigid object (SOT target or distractor) at ``size x size`` RGBA.

    Shapes: ellipse, rounded box, star-like polygon, vehicle-like body; textures: stripes,
    checker, dots or plain, in two random colours.
    """
    c1, c2 = random_color(rng, (0.4, 1.0), (0.3, 1.0)), random_color(rng, (0.2, 1.0), (0.1, 0.9))
    return render_object(int(rng.integers(0, 4)), int(rng.integers(0, 4)), c1, c2, size)


def render_object(shape: int, texture: int, c1, c2, size: int = 48) -> np.ndarray:
    """Deterministic object patch from ``shape``/``texture`` ids and two RGB colours."""
    s = size
    rgb = np.zeros((s, s, 3), np.float32)
    yy, xx = np.mgrid[0:s, 0:s]
    pattern = {0: (yy // 6) % 2, 1: ((yy // 8) + (xx // 8)) % 2,
               2: (((yy % 10) - 5) ** 2 + ((xx % 10) - 5) ** 2 < 8), 3: np.zeros((s, s), bool)}[texture]
    rgb[:] = np.where(pattern.astype(bool)[..., None], np.asarray(c2, np.float32), np.asarray(c1, np.float32))
    mask = np.zeros((s, s), np.uint8)
    if shape == 0:
        cv2.ellipse(mask, (s // 2, s // 2), (s // 2 - 1, s // 2 - 1), 0, 0, 360, 255, -1)
    elif shape == 1:
        cv2.rectangle(mask, (2, 2), (s - 3, s - 3), 255, -1)
        for cx, cy in ((2, 2), (s - 3, 2), (2, s - 3), (s - 3, s - 3)):
            mask[max(0, cy - 1):cy + 2, max(0, cx - 1):cx + 2] = 0
    elif shape == 2:
        ang = np.linspace(0, 2 * np.pi, 11)[:-1]
        rad = np.where(np.arange(10) % 2 == 0, s / 2 - 1, s / 3.2)
        pts = np.stack([s / 2 + rad * np.cos(ang), s / 2 + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255)
    else:
        cv2.rectangle(mask, (1, s // 4), (s - 2, 3 * s // 4), 255, -1)
        cv2.rectangle(mask, (s // 4, 1), (3 * s // 4, s // 4), 255, -1)
        for cx in (s // 4, 3 * s // 4):
            cv2.circle(mask, (cx, 3 * s // 4), s // 7, 255, -1)
        rgb[3 * s // 4 - s // 7:] = 25
    out = np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), mask])
    cv2.rectangle(out, (0, 0), (s - 1, s - 1), (0, 0, 0, 0), 1)
    return out


def paste(frame: np.ndarray, idbuf: np.ndarray | None, patch: np.ndarray, left: int, top: int,
          obj_id: int = 0) -> int:
    """Paste RGBA ``patch`` with its top-left at integer ``(left, top)``; returns its mask area.

    Pixels with alpha >= 128 overwrite ``frame (H, W, 3)`` and, if given, ``idbuf (H, W)`` with
    ``obj_id``. The returned area counts all mask pixels, including those outside the frame.
    """
    ph, pw = patch.shape[:2]
    alpha = patch[..., 3] >= 128
    area = int(alpha.sum())
    H, W = frame.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + pw, W), min(top + ph, H)
    if x0 >= x1 or y0 >= y1:
        return area
    sub = alpha[y0 - top:y1 - top, x0 - left:x1 - left]
    frame[y0:y1, x0:x1][sub] = patch[y0 - top:y1 - top, x0 - left:x1 - left, :3][sub]
    if idbuf is not None:
        idbuf[y0:y1, x0:x1][sub] = obj_id
    return area


def warp_object(base: np.ndarray, w: int, h: int, shear: float, blur: np.ndarray) -> np.ndarray:
    """Resize the object to ``w x h``, shear it, blur it along ``blur`` (dx, dy) px; float RGBA."""
    patch = cv2.resize(base, (w, h), interpolation=cv2.INTER_AREA if w < base.shape[1] else cv2.INTER_LINEAR)
    patch = patch.astype(np.float32)
    if shear != 0:
        m = np.array([[1, shear, -shear * h / 2], [0, 1, 0]], np.float32)
        patch = cv2.warpAffine(patch, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    length = float(np.hypot(*blur))
    if length >= 1.5:
        k = int(math.ceil(length)) | 1
        pad = k // 2 + 1
        patch = cv2.copyMakeBorder(patch, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
        kern = np.zeros((k, k), np.float32)
        c = k // 2
        cv2.line(kern, (int(round(c - blur[0] / 2)), int(round(c - blur[1] / 2))),
                 (int(round(c + blur[0] / 2)), int(round(c + blur[1] / 2))), 1.0, 1)
        kern /= kern.sum()
        patch[..., :3] *= patch[..., 3:] / 255
        patch = cv2.filter2D(patch, -1, kern)
        patch[..., :3] /= np.maximum(patch[..., 3:] / 255, 1e-3)
    return patch


def blend_patch(frame: np.ndarray, patch: np.ndarray, left: int, top: int) -> np.ndarray:
    """Alpha-blend float RGBA ``patch`` into float ``frame``; returns the frame-sized mask (>= 0.5)."""
    H, W = frame.shape[:2]
    ph, pw = patch.shape[:2]
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + pw, W), min(top + ph, H)
    mask = np.zeros((H, W), bool)
    if x0 < x1 and y0 < y1:
        sub = patch[y0 - top:y1 - top, x0 - left:x1 - left]
        a = sub[..., 3:] / 255
        frame[y0:y1, x0:x1] = frame[y0:y1, x0:x1] * (1 - a) + sub[..., :3] * a
        mask[y0:y1, x0:x1] = a[..., 0] >= 0.5
    return mask
