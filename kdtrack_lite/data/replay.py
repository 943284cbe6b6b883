"""Real-motion replay: render a MOTChallenge ground-truth file as a synthetic sequence.

Real trajectories (who walks where, when people cross, enter and leave) with synthetic
appearance (our drawn pedestrians on a procedural street), so trackers can be tested on real
motion statistics without the real images. Visibility is re-measured from the rendered pixels.

Rows left out (conf 0, or a class not in ``ReplayConfig.classes``) are counted in
``meta["left_out_rows"]``; MOT17 classes 1, 2, 7 are pedestrian, person on vehicle, static person.

The source frame size comes from ``seqinfo.ini`` next to ``gt/``; a gt file without one (motmetrics
ships MOT15's TUD-Campus and TUD-Stadtmitte that way) is taken as MOT15's 640x480 unless
``source_size`` says otherwise. Output sides are multiples of ``ReplayConfig.divisor`` so that every
detector of the family (stride 16) accepts the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from ..config import Config
from .background import street_background
from .motchallenge import read_mot_txt, read_seqinfo
from .sequence import MOTSequence
from .sprites import PedestrianLook, draw_pedestrian, paste


@dataclass
class ReplayConfig(Config):
    """How a ground-truth file is rendered."""

    width: int = 256                 # output width when image_size is not given (height keeps the aspect)
    divisor: int = 16                # output sides are multiples of this (the detectors' stride)
    source_size: tuple[int, int] = (640, 480)  # (W, H) of a gt file without seqinfo.ini (MOT15's size)
    classes: tuple[int, ...] = (1, 2, 7)
    clutter: float = 1.0
    noise_std: float = 2.0
    fps: float = 30.0                # used when no seqinfo.ini lies next to gt/

    FAST: ClassVar[dict] = {}


def replay_mot_gt(gt_path: str | Path, cfg: ReplayConfig | None = None, seed: int = 0,
                  image_size: tuple[int, int] | None = None,
                  source_size: tuple[int, int] | None = None) -> MOTSequence:
    """Render ``gt_path`` (MOTChallenge gt.txt, 9 or 10 columns) as a ``MOTSequence``.

    Args:
        image_size: output ``(W, H)``, each a multiple of ``cfg.divisor``; default: the source
            size scaled to ``cfg.width``, the height rounded to a multiple of ``cfg.divisor``.
        source_size: the real frame size ``(W, H)`` when no ``seqinfo.ini`` lies next to ``gt/``
            (default ``cfg.source_size``, MOT15's 640x480); ignored when ``seqinfo.ini`` exists.

    Returns:
        A sequence whose gt keeps the file's frame numbers and ids, boxes scaled to the output
        size, class 1, visibility measured from the rendering.
    """
    cfg = cfg or ReplayConfig.make()
    gt_path = Path(gt_path)
    rows = read_mot_txt(gt_path, "gt")
    keep = (rows[:, 6] != 0) & np.isin(rows[:, 7], cfg.classes)
    left_out = int((~keep).sum())
    rows = rows[keep]
    if not len(rows):
        raise ValueError(f"{gt_path}: no rows to replay (conf != 0 and class in {cfg.classes})")
    info_path = gt_path.parent.parent
    fps, T = cfg.fps, int(rows[:, 0].max())
    if (info_path / "seqinfo.ini").is_file():
        info = read_seqinfo(info_path)
        W0, H0, fps, T = info["imWidth"], info["imHeight"], info["frameRate"], info["seqLength"]
    else:
        W0, H0 = _check_size(source_size or cfg.source_size, "source_size", 1)
        right, bottom = (rows[:, 2] + rows[:, 4]).max(), (rows[:, 3] + rows[:, 5]).max()
        if right > 1.5 * W0 or bottom > 1.5 * H0:
            raise ValueError(
                f"{gt_path}: boxes reach ({right:.0f}, {bottom:.0f}) px, far outside the assumed "
                f"{W0}x{H0} frame (no seqinfo.ini next to gt/); pass source_size=(W, H)")
    if image_size is None:
        W = cfg.width
        H = max(1, int(round(H0 * W / W0 / cfg.divisor))) * cfg.divisor
    else:
        W, H = image_size
    _check_size((W, H), "image_size", cfg.divisor)
    sx, sy = W / W0, H / H0
    rng = np.random.default_rng(seed)
    bg = street_background(rng, H, W, 0.3, cfg.clutter)
    looks: dict[int, PedestrianLook] = {}
    phase: dict[int, float] = {}
    last_x: dict[int, float] = {}
    frames = np.empty((T, H, W, 3), np.uint8)
    out = []
    by_frame = {int(f): rows[rows[:, 0] == f] for f in np.unique(rows[:, 0])}
    for t in range(1, T + 1):
        frame = bg.copy()
        idbuf = np.zeros((H, W), np.int32)
        cur = by_frame.get(t, np.zeros((0, 9)))
        boxes = cur[:, 2:6] * [sx, sy, sx, sy]
        order = np.argsort(boxes[:, 1] + boxes[:, 3], kind="stable")  # far (higher feet) first
        areas = {}
        for k in order:
            pid = int(cur[k, 1])
            x, y, w, h = boxes[k]
            if pid not in looks:
                looks[pid] = PedestrianLook.random(rng)
                phase[pid], last_x[pid] = rng.uniform(0, 2 * np.pi), x
            phase[pid] += 2.5 * abs(x - last_x[pid]) / max(h, 1) * np.pi
            last_x[pid] = x
            pw, ph = max(2, int(round(w))), max(4, int(round(h)))
            patch = draw_pedestrian(looks[pid], ph, phase[pid])
            patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_NEAREST)
            left, top = int(round(x)), int(round(y))
            areas[pid] = (paste(frame, idbuf, patch, left, top, pid), left, top, pw, ph, k)
        for pid, (area, left, top, pw, ph, k) in areas.items():
            seen = int((idbuf[max(top, 0):top + ph, max(left, 0):left + pw] == pid).sum())
            out.append((t, pid, *boxes[k], 1, 1, seen / max(area, 1)))
        if cfg.noise_std > 0:
            frame = np.clip(frame + rng.normal(0, cfg.noise_std, frame.shape), 0, 255).astype(np.uint8)
        frames[t - 1] = frame
    gt = np.array(out, np.float64).reshape(-1, 9)
    gt = gt[np.lexsort((gt[:, 1], gt[:, 0]))]
    name = gt_path.parent.parent.name if gt_path.parent.name == "gt" else gt_path.parent.name
    return MOTSequence(f"replay-{name}", frames, gt, fps, {}, {
        "seed": seed, "config": cfg.to_dict(), "generator": "kdtrack_lite.data.replay", "source": str(gt_path),
        "source_size": [W0, H0], "scale": [sx, sy], "left_out_rows": left_out})


def _check_size(size, name: str, divisor: int) -> tuple[int, int]:
    """``(W, H)`` as two positive ints, each a multiple of ``divisor``; else a ValueError naming ``name``."""
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"replay_mot_gt: {name} must be (W, H), got {size!r}") from None
    if w <= 0 or h <= 0 or w % divisor or h % divisor:
        raise ValueError(f"replay_mot_gt: {name} must be two positive sides, multiples of {divisor}; got {size!r}")
    return w, h
