"""Room for semantic fusion at longer gaps: re-identification accuracy of fused embeddings by frame gap.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/dswr_reid_gaps.py --seeds 0 1 2 [--max-gap 60]

For each seed, the same semantic student as ``benchmarks/dswr.py`` (same seed, data and budget, so
the same weights), then the val scenes under every training spec with frame pairs up to
``--max-gap`` kept frames apart. Prints, per gap range, the share of detected objects whose nearest
neighbour (cosine) in the earlier frame has their identity, for fused vectors
``(1 - a) * query + a * semantic`` at fixed ``a`` (0 = the detector's own embeddings, 1 = the
student's semantics alone). ``benchmarks/dswr.py`` measures gaps up to ``max_gap`` (8) only.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import recipe_train_config
from kdtrack_lite.eval.fusion import encode_set, fused_reid
from kdtrack_lite.paths import runs_dir, samples_dir
from kdtrack_lite.teachers import semantic_teacher, teacher_banner
from kdtrack_lite.train.semantic import (FULL_BUDGET, SemanticDataConfig, SemanticSet, build_semantic_set,
                                         make_semantic_split, train_semantic_student)

WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def gap_table(encoder, data: SemanticSet, bins: list[tuple[int, int]]) -> pd.DataFrame:
    query = data.tensors["queries"][..., :data.query_dim]
    semantic = encode_set(encoder, data)["semantic"]
    gaps = data.pairs[:, 1] - data.pairs[:, 0]
    rows = {}
    for lo, hi in bins:
        keep = (gaps >= lo) & (gaps <= hi)
        sub = SemanticSet(data.tensors, data.pairs[keep], data.levels, data.teacher_label, data.query_dim, data.names)
        rows[f"gap {lo}-{hi}"] = {**fused_reid(query, semantic, sub, WEIGHTS), "pairs": int(keep.sum())}
    return pd.DataFrame(rows).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-gap", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    detector = load_checkpoint(samples_dir() / "checkpoints" / "mot_teacher.pt").build().eval()
    teacher, _ = semantic_teacher("auto")
    print(teacher_banner(teacher))
    edges = [1, 9, 21, 41, args.max_gap + 1]
    bins = [(lo, hi - 1) for lo, hi in zip(edges, edges[1:]) if lo <= args.max_gap]
    tables = []
    for seed in args.seeds:
        cfg = SemanticDataConfig.make("full", seed=seed)
        tc = recipe_train_config(FULL_BUDGET, "full", seed=seed)  # the students of benchmarks/dswr.py
        train = build_semantic_set(detector, teacher, *make_semantic_split("train", cfg), cfg,
                                   cache_dir=runs_dir() / "semantic_cache")
        encoder, _ = train_semantic_student(train, train_cfg=tc, batch_size=cfg.batch_size)
        long = cfg.replace(max_gap=args.max_gap)
        val = build_semantic_set(detector, teacher, *make_semantic_split("val", long), long)
        table = gap_table(encoder, val, bins)
        tables.append(table)
        print(f"\nseed {seed}: re-identification accuracy (%) by gap (kept frames), val scenes under every spec\n"
              + table.round(2).to_markdown())
    stacked = pd.concat(tables, keys=range(len(tables)))
    mean = stacked.groupby(level=1, sort=False).mean().drop(columns="pairs")
    std = stacked.groupby(level=1, sort=False).std(ddof=0).drop(columns="pairs")
    print(f"\n### mean ± std over seeds {args.seeds} ({teacher_banner(teacher)})\n")
    print((mean.round(2).astype(str) + " ± " + std.round(2).astype(str)).to_markdown())
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
