"""In-memory tracking sequences: what every generator, reader and dataset passes around.

MOT ground truth keeps the MOTChallenge column layout (so the same array can be written to and
read from ``gt/gt.txt`` unchanged)::

    col  0      1   2     3    4  5  6                7                 8
         frame  id  left  top  w  h  conf(1=consider) class(1=pedestrian) visibility [0, 1]

Frames are 1-based in ``gt`` (MOTChallenge convention) and 0-based in the ``frames`` array:
``frames[t - 1]`` is the image of ground-truth frame ``t``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

GT_COLUMNS = ("frame", "id", "left", "top", "w", "h", "conf", "class", "visibility")


def _check_frames(name: str, frames: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"sequence {name!r}: frames must be a (T, H, W, 3) uint8 RGB array, "
            f"got shape {frames.shape} dtype {frames.dtype}"
        )


class _Frames:
    """What every sequence has: ``frames (T, H, W, 3)`` uint8 RGB."""

    frames: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(W, H)`` of a frame."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])


@dataclass
class MOTSequence(_Frames):
    """A multi-object tracking sequence.

    Attributes:
        name: sequence name (folder name when written).
        frames: ``(T, H, W, 3)`` uint8 RGB.
        gt: ``(N, 9)`` float64 MOTChallenge rows (see module docstring), sorted by frame, id.
        fps: frame rate.
        degradation: ``{op: (T,) levels in [0, 1]}`` applied per frame (empty if clean).
        meta: seed, config dict, generator name, ...
        det: optional ``(M, 10)`` public detections (MOTChallenge det.txt columns).
    """

    name: str
    frames: np.ndarray
    gt: np.ndarray
    fps: float = 30.0
    degradation: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    det: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_frames(self.name, self.frames)
        self.gt = np.asarray(self.gt, np.float64).reshape(-1, 9)

    def boxes_at(self, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground truth of one 1-based ``frame``.

        Returns:
            ids ``(n,)`` int64, tlwh ``(n, 4)`` float64, visibility ``(n,)`` float64.
        """
        if not 1 <= frame <= self.num_frames:
            raise IndexError(f"{self.name}: frame must be in [1, {self.num_frames}], got {frame}")
        rows = self.gt[self.gt[:, 0] == frame]
        return rows[:, 1].astype(np.int64), rows[:, 2:6].copy(), rows[:, 8].copy()

    def copy(self) -> "MOTSequence":
        return dataclasses.replace(
            self, frames=self.frames.copy(), gt=self.gt.copy(),
            degradation={k: v.copy() for k, v in self.degradation.items()}, meta=dict(self.meta),
            det=None if self.det is None else self.det.copy())


@dataclass
class SOTSequence(_Frames):
    """A single-object tracking sequence with LaSOT-style attribute labels.

    Attributes:
        name: sequence name.
        frames: ``(T, H, W, 3)`` uint8 RGB.
        boxes_tlwh: ``(T, 4)`` float64 true target box in every frame (also when hidden).
        full_occlusion: ``(T,)`` bool, target fully occluded (LaSOT ``full_occlusion.txt``).
        out_of_view: ``(T,)`` bool, target entirely outside the frame (``out_of_view.txt``).
        frame_attributes: ``{attribute: (T,) bool}`` for every name in ``sot_synth.ATTRIBUTES``.
        attributes: sequence-level attributes: those that occur in at least one frame.
        degradation: ``{op: (T,) levels}`` (empty if clean).
        meta: seed, config dict, generator name, ...
    """

    name: str
    frames: np.ndarray
    boxes_tlwh: np.ndarray
    full_occlusion: np.ndarray
    out_of_view: np.ndarray
    frame_attributes: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)
    degradation: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_frames(self.name, self.frames)
        t = self.frames.shape[0]
        self.boxes_tlwh = np.asarray(self.boxes_tlwh, np.float64)
        self.full_occlusion = np.asarray(self.full_occlusion, bool)
        self.out_of_view = np.asarray(self.out_of_view, bool)
        for what, arr, shape in (("boxes_tlwh", self.boxes_tlwh, (t, 4)),
                                 ("full_occlusion", self.full_occlusion, (t,)),
                                 ("out_of_view", self.out_of_view, (t,))):
            if arr.shape != shape:
                raise ValueError(f"sequence {self.name!r}: {what} must have shape {shape}, got {arr.shape}")

    @property
    def visible(self) -> np.ndarray:
        """``(T,)`` bool: the target can be seen (neither fully occluded nor out of view)."""
        return ~(self.full_occlusion | self.out_of_view)

    def copy(self) -> "SOTSequence":
        return dataclasses.replace(
            self, frames=self.frames.copy(), boxes_tlwh=self.boxes_tlwh.copy(),
            full_occlusion=self.full_occlusion.copy(), out_of_view=self.out_of_view.copy(),
            frame_attributes={k: v.copy() for k, v in self.frame_attributes.items()},
            attributes=list(self.attributes),
            degradation={k: v.copy() for k, v in self.degradation.items()}, meta=dict(self.meta))
