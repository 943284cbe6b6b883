"""Association variants compared on identical detections (no semantics / fixed weight / DSWR).

OUR DESIGN CHOICE: the detector runs once per sequence with the plain tracker
(:class:`~kdtrack_lite.track.semantic_fusion.QueryExtractor`), then every variant replays the
tracker on the same recorded detections and query vectors with its own fused embeddings
(:func:`~kdtrack_lite.track.semantic_fusion.track_queries`). Differences in the table are then
due to association alone, not to a detector that saw different priors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..data.sequence import MOTSequence
from ..track.mot_tracker import TrackerConfig
from ..track.semantic_fusion import (
    FrameQueries,
    QueryExtractor,
    SemanticFusion,
    track_queries,
)
from .mot import evaluate_mot

FUSION_COLUMNS = ["HOTA", "AssA", "IDF1", "DetA", "MOTA", "IDSW"]


def record_queries(detector: nn.Module, sequences: list[MOTSequence], tracker_cfg: TrackerConfig | None = None
                   ) -> dict[str, list[FrameQueries]]:
    """``{sequence name: per-frame queries}`` from one detector pass per sequence."""
    return {s.name: QueryExtractor(detector, tracker_cfg).run(s.frames, desc=f"queries {s.name}") for s in sequences}


def compare_fusion(sequences: list[MOTSequence], queries: Mapping[str, list[FrameQueries]],
                   variants: Mapping[str, SemanticFusion | None], tracker_cfg: TrackerConfig | None = None
                   ) -> pd.DataFrame:
    """One row per variant (``None`` = no semantics) with :data:`FUSION_COLUMNS` (combined over sequences).

    Returns:
        DataFrame indexed by variant name; percentages 0-100, ``IDSW`` a count.
    """
    missing = [s.name for s in sequences if s.name not in queries]
    if missing:
        raise KeyError(f"compare_fusion: no recorded queries for sequence(s) {missing}")
    gt = {s.name: s.gt for s in sequences}
    lengths = {s.name: s.num_frames for s in sequences}
    rows = {}
    for name, fusion in variants.items():
        results = {s.name: track_queries(queries[s.name], s.frames, tracker_cfg, fusion) for s in sequences}
        rows[name] = evaluate_mot(gt, results, seq_lengths=lengths).combined[FUSION_COLUMNS].astype(float)
    return pd.DataFrame(rows).T


def weights_over_time(fusion: SemanticFusion, frames: np.ndarray) -> np.ndarray:
    """DSWR weight of every frame: ``(T,)`` (scalar regulator) or ``(T, D)`` (per channel)."""
    out = [np.asarray(fusion.weight(f)) for f in frames]
    arr = np.stack(out)
    return arr[:, 0] if arr.shape[1] == 1 else arr


FIXED_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def best_fixed(table: pd.DataFrame) -> str:
    """Name of the ``fixed a=...`` row with the highest IDF1 in a :func:`compare_fusion` table (the first
    on ties)."""
    return str(table.loc[[i for i in table.index if str(i).startswith("fixed a=")], "IDF1"].idxmax())


def weights_by_degradation(regulators: Mapping[str, nn.Module], data) -> pd.DataFrame:
    """Mean (min..max) weight ``a`` of each regulator over the frames of each degradation spec of a
    :class:`~kdtrack_lite.train.semantic.SemanticSet` (spec = the name after ``+`` in its frame names,
    ``-`` when the set holds one spec per scene). Shows whether a regulator follows quality at all."""
    specs = np.array([n.split(":")[0].partition("+")[2] or "-" for n in data.names])
    rows = {}
    with torch.no_grad():
        for name, reg in regulators.items():
            a = reg.eval()(data.tensors["quality"]).mean(1).numpy()  # per-channel weights: their mean
            rows[name] = {s: f"{a[specs == s].mean():.3f} ({a[specs == s].min():.3f}..{a[specs == s].max():.3f})"
                          for s in dict.fromkeys(specs)}
    return pd.DataFrame(rows).T


@torch.no_grad()
def encode_set(encoder: nn.Module, data, chunk: int = 64) -> dict[str, torch.Tensor]:
    """The semantic student's outputs for every frame of a
    :class:`~kdtrack_lite.train.semantic.SemanticSet` (``semantic (F, N, D_q)``, ...)."""
    encoder.eval()
    t = data.tensors
    outs = [encoder(t["thumbs"][i:i + chunk], t["queries"][i:i + chunk], t["boxes"][i:i + chunk],
                    t["valid"][i:i + chunk]) for i in range(0, len(data), chunk)]
    return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}


def pair_match_accuracy(emb: torch.Tensor, data) -> float:
    """Share of matched objects whose nearest neighbour (cosine) in the previous frame has their id.

    Args:
        emb: ``(F, N, D)`` per-object embeddings aligned with ``data``.
        data: a :class:`~kdtrack_lite.train.semantic.SemanticSet` (its ``ids``, ``valid`` and frame ``pairs``).
    """
    hits = total = 0
    ids, valid = data.tensors["ids"], data.tensors["valid"]
    for p, c in data.pairs.tolist():
        sim = F.normalize(emb[c], dim=-1) @ F.normalize(emb[p], dim=-1).T  # (N, N)
        sim[:, ~valid[p]] = -2
        anchors = (ids[c] >= 0) & (ids[c][:, None] == ids[p][None]).any(1)
        best = sim.argmax(1)
        hits += int((ids[p][best] == ids[c])[anchors].sum())
        total += int(anchors.sum())
    return hits / max(total, 1)


def fused_reid(query, semantic, data, weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)) -> dict[str, float]:
    """``{"a=...": %}``: :func:`pair_match_accuracy` of ``(1 - a) * query +
    a * semantic`` (``(F, N, D)`` each, aligned with ``data``) over ``data``'s pairs, for each ``a``."""
    return {f"a={a:g}": 100 * pair_match_accuracy(F.normalize((1 - a) * query + a * semantic, dim=-1), data)
            for a in weights}


def reid_by_degradation(encoder: nn.Module, data, weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
                        ) -> pd.DataFrame:
    """How well fused embeddings re-identify detected objects, per degradation spec of ``data``.

    For every fixed weight ``a`` in ``weights`` (0 = the tracker's own embeddings, 1 = the student's
    semantics alone): :func:`pair_match_accuracy` of
    ``(1 - a) * query + a * semantic`` over ``data``'s frame pairs, in %, with the number of matched
    objects. Fusion can only help association where ``a = 0`` leaves errors to fix.
    """
    specs = [n.split(":")[0].partition("+")[2] or "-" for n in data.names]
    query = data.tensors["queries"][..., :data.query_dim]
    semantic = encode_set(encoder, data)["semantic"]
    rows = {}
    for spec in dict.fromkeys(specs):
        idx = [i for i, s in enumerate(specs) if s == spec]
        remap = {old: new for new, old in enumerate(idx)}
        pairs = [(remap[p], remap[c]) for p, c in data.pairs.tolist() if p in remap and c in remap]
        sub = replace(data, tensors={k: v[idx] for k, v in data.tensors.items()},
                      pairs=torch.as_tensor(pairs).reshape(-1, 2), levels=data.levels[idx],
                      names=[data.names[i] for i in idx])
        rows[spec] = {**fused_reid(query[idx], semantic[idx], sub, weights), "objects": int(sub.tensors["valid"].sum())}
    return pd.DataFrame(rows).T


def semantic_example(encoder: nn.Module, frame: np.ndarray, n_objects: int = 8) -> tuple[tuple, np.ndarray]:
    """A fixed example of what the semantic student sees per frame: ``(encoder inputs, dets (N, 6))``.

    The boxes and queries are random but seeded (0): speed and FLOPs do not depend on their values.
    """
    from ..track.semantic_fusion import semantic_inputs

    h, w = frame.shape[:2]
    rng = np.random.default_rng(0)
    xy = rng.uniform([0, 0], [max(w - 40, 1), max(h - 60, 1)], (n_objects, 2))
    dets = np.c_[xy, xy + [20, 50], np.full(n_objects, 0.9), np.zeros(n_objects)]  # (N, 6) xyxy, score, class
    embs = rng.normal(size=(n_objects, encoder.cfg.query_dim)).astype(np.float32)
    roi = rng.normal(size=(n_objects, encoder.cfg.roi_dim)).astype(np.float32)
    return semantic_inputs(encoder, frame, dets, embs, roi), dets


def semantic_speed(teacher, encoder: nn.Module, frame: np.ndarray, n_objects: int = 8,
                   teacher_repeats: int = 5, student_repeats: int = 30) -> tuple[float, float]:
    """Milliseconds per frame of the CLIP teacher (whole frame + ``n_objects`` crops) and of the semantic
    student (thumbnail + ``n_objects`` query vectors), on ``frame (H, W, 3)`` uint8, batch 1
    (inputs from :func:`semantic_example`)."""
    from .speed import measure_fps

    inputs, dets = semantic_example(encoder, frame, n_objects)

    def teacher_frame():
        teacher.encode_images(frame)
        teacher.encode_crops(frame, dets[:, :4])

    with torch.no_grad():
        t_ms = measure_fps(teacher_frame, (), warmup=1, repeats=teacher_repeats, frames_per_call=1).ms_per_frame
        s_ms = measure_fps(lambda: encoder(*inputs), (), warmup=3, repeats=student_repeats,
                           frames_per_call=1).ms_per_frame
    return t_ms, s_ms
