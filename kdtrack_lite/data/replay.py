"""Real-motion replay: render a MOTChallenge ground-truth file as a synthetic sequence.

Real trajectories (who walks where, when people cross, enter and leave) with synthetic
appearance (our drawn pedestrians on a procedural street), so trackers can be tested on real
motion statistics without the real images. Visibility is re-measured from the rendered pixels.

Rows left out (conf 0, or a class not in ``ReplayConfig.classes``) are counted in
``meta["left_out_rows"]``; MOT17 classes 1, 2, 7 are pedestrian, person on vehicle, static person.
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
    classes: tuple[int, ...] = (1, 2, 7)
    clutter: float = 1.0
    noise_std: float = 2.0
    fps: float = 30.0                # used when no seqinfo.ini lies next to gt/

    FAST: ClassVar[dict] = {}


def replay_mot_gt(gt_path: str | Path, cfg: ReplayConfig | None = None, seed: int = 0,
                  image_size: tuple[int, int] | None = None) -> MOTSequence:
    """Render ``gt_path`` (MOTChallenge gt.txt, 9 or 10 columns) as a ``MOTSequence``.

    Args:
        image_size: output ``(W, H)``; default: the real size (``seqinfo.ini`` next to ``gt/``,
            else the boxes' extent) scaled to ``cfg.width``.

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
        W0 = int(np.ceil((rows[:, 2] + rows[:, 4]).max()))
        H0 = int(np.ceil((rows[:, 3] + rows[:, 5]).max()))
    if image_size is None:
        W = cfg.width
        H = int(round(H0 * W / W0 / 4)) * 4
    else:
        W, H = image_size
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
