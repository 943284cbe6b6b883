"""An honest, cheap stand-in for the CLIP teacher when real CLIP weights cannot be had.

Why (OUR DESIGN CHOICE, not in any paper): without the hub, :func:`~kdtrack_lite.teachers.clip.
load_clip_teacher` falls back to a *randomly initialised* RN50. Distilling it teaches the student
to imitate random features at about 0.2-0.5 s per crop on a shared CPU. What VSD-MOT wants from its
teacher is appearance information that low-quality frames lose; in the synthetic scenes identity
is carried by clothing colours, so a classic **colour descriptor of the clean crop** carries
exactly that kind of information, in microseconds. It is *not* CLIP, and everything built on it
says so (``label``, :func:`~kdtrack_lite.teachers.clip.teacher_banner`).

Descriptor (the colour-histogram appearance model of classical tracking, e.g. Comaniciu, Ramesh &
Meer, "Kernel-based object tracking", TPAMI 2003, here with two horizontal stripes as in
person re-identification): the box (shrunk by ``inset`` to keep background out) is split into an
upper and a lower half; each half gives a joint RGB histogram with ``bins^3`` cells; the two are
concatenated, square-rooted (Hellinger mapping, so cosine similarity = Bhattacharyya coefficient
of the normalised histograms) and L2-normalised. The frame embedding is the same descriptor of the
whole frame.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ColourHistogramTeacher(nn.Module):
    """Same interface as :class:`~kdtrack_lite.teachers.clip.ClipTeacher` where recipes use it:
    ``encode_images``, ``encode_crops``, ``label``, ``source``, ``is_real``, ``embed_dim``.

    Args:
        bins: bins per RGB channel (descriptor size ``2 * bins**3``).
        inset: fraction of the box width/height removed on each side before the histogram.
    """

    def __init__(self, bins: int = 4, inset: float = 0.1):
        super().__init__()
        if bins < 2 or not 0 <= inset < 0.5:
            raise ValueError(f"ColourHistogramTeacher: need bins >= 2 and 0 <= inset < 0.5, got {bins}, {inset}")
        self.bins, self.inset = bins, inset
        self.model_name = f"colour-histogram-{bins}"
        self.source = "standin:colour-histogram"
        self.label = (f"OFFLINE STAND-IN: 2-stripe RGB colour histogram ({bins}^3 bins), NOT CLIP; "
                      f"real CLIP weights: see README 'CLIP weights'")
        self.preprocess_cfg = {"bins": bins, "inset": inset}
        self.seed = None
        self.reason = "stand-in chosen explicitly"

    is_real = False

    @property
    def embed_dim(self) -> int:
        return 2 * self.bins ** 3

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def _hist(self, pixels: np.ndarray) -> np.ndarray:
        """``(..., 3)`` uint8 pixels -> ``(bins^3,)`` normalised joint histogram."""
        q = (pixels.reshape(-1, 3).astype(np.int64) * self.bins) // 256  # (P, 3) bin per channel
        idx = (q[:, 0] * self.bins + q[:, 1]) * self.bins + q[:, 2]
        h = np.bincount(idx, minlength=self.bins ** 3).astype(np.float64)
        return h / max(h.sum(), 1.0)

    def _descriptor(self, patch: np.ndarray) -> np.ndarray:
        half = max(1, patch.shape[0] // 2)
        d = np.sqrt(np.concatenate([self._hist(patch[:half]), self._hist(patch[half:])]))  # Hellinger
        return (d / max(np.linalg.norm(d), 1e-12)).astype(np.float32)

    @torch.no_grad()
    def encode_images(self, frames: np.ndarray, batch_size: int = 16) -> torch.Tensor:
        """``(N, H, W, 3)`` (or one ``(H, W, 3)``) uint8 RGB -> ``(N, E)`` L2-normalised."""
        frames = np.asarray(frames)
        frames = frames[None] if frames.ndim == 3 else frames
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"ColourHistogramTeacher.encode_images: frames must be (N, H, W, 3) uint8, "
                             f"got {frames.shape} {frames.dtype}")
        return torch.as_tensor(np.stack([self._descriptor(f) for f in frames]).reshape(-1, self.embed_dim))

    @torch.no_grad()
    def encode_crops(self, frame: np.ndarray, boxes_xyxy: np.ndarray, context: float = 0.0,
                     batch_size: int = 32) -> torch.Tensor:
        """Descriptors of ``boxes_xyxy (K, 4)`` in one ``(H, W, 3)`` uint8 frame -> ``(K, E)``.

        ``context`` is accepted for interface compatibility and ignored: the stand-in looks inside
        the box (``inset``), where the person's colours are.
        """
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"ColourHistogramTeacher.encode_crops: frame must be (H, W, 3) uint8, got "
                             f"{frame.shape} {frame.dtype}")
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        h, w = frame.shape[:2]
        out = []
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            if x2 <= x1 or y2 <= y1:
                raise ValueError(f"ColourHistogramTeacher.encode_crops: box {k} {[x1, y1, x2, y2]} is not a valid "
                                 f"[x1, y1, x2, y2] box")
            dx, dy = self.inset * (x2 - x1), self.inset * (y2 - y1)
            c1, c2 = int(np.clip(np.floor(x1 + dx), 0, w - 1)), int(np.clip(np.ceil(x2 - dx), 1, w))
            r1, r2 = int(np.clip(np.floor(y1 + dy), 0, h - 1)), int(np.clip(np.ceil(y2 - dy), 1, h))
            out.append(self._descriptor(frame[r1:max(r2, r1 + 1), c1:max(c2, c1 + 1)]))
        return torch.as_tensor(np.stack(out) if out else np.zeros((0, self.embed_dim), np.float32))


def semantic_teacher(choice: str = "auto", model_name: str = "RN50", pretrained: str | None = "openai"):
    """``(distillation teacher, CLIP loader result)`` for the semantic recipes (OUR CHOICE).

    ``choice``: ``"auto"`` = CLIP when real weights load, else the labelled :class:`ColourHistogramTeacher`
    (a random-init CLIP teaches nothing: its crop features collapse); ``"standin"`` = always the stand-in;
    ``"clip"`` = CLIP or its labelled random-init fallback. The CLIP loader result is returned too, for
    speed measurements (its cost does not depend on its weights). Loader warnings are silenced: every
    output that depends on the teacher prints :func:`~kdtrack_lite.teachers.clip.teacher_banner`.
    """
    import warnings

    from .clip import load_clip_teacher

    if choice not in ("auto", "standin", "clip"):
        raise ValueError(f"semantic_teacher: choice must be 'auto', 'standin' or 'clip', got {choice!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clip = load_clip_teacher(model_name, pretrained)
    use_clip = choice == "clip" or (choice == "auto" and clip.is_real)
    return (clip if use_clip else ColourHistogramTeacher()), clip
