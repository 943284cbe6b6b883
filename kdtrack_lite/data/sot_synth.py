"""Synthetic SOT sequences with LaSOT-style attributes, labelled from what is rendered.

Attributes (LaSOT names, Fan et al. 2019; per frame and per sequence)::

    name  LaSOT attribute        how this generator makes it   how the per-frame label is computed
    ----  ---------------------  ----------------------------  ----------------------------------------
    OCC   occlusion (any)        = POC or FOC                  POC or FOC
    POC   partial occlusion      a narrow panel on the path    poc_min <= occluded share < foc_min
    FOC   full occlusion         a wide panel on the path      occluded share >= foc_min
    FM    fast motion            speed bursts                  centre shift > fm_ratio * sqrt(w h)
    SV    scale variation        zoom ramps                    area / first area outside [1/r, r]
    IV    illumination variation global gain ramps             |gain / first gain - 1| > iv_delta
    MB    motion blur            blur along the motion         blur length >= mb_min_px
    LR    low resolution         a small target                sqrt(w h) < lr_size
    BC    background clutter     look-alike distractors near   a look-alike within bc_dist * sqrt(w h)
    DEF   deformation            aspect and shear changes      shape IoU with frame 1 < def_iou, or
                                                               |log(aspect / first aspect)| > def_log_aspect
    OV    out of view            the target leaves the frame   no target pixel inside the frame

PAPER FACT: the eleven names and meanings follow LaSOT's attribute list (LaSOT also has ARC,
CM, ROT, VC). OUR DESIGN CHOICE: the thresholds (LaSOT's FM uses the box size itself; we use
half of it at 30 fps and these small frame sizes; SV reads LaSOT's "ratio outside [0.5, 2]" as
an area ratio).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from ..config import Config
from .background import random_color, texture_background
from .sequence import SOTSequence
from .sprites import blend_patch, render_object, warp_object

ATTRIBUTES: tuple[str, ...] = ("OCC", "POC", "FOC", "FM", "SV", "IV", "MB", "LR", "BC", "DEF", "OV")
_EVENTS = ("POC", "FOC", "FM", "SV", "IV", "MB", "LR", "BC", "DEF", "OV")


@dataclass
class SOTConfig(Config):
    """Size, motion and attribute knobs of a synthetic SOT sequence (FAST: fewer frames)."""

    width: int = 192
    height: int = 192
    num_frames: int = 120
    fps: float = 30.0
    min_size: float = 16.0          # target sqrt(w h) range at frame 1 (without LR)
    max_size: float = 48.0
    lr_size_range: tuple[float, float] = (8.0, 12.0)  # target size when LR is asked for
    base_speed: float = 1.5         # typical speed, px / frame
    attribute_prob: float = 0.35    # chance of each event when attributes are not given
    fm_speed: float = 0.9           # burst speed, target sizes per frame
    sv_factor: float = 2.2          # zoom factor of an SV event
    iv_gains: tuple[float, float] = (0.4, 1.7)  # dark / bright gain of an IV event
    mb_exposure: float = 0.8        # blur length = exposure * displacement (when MB is on)
    def_aspect: float = 0.5         # log-aspect amplitude of a DEF event
    def_shear: float = 0.4          # shear amplitude of a DEF event
    num_lookalikes: int = 2         # look-alike distractors in a BC sequence
    num_others: int = 1             # other (dissimilar) moving objects in every sequence
    clutter: float = 1.0
    noise_std: float = 2.0
    # per-frame label thresholds
    poc_min: float = 0.1
    foc_min: float = 0.95
    fm_ratio: float = 0.5
    sv_area_ratio: float = 2.0
    iv_delta: float = 0.25
    mb_min_px: float = 4.0
    lr_size: float = 14.0
    bc_dist: float = 2.0
    def_iou: float = 0.8
    def_log_aspect: float = 0.3
    max_tries: int = 10             # re-draws when a requested attribute did not occur

    FAST: ClassVar[dict] = {"num_frames": 40}


def _segment(rng: np.random.Generator, T: int, lo: int, hi: int) -> tuple[int, int]:
    length = int(rng.integers(min(lo, T - 2), max(min(hi, T - 2), min(lo, T - 2) + 1)))
    start = int(rng.integers(1, max(2, T - length)))
    return start, min(T, start + length)


def _ramp(T: int, a: int, b: int, value: float, hold: bool) -> np.ndarray:
    """1 before ``a``, ramps to ``value`` over the first third of ``[a, b)``, back if not ``hold``."""
    out = np.ones(T)
    n = max(2, (b - a) // 3)
    out[a:a + n] = np.linspace(1, value, n)[: len(out[a:a + n])]
    out[a + n:] = value
    if not hold:
        out[b - n:b] = np.linspace(value, 1, n)[: len(out[b - n:b])]
        out[b:] = 1
    return out


def _plan(cfg: SOTConfig, rng: np.random.Generator, events: set[str]) -> dict:
    """Trajectory, size, aspect, shear, gain and shutter per frame, driven by ``events``."""
    T, W, H = cfg.num_frames, cfg.width, cfg.height
    s0 = rng.uniform(*cfg.lr_size_range) if "LR" in events else rng.uniform(cfg.min_size, cfg.max_size)
    scale = np.exp(np.cumsum(rng.normal(0, 0.005, T)))
    if "SV" in events:
        a, b = _segment(rng, T, T // 3, T // 2)
        up = s0 * cfg.sv_factor < 0.45 * min(W, H) and (rng.random() < 0.5 or s0 < 20)
        scale *= _ramp(T, a, b, cfg.sv_factor if up else 1 / cfg.sv_factor, hold=True)
    size = s0 * scale
    log_aspect = np.full(T, rng.uniform(-0.4, 0.4))
    shear = np.zeros(T)
    if "DEF" in events:
        a, b = _segment(rng, T, T // 3, T // 2)
        ph = np.linspace(0, 2 * np.pi * rng.uniform(1, 2.5), b - a)
        log_aspect[a:b] += cfg.def_aspect * np.sin(ph)
        shear[a:b] = cfg.def_shear * np.sin(0.7 * ph + 1)
    # velocity random walk, bursts for FM (and for MB, which needs motion)
    vel = np.zeros((T, 2))
    v = rng.normal(0, cfg.base_speed, 2)
    for t in range(T):
        v = 0.92 * v + rng.normal(0, 0.35 * cfg.base_speed, 2)
        n = np.linalg.norm(v)
        v = v * min(1.0, 2 * cfg.base_speed / max(n, 1e-6))
        vel[t] = v
    if events & {"FM", "MB"}:
        for _ in range(int(rng.integers(1, 3))):
            a, b = _segment(rng, T, 5, 10)
            ang = rng.uniform(0, 2 * np.pi)
            vel[a:b] = cfg.fm_speed * size[a:b, None] * np.array([math.cos(ang), math.sin(ang)])
    pos = np.zeros((T, 2))
    p = np.array([rng.uniform(0.3, 0.7) * W, rng.uniform(0.3, 0.7) * H])
    for t in range(T):
        half = size[t] / 2 + 2
        for k, lim in ((0, W), (1, H)):  # reflect at the borders: only OV leaves the frame
            if not half <= p[k] <= lim - half:
                p[k] = float(np.clip(p[k], half, lim - half))
                vel[t:, k] = -vel[t:, k] if t + 1 < T else vel[t:, k]
        pos[t] = p
        p = p + vel[t]
    if "OV" in events:
        a, b = _segment(rng, T, 20, 35)
        side = int(rng.integers(4))
        out = pos[a].copy()
        k, sign = side % 2, (1 if side >= 2 else -1)
        lim = (W, H)[k]
        out[k] = (lim if sign > 0 else 0) + sign * size[a] * 1.2
        n = max(2, (b - a) // 3)
        pos[a:a + n] = np.linspace(pos[a], out, n)
        pos[a + n:b - n] = out
        pos[b - n:b] = np.linspace(out, pos[b - 1] if b < T else pos[a], n)
    gain = np.ones(T)
    if "IV" in events:
        a, b = _segment(rng, T, T // 3, T // 2)
        gain = _ramp(T, a, b, cfg.iv_gains[int(rng.integers(2))], hold=bool(rng.random() < 0.5))
    shutter = cfg.mb_exposure if "MB" in events else 0.0
    return {"pos": pos, "size": size, "log_aspect": log_aspect, "shear": shear, "gain": gain, "shutter": shutter}


def _render(cfg: SOTConfig, rng: np.random.Generator, events: set[str], name: str, seed: int) -> SOTSequence:
    T, W, H = cfg.num_frames, cfg.width, cfg.height
    plan = _plan(cfg, rng, events)
    bg = texture_background(rng, H, W, cfg.clutter).astype(np.float32)
    shape, texture = int(rng.integers(4)), int(rng.integers(4))
    c1, c2 = random_color(rng, (0.4, 1.0), (0.3, 1.0)), random_color(rng, (0.2, 1.0), (0.1, 0.9))
    base = render_object(shape, texture, c1, c2, 64)
    base_mask = cv2.resize((base[..., 3] >= 128).astype(np.uint8), (32, 32), interpolation=cv2.INTER_NEAREST)
    movers = []  # (patch, positions (T, 2), size, lookalike)
    n_look = cfg.num_lookalikes if "BC" in events else 0
    for i in range(n_look + cfg.num_others):
        look = i < n_look
        if look:
            j = lambda c: np.clip(c + rng.uniform(-15, 15, 3), 0, 255)
            patch = render_object(shape, texture, j(c1), j(c2), 64)
        else:
            patch = render_object(int(rng.integers(4)), int(rng.integers(4)), random_color(rng), random_color(rng), 64)
        if look:  # a look-alike that drifts around the target at 1-3 sizes
            ang = np.cumsum(rng.normal(0, 0.08, T)) + rng.uniform(0, 2 * np.pi)
            rad = plan["size"] * rng.uniform(1.0, 3.0) * (1 + 0.3 * np.sin(np.linspace(0, 6, T)))
            path = plan["pos"] + np.stack([np.cos(ang), np.sin(ang)], 1) * rad[:, None]
        else:
            path = np.array([rng.uniform(0, W), rng.uniform(0, H)]) + np.cumsum(rng.normal(0, 1.2, (T, 2)), 0)
        movers.append((patch, path, float(plan["size"][0] * (1 if look else rng.uniform(0.6, 1.4))), look))
    occluders = []  # (left, top, w, h, rgb)
    for kind in ("POC", "FOC"):
        if kind in events:
            t0 = int(rng.integers(T // 5, max(T // 5 + 1, 4 * T // 5)))
            cx, cy = plan["pos"][t0]
            s = plan["size"][t0]
            if kind == "FOC":
                ow, oh = s * 1.6 + 3 * np.linalg.norm(plan["pos"][min(t0 + 1, T - 1)] - plan["pos"][t0]) + 4, s * 2.2
            else:
                ow, oh = 0.35 * s, s * 2.5
                cx += rng.choice([-1, 1]) * 0.25 * s
            occluders.append((int(cx - ow / 2), int(cy - oh / 2), int(ow), int(oh), random_color(rng, (0, 0.5))))
    noise = rng.normal(0, cfg.noise_std, (4, H, W + 16, 3)).astype(np.float32)
    frames = np.empty((T, H, W, 3), np.uint8)
    boxes = np.zeros((T, 4))
    occ_share, inframe, lookalike_near, shape_iou, blur_len = (np.zeros(T) for _ in range(5))
    for t in range(T):
        frame = bg.copy()
        cx, cy = plan["pos"][t]
        s, la = plan["size"][t], plan["log_aspect"][t]
        w, h = max(3, int(round(s * math.exp(la / 2)))), max(3, int(round(s * math.exp(-la / 2))))
        for patch, path, size, look in movers:
            mw = mh = max(3, int(round(size if not look else s)))
            p = warp_object(patch, mw, mh, 0.0, np.zeros(2))
            blend_patch(frame, p, int(round(path[t, 0] - mw / 2)), int(round(path[t, 1] - mh / 2)))
            if look:
                d = np.hypot(path[t, 0] - cx, path[t, 1] - cy)
                inside = 0 <= path[t, 0] < W and 0 <= path[t, 1] < H
                lookalike_near[t] = max(lookalike_near[t], float(inside and d < cfg.bc_dist * math.sqrt(w * h)))
        disp = plan["pos"][t] - plan["pos"][t - 1] if t > 0 else np.zeros(2)
        blur = plan["shutter"] * disp
        blur_len[t] = np.hypot(*blur) if np.hypot(*blur) >= 1.5 else 0.0
        tp = warp_object(base, w, h, plan["shear"][t], blur)
        left, top = int(round(cx - w / 2)), int(round(cy - h / 2))
        pad = (tp.shape[1] - w) // 2
        tmask = blend_patch(frame, tp, left - pad, top - pad)
        boxes[t] = (left, top, w, h)
        sharp = warp_object(base, w, h, plan["shear"][t], np.zeros(2))[..., 3] >= 128
        inframe[t] = tmask.sum() / max(1, sharp.sum())
        norm = cv2.resize(sharp.astype(np.uint8), (32, 32), interpolation=cv2.INTER_NEAREST).astype(bool)
        shape_iou[t] = (norm & base_mask.astype(bool)).sum() / max(1, (norm | base_mask.astype(bool)).sum())
        occ = np.zeros((H, W), bool)
        for ol, ot, ow, oh, col in occluders:
            x0, y0, x1, y1 = max(ol, 0), max(ot, 0), min(ol + ow, W), min(ot + oh, H)
            if x0 < x1 and y0 < y1:
                frame[y0:y1, x0:x1] = col * np.linspace(0.7, 1.2, x1 - x0)[None, :, None]
                occ[y0:y1, x0:x1] = True
        occ_share[t] = (tmask & occ).sum() / max(1, tmask.sum())
        frame *= plan["gain"][t]
        k, dx = int(rng.integers(4)), int(rng.integers(16))
        frames[t] = np.clip(frame + noise[k, :, dx:dx + W], 0, 255).astype(np.uint8)
    area = boxes[:, 2] * boxes[:, 3]
    side = np.sqrt(area)
    aspect = boxes[:, 2] / boxes[:, 3]
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    shift = np.r_[0.0, np.linalg.norm(np.diff(centre, axis=0), axis=1)]
    ov = inframe <= 0.0
    fa = {
        "POC": (occ_share >= cfg.poc_min) & (occ_share < cfg.foc_min) & ~ov,
        "FOC": (occ_share >= cfg.foc_min) & ~ov,
        "FM": shift > cfg.fm_ratio * side,
        "SV": (area / area[0] > cfg.sv_area_ratio) | (area / area[0] < 1 / cfg.sv_area_ratio),
        "IV": np.abs(plan["gain"] / plan["gain"][0] - 1) > cfg.iv_delta,
        "MB": blur_len >= cfg.mb_min_px,
        "LR": side < cfg.lr_size,
        "BC": lookalike_near > 0,
        "DEF": (shape_iou < cfg.def_iou) | (np.abs(np.log(aspect / aspect[0])) > cfg.def_log_aspect),
        "OV": ov,
    }
    fa["OCC"] = fa["POC"] | fa["FOC"]
    fa = {a: fa[a].astype(bool) for a in ATTRIBUTES}
    return SOTSequence(name, frames, boxes, fa["FOC"].copy(), fa["OV"].copy(), fa,
                       [a for a in ATTRIBUTES if fa[a].any()], {}, {})


def generate_sot_sequence(cfg: SOTConfig, seed: int, name: str | None = None,
                          attributes: Sequence[str] | None = None) -> SOTSequence:
    """Render one SOT sequence; the same ``(cfg, seed, attributes)`` gives the same result.

    Args:
        attributes: names from ``ATTRIBUTES`` the sequence must carry (``OCC`` asks for a
            partial occlusion); ``None``: each event is drawn with ``cfg.attribute_prob``.

    Raises:
        ValueError: unknown attribute name. RuntimeError: an asked-for attribute did not occur
            in ``cfg.max_tries`` draws (e.g. LR with a huge ``lr_size_range``).
    """
    rng = np.random.default_rng(seed)
    if attributes is None:
        events = {e for e in _EVENTS if rng.random() < cfg.attribute_prob}
        wanted: set[str] = set()
    else:
        bad = sorted(set(attributes) - set(ATTRIBUTES))
        if bad:
            raise ValueError(f"generate_sot_sequence: unknown attribute(s) {bad}; expected some of {ATTRIBUTES}")
        wanted = set(attributes)
        events = {("POC" if a == "OCC" else a) for a in wanted}
    name = name or f"synth-sot-{seed:04d}"
    code = sum(1 << i for i, e in enumerate(_EVENTS) if e in events)  # other events, other scene
    for attempt in range(cfg.max_tries):
        seq = _render(cfg, np.random.default_rng([seed, code, attempt]), events, name, seed)
        if wanted <= set(seq.attributes):
            seq.meta = {"seed": seed, "config": cfg.to_dict(), "generator": "kdtrack_lite.data.sot_synth",
                        "events": sorted(events), "attempt": attempt}
            return seq
    missing = sorted(wanted - set(seq.attributes))
    raise RuntimeError(f"generate_sot_sequence(seed={seed}): attribute(s) {missing} did not occur in "
                       f"{cfg.max_tries} draws; loosen the SOTConfig thresholds or raise max_tries")
