"""Teacher embeddings of a sequence, computed once and kept on disk.

The CLIP teacher is the slow part of VSD-MOT training (that is why it is distilled), and its
outputs never change for a given frame, so OUR DESIGN CHOICE is to cache the per-frame global
embeddings in one ``.npz`` per sequence, written atomically. The file is reused only when its key
matches: a SHA-256 over the teacher's source (and, for a file, its size and modification time;
for the fallback, its seed), the architecture, the preprocessing config and the SHA-256 of the
frame bytes. Anything else -> recompute and overwrite.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ..data.sequence import MOTSequence, SOTSequence
from ..fileio import atomic_path
from ..runtime import progress
from .clip import ClipTeacher

CACHE_VERSION = 1


def frames_digest(frames: np.ndarray) -> str:
    """SHA-256 of ``(T, H, W, 3)`` uint8 frames (shape included)."""
    h = hashlib.sha256(repr(tuple(frames.shape)).encode())
    h.update(np.ascontiguousarray(frames).data)
    return h.hexdigest()


def teacher_fingerprint(teacher: ClipTeacher) -> dict:
    """What identifies a teacher's outputs (weights source, architecture, preprocessing)."""
    out = {"source": teacher.source, "model_name": teacher.model_name,
           "preprocess": {k: list(v) if isinstance(v, tuple) else v for k, v in teacher.preprocess_cfg.items()}}
    if teacher.source.startswith("file:"):
        stat = os.stat(teacher.source[len("file:"):])
        out["file"] = [stat.st_size, stat.st_mtime_ns]
    if not teacher.is_real:
        out["seed"] = teacher.seed
    return out


def embedding_key(teacher: ClipTeacher, frames: np.ndarray) -> str:
    """The cache key of ``teacher``'s embeddings of ``frames``: a SHA-256 hex string."""
    payload = {"version": CACHE_VERSION, "teacher": teacher_fingerprint(teacher), "frames": frames_digest(frames)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_embeddings(teacher: ClipTeacher, frames: np.ndarray | MOTSequence | SOTSequence,
                     path: str | os.PathLike, batch_size: int = 16) -> np.ndarray:
    """Per-frame global teacher embeddings, read from ``path`` when its key matches, else computed.

    Args:
        teacher: the frozen CLIP teacher.
        frames: ``(T, H, W, 3)`` uint8 RGB, or a sequence (its ``frames`` are used).
        path: the ``.npz`` file (written atomically; holds ``embeddings``, ``key``, ``label``,
            ``source``, ``model_name``).
        batch_size: frames per teacher call.
    Returns:
        ``(T, D)`` float32 L2-normalised embeddings.
    """
    if isinstance(frames, (MOTSequence, SOTSequence)):
        frames = frames.frames
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"cache_embeddings: frames must be (T, H, W, 3) uint8 RGB, got shape {frames.shape} "
                         f"dtype {frames.dtype}")
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"cache_embeddings: path must end in .npz, got {str(path)!r}")
    key = embedding_key(teacher, frames)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                if str(stored["key"]) == key:
                    return stored["embeddings"].astype(np.float32)
        except (OSError, KeyError, ValueError):
            pass  # unreadable or from another version: recompute and overwrite
    chunks = []
    for start in progress(range(0, len(frames), batch_size), desc="teacher embeddings",
                          total=-(-len(frames) // batch_size)):
        chunks.append(teacher.encode_images(frames[start:start + batch_size], batch_size).cpu())
    emb = (torch.cat(chunks) if chunks else torch.zeros(0, teacher.embed_dim)).numpy().astype(np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, embeddings=emb, key=np.array(key), label=np.array(teacher.label),
                 source=np.array(teacher.source), model_name=np.array(teacher.model_name))
    return emb
