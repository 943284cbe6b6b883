"""Synthetic MOT scenes: walking people on a cluttered street, seen by a slightly shaky camera.

OUR DESIGN CHOICE (a teaching stand-in for MOT17, which cannot be downloaded here):

* people are drawn figures (head, torso, arms, legs with a walking phase) with per-identity
  clothing, so appearance embeddings matter; a ``lookalike_rate`` share of identities copy
  another identity's clothing (colours jittered slightly), so appearance alone is not enough;
* ground-plane perspective: the foot row ``y`` sets the height linearly from ``min_height``
  (at the far end) to ``max_height`` (at the bottom); lower = closer = bigger = drawn later;
* static occluders (poles, boxes) take part in the same depth order;
* people enter at the left/right borders and leave when they have walked out;
* ``crossing_pairs`` look-alike pairs (the second dressed like the first) walk towards each
  other along nearly the same foot row and meet at staggered times behind a tall occluder
  (a sign); a ``crossing_turn`` share of pairs turn back where they meet, so the motion model
  predicts each one where the other reappears and only appearance -- a fine-grained one --
  tells them apart;
* named presets (:data:`SCENE_PRESETS`) span the sizes of replayed real pedestrians: ``street``
  (14-56 px people in 256x192 frames), ``near`` (48-120 px, the sizes of MOT15's TUD sequences
  replayed at this frame size), ``crossing`` (look-alike pairs crossing among occluders);
* ``visibility`` is the share of a person's own pixels left visible in the frame after
  everything in front of it was drawn (an identity buffer), as MOT17's visibility ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..config import Config
from .background import random_color, street_background
from .sequence import MOTSequence
from .sprites import PedestrianLook, draw_pedestrian, paste


@dataclass
class MOTSceneConfig(Config):
    """Difficulty knobs of a synthetic MOT scene (FAST: fewer frames)."""

    width: int = 256
    height: int = 192
    num_frames: int = 150
    fps: float = 30.0
    density: float = 8.0            # people on screen the scene tries to keep
    entry_prob: float = 0.25        # chance per frame that someone enters while below density
    speed: float = 0.6              # walking speed, body heights per second
    speed_jitter: float = 0.4       # relative spread of per-person speeds
    depth_motion: float = 0.3       # share of speed along the depth (vertical) axis, at most
    stop_prob: float = 0.01         # chance per frame that a walker stops for a while
    min_height: float = 14.0        # person height (px) at the far end of the ground
    max_height: float = 56.0        # person height (px) at the bottom row
    horizon: float = 0.3            # horizon line, fraction of the frame height
    far_row: float = 0.42           # farthest foot row, fraction of the height
    lookalike_rate: float = 0.25    # share of identities dressed like an earlier identity
    lookalike_jitter: float = 12.0  # colour difference of a look-alike (0..255 levels)
    num_occluders: int = 4          # static poles / boxes in the scene
    clutter: float = 1.0            # background clutter amount
    camera_jitter: float = 1.5      # std (px) of per-frame camera shake
    noise_std: float = 2.0          # sensor noise std (levels)
    crossing_pairs: int = 0         # look-alike pairs that walk across each other
    crossing_jitter: float = 12.0   # colour difference inside a crossing pair (0..255 levels)
    crossing_turn: float = 0.5      # share of crossing pairs that turn back where they meet
    crossing_cover: float = 0.6     # width (person heights) of the sign hiding each meeting point; 0: none
    crossing_speed: float = 1.0     # walking speed of crossing pairs, body heights per second

    FAST: ClassVar[dict] = {"num_frames": 40}

    @classmethod
    def preset(cls, name: str, profile: str | None = None, **overrides) -> "MOTSceneConfig":
        """The named scene preset of :data:`SCENE_PRESETS` with ``overrides`` applied."""
        if name not in SCENE_PRESETS:
            raise ValueError(f"MOTSceneConfig.preset: unknown preset {name!r}; known: {sorted(SCENE_PRESETS)}")
        return cls.make(profile, **{**SCENE_PRESETS[name], **overrides})


# OUR CHOICE: three kinds of scene. "near" puts the camera closer (people 48-120 px at 256x192,
# as MOT15's TUD-Campus/Stadtmitte replayed at that size: 49-124 px); "crossing" makes association
# depend on appearance (look-alike pairs meeting behind occluders).
SCENE_PRESETS: dict[str, dict] = {
    "street": {},
    "near": dict(min_height=48.0, max_height=120.0, far_row=0.5, density=5.0, num_occluders=2),
    "crossing": dict(min_height=28.0, max_height=80.0, density=6.0, crossing_pairs=3, num_occluders=6,
                     lookalike_rate=0.4),
}
# Seeds of the train / val / test scenes start here; the ranges never overlap, so a test scene is
# never trained on.
SPLIT_SEED_BASE = {"train": 10_000, "val": 20_000, "test": 30_000}

# A world is the cycle of presets the scenes of a split are drawn from (scene i: preset i mod n).
WORLDS: dict[str, tuple[str, ...]] = {
    "street": ("street",),
    "mixed": ("street", "near", "crossing"),
}


def world_scene(world: str, index: int, profile: str | None = None, **overrides) -> MOTSceneConfig:
    """The scene config of scene ``index`` of ``world`` (``"street"`` or ``"mixed"``)."""
    if world not in WORLDS:
        raise ValueError(f"world: unknown name {world!r}; known: {sorted(WORLDS)}")
    presets = WORLDS[world]
    return MOTSceneConfig.preset(presets[index % len(presets)], profile, **overrides)


def _height_at(cfg: MOTSceneConfig, foot_y: float) -> float:
    far, near = cfg.far_row * cfg.height, float(cfg.height)
    return cfg.min_height + (cfg.max_height - cfg.min_height) * (foot_y - far) / (near - far)


class _Walker:
    def __init__(self, pid: int, look: PedestrianLook, x: float, y: float, vx: float, vy: float, scale: float,
                 phase: float, crossing: bool = False, turn_at: int = -1):
        self.id, self.look, self.x, self.y, self.vx, self.vy = pid, look, x, y, vx, vy
        self.scale, self.phase, self.pause, self.crossing, self.turn_at = scale, phase, 0, crossing, turn_at


def _make_occluders(cfg: MOTSceneConfig, rng: np.random.Generator, margin: int) -> list[tuple]:
    """Static occluders as ``(base_y, left, top, patch RGBA)`` in background coordinates."""
    out = []
    for _ in range(cfg.num_occluders):
        base = rng.uniform(cfg.far_row * cfg.height + 10, cfg.height * 1.02) + margin
        scale = _height_at(cfg, base - margin) / cfg.max_height
        col = random_color(rng, (0.0, 0.5), (0.15, 0.8))
        if rng.random() < 0.5:  # pole, e.g. a lamp post or tree trunk
            w, h = max(2, int(round(rng.uniform(5, 10) * scale))), int(base)
        else:  # box: bin, bench, car
            w, h = int(rng.uniform(30, 90) * scale), int(rng.uniform(18, 40) * scale)
        w, h = max(w, 2), max(h, 2)
        patch = np.zeros((h, w, 4), np.uint8)
        shade = np.linspace(0.75, 1.15, w)[None, :, None]
        patch[..., :3] = np.clip(col * shade, 0, 255).astype(np.uint8)
        patch[..., 3] = 255
        left = int(rng.uniform(0, cfg.width + 2 * margin - w))
        out.append((float(base), left, int(base) - h, patch))
    return out


def generate_mot_sequence(cfg: MOTSceneConfig, seed: int, name: str | None = None) -> MOTSequence:
    """Render a MOT sequence; the same ``(cfg, seed)`` gives the same frames and ground truth.

    Returns:
        ``MOTSequence`` with ``frames (T, H, W, 3)`` and ``gt (N, 9)`` (class 1, conf 1,
        visibility measured from pixels; fully occluded people stay in gt with visibility 0,
        as in MOT17).
    """
    rng = np.random.default_rng(seed)
    W, H, T = cfg.width, cfg.height, cfg.num_frames
    margin = int(math.ceil(4 * cfg.camera_jitter)) + 2
    bg = street_background(rng, H + 2 * margin, W + 2 * margin, cfg.horizon, cfg.clutter)
    occluders = _make_occluders(cfg, rng, margin)
    noise_bank = rng.normal(0, cfg.noise_std, (4, H, W + 16, 3)).astype(np.float32)
    looks: list[PedestrianLook] = []
    walkers: list[_Walker] = []
    far, near = cfg.far_row * H, H * 1.0

    def spawn(inside: bool) -> None:
        pid = len(looks) + 1
        if looks and rng.random() < cfg.lookalike_rate:
            look = looks[int(rng.integers(len(looks)))].lookalike(rng, cfg.lookalike_jitter)
        else:
            look = PedestrianLook.random(rng)
        looks.append(look)
        y = rng.uniform(far, near)
        hgt = _height_at(cfg, y)
        speed = cfg.speed * (1 + cfg.speed_jitter * rng.uniform(-1, 1))
        angle = rng.uniform(-1, 1) * math.asin(min(1.0, cfg.depth_motion))
        direction = 1 if rng.random() < 0.5 else -1
        if inside:
            x = rng.uniform(0, W)
        else:
            x = -0.4 * hgt if direction > 0 else W + 0.4 * hgt
        walkers.append(_Walker(pid, look, x, y, direction * speed * math.cos(angle), speed * math.sin(angle),
                               rng.uniform(0.85, 1.1), rng.uniform(0, 2 * math.pi)))

    def spawn_crossing(meet_frame: int) -> None:
        """Two look-alikes on one foot row, placed so that they meet at ``meet_frame``."""
        y = rng.uniform(far + 0.2 * (near - far), near - 0.1 * (near - far))
        x_meet = rng.uniform(0.3, 0.7) * W
        turn_at = meet_frame if rng.random() < cfg.crossing_turn else -1
        first = PedestrianLook.random(rng)
        for direction, look in ((1, first), (-1, first.lookalike(rng, cfg.crossing_jitter))):
            pid = len(looks) + 1
            looks.append(look)
            vx = direction * cfg.crossing_speed
            yy = y + rng.uniform(-0.02, 0.02) * (near - far)
            x = x_meet - vx * _height_at(cfg, yy) / cfg.fps * meet_frame
            walkers.append(_Walker(pid, look, x, yy, vx, 0.0, 1.0, rng.uniform(0, 2 * math.pi), crossing=True,
                                   turn_at=turn_at))
        if cfg.crossing_cover > 0:  # a sign just in front of the pair, as tall as a person
            hgt = _height_at(cfg, y)
            w, h = max(2, int(cfg.crossing_cover * hgt)), int(1.15 * hgt)
            patch = np.zeros((h, w, 4), np.uint8)
            col = random_color(rng, (0.0, 0.5), (0.2, 0.8))
            patch[..., :3] = np.clip(col * np.linspace(0.75, 1.15, w)[None, :, None], 0, 255).astype(np.uint8)
            patch[..., 3] = 255
            base = y + 0.03 * (near - far) + margin
            occluders.append((float(base), int(x_meet - w / 2) + margin, int(base) - h, patch))

    for _ in range(int(round(cfg.density))):
        spawn(inside=True)
    for k in range(cfg.crossing_pairs):
        spawn_crossing(int(T * (k + 1) / (cfg.crossing_pairs + 1)))
    frames = np.empty((T, H, W, 3), np.uint8)
    rows = []
    cam = np.zeros(2)
    for t in range(T):
        cam = np.clip(0.7 * cam + rng.normal(0, cfg.camera_jitter, 2), -margin + 1, margin - 1)
        ox, oy = int(round(cam[0])), int(round(cam[1]))
        frame = bg[margin + oy:margin + oy + H, margin + ox:margin + ox + W].copy()
        idbuf = np.zeros((H, W), np.int32)
        items = [(base - margin, 1, -1, left - margin - ox, top - margin - oy, patch)
                 for base, left, top, patch in occluders]
        for wk in walkers:
            hgt = _height_at(cfg, wk.y) * wk.scale
            patch = draw_pedestrian(wk.look, int(round(hgt)), wk.phase, 1 if wk.vx >= 0 else -1)
            ph, pw = patch.shape[:2]
            left, top = int(round(wk.x - pw / 2)) - ox, int(round(wk.y)) - ph - oy
            items.append((wk.y, 0, wk.id, left, top, patch))
        items.sort(key=lambda it: (it[0], it[1], it[2]))  # far first; ties: people before occluders
        areas = {}
        for _, _, pid, left, top, patch in items:
            area = paste(frame, idbuf, patch, left, top, pid)
            if pid > 0:
                areas[pid] = (area, left, top, patch.shape[1], patch.shape[0])
        for pid, (area, left, top, pw, ph) in areas.items():
            if left + pw <= 0 or top + ph <= 0 or left >= W or top >= H:
                continue
            seen = int((idbuf[max(top, 0):top + ph, max(left, 0):left + pw] == pid).sum())
            rows.append((t + 1, pid, left, top, pw, ph, 1, 1, seen / max(area, 1)))
        if cfg.noise_std > 0:
            k, dx = int(rng.integers(4)), int(rng.integers(16))
            frame = np.clip(frame + noise_bank[k, :, dx:dx + W], 0, 255).astype(np.uint8)
        frames[t] = frame
        # motion update: walk, pause now and then, bounce off the ground's depth range
        for wk in walkers:
            hgt = _height_at(cfg, wk.y) * wk.scale
            if wk.pause > 0:
                wk.pause -= 1
                continue
            if not wk.crossing and rng.random() < cfg.stop_prob:
                wk.pause = int(rng.integers(10, 40))
            if t == wk.turn_at:
                wk.vx = -wk.vx
            wk.x += wk.vx * hgt / cfg.fps
            wk.y += wk.vy * hgt / cfg.fps
            if not far <= wk.y <= near:
                wk.vy = -wk.vy
                wk.y = float(np.clip(wk.y, far, near))
            wk.phase += 2 * math.pi * 1.8 * math.hypot(wk.vx, wk.vy) / cfg.speed / cfg.fps
        # leave once out of the frame and walking away (crossing pairs may start outside, walking in)
        walkers = [wk for wk in walkers if not (wk.x <= -0.6 * cfg.max_height and wk.vx <= 0
                                                or wk.x >= W + 0.6 * cfg.max_height and wk.vx >= 0)]
        if len(walkers) < cfg.density and rng.random() < cfg.entry_prob:
            spawn(inside=False)
    gt = np.array(rows, np.float64).reshape(-1, 9)
    gt = gt[np.lexsort((gt[:, 1], gt[:, 0]))]
    return MOTSequence(name or f"synth-mot-{seed:04d}", frames, gt, cfg.fps, {},
                       {"seed": seed, "config": cfg.to_dict(), "generator": "kdtrack_lite.data.mot_synth"})
