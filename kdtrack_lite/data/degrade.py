"""Low-quality video: composable degradations with per-frame schedules, levels recorded.

Each op maps a level in ``[0, 1]`` (0 = untouched) to a physical parameter:

    op             parameter at level l                          models
    -------------  --------------------------------------------  -------------------------------
    gaussian_blur  sigma = 3 l px                                defocus
    motion_blur    line kernel of 1 + 14 l px, random angle      camera shake / fast pan
    haze           I t + A (1 - t), t = 1 - 0.75 l (1 - y/2H)    fog, thicker far (top)
    low_contrast   mean + (I - mean)(1 - 0.8 l)                  flat lighting, dirty lens
    low_light      255 (1 - 0.6 l) (I / 255)^(1 + 2 l)           dusk / night: gain + gamma
    noise          Gaussian, std 40 l levels                     sensor noise
    jpeg           JPEG quality 95 - 90 l                        compression artefacts

Ops run in the fixed order of ``OPS`` (optics, scene, sensor, compression). OUR DESIGN CHOICE:
the parameter ranges; the families follow the low-quality-video literature
(VSD-MOT/DSWR: blur, noise, low light, compression).

A schedule spec is ``"op:kind:args,..."``; kinds: ``const:l``, ``ramp:l0:l1``,
``burst:base:peak[:count[:length]]`` -- e.g. ``"noise:ramp:0:0.8,jpeg:const:0.5"``; or a preset
name from ``PRESETS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from ..config import Config
from .sequence import MOTSequence, SOTSequence

OPS: tuple[str, ...] = ("gaussian_blur", "motion_blur", "haze", "low_contrast", "low_light", "noise", "jpeg")

PRESETS: dict[str, str] = {
    "low_quality": "gaussian_blur:const:0.35,noise:const:0.35,jpeg:const:0.7",
    "night": "low_light:ramp:0.3:0.8,noise:ramp:0.2:0.5",
    "fog": "haze:ramp:0.2:0.8,low_contrast:const:0.3",
    "shaky": "motion_blur:burst:0.0:0.9:3:8,jpeg:const:0.4",
    "mixed": "gaussian_blur:burst:0.1:0.7:2:10,noise:ramp:0.1:0.5,low_light:const:0.3,jpeg:const:0.6",
}


def gaussian_blur(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    sigma = 3.0 * level
    return cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0.05 else frame


def motion_blur(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    length = 1 + 14 * level
    angle = rng.uniform(0, np.pi)
    if length < 1.5:
        return frame
    k = int(np.ceil(length)) | 1
    kern = np.zeros((k, k), np.float32)
    c, dx, dy = k // 2, np.cos(angle) * length / 2, np.sin(angle) * length / 2
    cv2.line(kern, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return cv2.filter2D(frame, -1, kern / kern.sum())


def haze(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    H = frame.shape[0]
    t = 1 - 0.75 * level * (1 - 0.5 * np.arange(H, dtype=np.float32) / H)[:, None, None]
    return np.clip(frame * t + 225.0 * (1 - t), 0, 255).astype(np.uint8)


def low_contrast(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    mean = frame.reshape(-1, 3).mean(0)
    return np.clip(mean + (frame - mean) * (1 - 0.8 * level), 0, 255).astype(np.uint8)


def low_light(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    lut = (255 * (1 - 0.6 * level) * (np.arange(256) / 255.0) ** (1 + 2 * level)).round().astype(np.uint8)
    return cv2.LUT(frame, lut)


def noise(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    if level <= 0:
        return frame
    return np.clip(frame + rng.normal(0, 40 * level, frame.shape).astype(np.float32), 0, 255).astype(np.uint8)


def jpeg(frame: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    if level <= 0:
        return frame
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(round(95 - 90 * level))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


_FUNCS = {name: globals()[name] for name in OPS}


def degrade_frame(frame: np.ndarray, levels: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Apply ``levels`` (``{op: level in [0, 1]}``) to one ``(H, W, 3)`` uint8 frame, in ``OPS`` order."""
    bad = sorted(set(levels) - set(OPS))
    if bad:
        raise ValueError(f"degrade_frame: unknown op(s) {bad}; expected some of {OPS}")
    out = np.ascontiguousarray(frame)
    for op in OPS:
        level = float(levels.get(op, 0.0))
        if not 0 <= level <= 1:
            raise ValueError(f"degrade_frame: level of {op!r} must be in [0, 1], got {level}")
        if level > 0:
            out = _FUNCS[op](out, level, rng)
    return out


def constant(T: int, level: float) -> np.ndarray:
    return np.full(T, float(level))


def ramp(T: int, start: float, end: float) -> np.ndarray:
    return np.linspace(float(start), float(end), T)


def burst(T: int, base: float, peak: float, rng: np.random.Generator, count: int = 2, length: int = 8) -> np.ndarray:
    """``base`` everywhere except ``count`` bursts of ``length`` frames at ``peak`` (random starts)."""
    out = np.full(T, float(base))
    for _ in range(int(count)):
        a = int(rng.integers(0, max(1, T - int(length) + 1)))
        out[a:a + int(length)] = float(peak)
    return out


def parse_spec(spec: str) -> list[tuple[str, str, list[float]]]:
    """``"op:kind:args,..."`` or a preset name -> ``[(op, kind, args), ...]`` (validated)."""
    spec = PRESETS.get(spec, spec)
    out = []
    nargs = {"const": (1, 1), "ramp": (2, 2), "burst": (2, 4)}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        bits = part.split(":")
        if len(bits) < 2 or bits[0] not in OPS or bits[1] not in nargs:
            raise ValueError(f"degradation spec {part!r}: expected op:kind:args with op in {OPS} and kind in "
                             f"{tuple(nargs)} (or a preset: {tuple(PRESETS)})")
        lo, hi = nargs[bits[1]]
        try:
            args = [float(a) for a in bits[2:]]
        except ValueError:
            raise ValueError(f"degradation spec {part!r}: arguments must be numbers") from None
        if not lo <= len(args) <= hi or any(not 0 <= a <= 1 for a in args[:2]):
            raise ValueError(f"degradation spec {part!r}: {bits[1]} takes {lo}..{hi} arguments, levels in [0, 1]")
        out.append((bits[0], bits[1], args))
    return out


@dataclass
class DegradationConfig(Config):
    """Which degradations, on which schedule (see module docstring for the spec syntax)."""

    spec: str = "low_quality"

    FAST: ClassVar[dict] = {}


def schedule_levels(spec: str, T: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-frame levels ``{op: (T,)}`` of a spec (ops listed twice take the max)."""
    levels: dict[str, np.ndarray] = {}
    for op, kind, args in parse_spec(spec):
        if kind == "const":
            lv = constant(T, *args)
        elif kind == "ramp":
            lv = ramp(T, *args)
        else:
            lv = burst(T, args[0], args[1], rng, *[int(a) for a in args[2:]])
        levels[op] = np.maximum(levels[op], lv) if op in levels else lv
    return levels


def degrade_sequence(seq: MOTSequence | SOTSequence, cfg: DegradationConfig, seed: int):
    """A degraded copy of ``seq`` with ``seq.degradation`` = the applied levels per frame.

    Frame ``t`` uses ``numpy.random.default_rng([seed, t])`` so a single frame can be redone.
    Ground truth is unchanged (degradations do not move objects).
    """
    out = seq.copy()
    levels = schedule_levels(cfg.spec, seq.num_frames, np.random.default_rng([seed, 2**31]))
    for t in range(seq.num_frames):
        out.frames[t] = degrade_frame(seq.frames[t], {op: lv[t] for op, lv in levels.items()},
                                      np.random.default_rng([seed, t]))
    for op, lv in levels.items():
        out.degradation[op] = np.maximum(out.degradation[op], lv) if op in out.degradation else lv
    out.meta["degradation"] = {"spec": PRESETS.get(cfg.spec, cfg.spec), "seed": seed}
    return out
