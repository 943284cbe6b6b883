"""Real benchmark folders (MOT17 / MOT15 / MOT20, LaSOT, GOT-10k) for the same commands.

The synthetic engine writes exactly these layouts, so the readers of :mod:`.motchallenge` and
:mod:`.lasot` read both. This module finds the sequences under a benchmark root and resizes them
to a *preset* input size, so a real folder trains and evaluates with the same recipes:

* MOT: every folder below ``root`` holding a ``seqinfo.ini`` (e.g. ``MOT17/train/MOT17-02-FRCNN``)
  is a sequence. Frames are resized to the preset size (the detector needs sides divisible by
  its stride, 16) and ground-truth boxes are scaled with them; results are scaled back to the
  original resolution before they are written (:func:`to_original_resolution`), so
  ``kdtrack eval`` compares them with the untouched ``gt.txt``.
* SOT: every folder below ``root`` holding a ``groundtruth.txt`` (LaSOT ``<class>/<class>-<n>``,
  GOT-10k ``GOT-10k_Train_000001``). SiamFC works on crops, so frames are only shrunk when
  their longer side exceeds ``max_side`` (memory), boxes scaled with them.

OUR DESIGN CHOICES: the preset sizes below (half resolution for 1080p MOT17/MOT20, a size close
to MOT15's common 640 x 480); training on MOT keeps only pedestrian rows to consider
(``conf != 0``, class 1, as MOT17's evaluation does); ``max_frames`` caps each sequence for
memory (a 1080p MOT17 sequence at half size is about 1.6 MB per frame).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from .lasot import read_sot_sequence
from .motchallenge import read_mot_sequence
from .sequence import MOTSequence, SOTSequence

# (width, height) the detector sees; both divisible by the detector stride 16
MOT_PRESETS: dict[str, tuple[int, int]] = {
    "synthetic": (256, 192),
    "mot15": (640, 480),
    "mot17": (960, 544),
    "mot20": (960, 544),
}
PEDESTRIAN = 1


def find_sequences(root: str | Path, marker: str) -> list[Path]:
    """Sorted folders below ``root`` (itself included) that contain a file named ``marker``.

    Raises:
        FileNotFoundError: ``root`` does not exist, or no folder below it has ``marker`` (the
            message names the layout that was expected).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data root {root} is not a folder")
    found = sorted({p.parent for p in root.rglob(marker)})
    if not found:
        layout = ("MOTChallenge: <root>/<seq>/seqinfo.ini, img1/, gt/gt.txt" if marker == "seqinfo.ini"
                  else "LaSOT <root>/<class>/<seq>/groundtruth.txt + img/, or GOT-10k <root>/<seq>/groundtruth.txt")
        raise FileNotFoundError(f"no sequence found under {root}: expected {layout}")
    return found


def _resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    W, H = size
    if frames.shape[1:3] == (H, W):
        return frames
    return np.stack([cv2.resize(f, (W, H), interpolation=cv2.INTER_AREA) for f in frames])


def load_mot_folder(root: str | Path, preset: str = "mot17", max_frames: int | None = None) -> list[MOTSequence]:
    """Every MOTChallenge sequence under ``root``, resized to ``MOT_PRESETS[preset]``.

    Args:
        root: a benchmark split folder (``MOT17/train``) or one sequence folder.
        preset: key of :data:`MOT_PRESETS`.
        max_frames: keep only the first ``max_frames`` frames of each sequence (memory).

    Returns:
        Sequences whose ``meta["original_size"]`` is the ``(W, H)`` on disk and
        ``meta["source"]`` the folder.
    """
    if preset not in MOT_PRESETS:
        raise ValueError(f"unknown MOT preset {preset!r}; known: {sorted(MOT_PRESETS)}")
    size = MOT_PRESETS[preset]
    sequences = []
    for seq_dir in find_sequences(root, "seqinfo.ini"):
        seq = read_mot_sequence(seq_dir)
        T = seq.num_frames if max_frames is None else min(max_frames, seq.num_frames)
        (W0, H0), (W, H) = seq.size, size
        gt = seq.gt[seq.gt[:, 0] <= T].copy()
        gt[:, [2, 4]] *= W / W0
        gt[:, [3, 5]] *= H / H0
        meta = {**seq.meta, "source": str(seq_dir), "original_size": [W0, H0]}
        sequences.append(dataclasses.replace(seq, frames=_resize(seq.frames[:T], size), gt=gt, meta=meta,
                                             degradation={k: v[:T] for k, v in seq.degradation.items()}))
    return sequences


def training_view(seq: MOTSequence) -> MOTSequence:
    """``seq`` with only the ground-truth rows a detector should learn: to consider (``conf != 0``)
    and pedestrians (class 1), as MOT17's evaluation counts them. Frames are shared, not copied."""
    gt = seq.gt[(seq.gt[:, 6] != 0) & (seq.gt[:, 7] == PEDESTRIAN)]
    return dataclasses.replace(seq, gt=gt)


def to_original_resolution(rows: np.ndarray, seq: MOTSequence) -> np.ndarray:
    """MOTChallenge result rows of a resized sequence, scaled back to its size on disk."""
    W0, H0 = seq.meta.get("original_size", seq.size)
    W, H = seq.size
    out = np.array(rows, dtype=np.float64, copy=True)
    out[:, [2, 4]] *= W0 / W
    out[:, [3, 5]] *= H0 / H
    return out


def load_sot_folder(root: str | Path, max_side: int = 640, max_frames: int | None = None) -> list[SOTSequence]:
    """Every LaSOT / GOT-10k sequence under ``root``; frames shrunk to ``max_side`` (longer side)."""
    sequences = []
    for seq_dir in find_sequences(root, "groundtruth.txt"):
        seq = read_sot_sequence(seq_dir)
        T = seq.num_frames if max_frames is None else min(max_frames, seq.num_frames)
        W0, H0 = seq.size
        scale = min(1.0, max_side / max(W0, H0))
        size = (round(W0 * scale), round(H0 * scale))
        sequences.append(dataclasses.replace(
            seq, frames=_resize(seq.frames[:T], size), boxes_tlwh=seq.boxes_tlwh[:T] * scale,
            full_occlusion=seq.full_occlusion[:T], out_of_view=seq.out_of_view[:T],
            frame_attributes={k: v[:T] for k, v in seq.frame_attributes.items()},
            degradation={k: v[:T] for k, v in seq.degradation.items()},
            meta={**seq.meta, "source": str(seq_dir), "original_size": [W0, H0]}))
    return sequences
