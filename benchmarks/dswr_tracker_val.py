"""The fusion tracker's track buffer (``max_age``), chosen on validation scenes without semantics.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/dswr_tracker_val.py --seeds 0 1 2 3 4

``benchmarks/dswr_reid_gaps.py`` measured that fused embeddings help re-identification most after
gaps longer than the tracker's default buffer of 30 frames, which never reach association. Whether a
longer buffer is better is a property of the tracker, so it is chosen here on the tracker alone (no
semantics, no student, no test scene): for each seed, the val scenes of
:class:`~kdtrack_lite.train.semantic.SemanticDataConfig` under every training spec (the frames the DSWR
regulator is trained on), the shipped MOT teacher's detections recorded once, the tracker
(:func:`~kdtrack_lite.train.semantic.semantic_tracker_config`) replayed with each ``max_age`` in
``--max-ages``. Prints HOTA / IDF1 / AssA per seed and their mean.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.fusion import compare_fusion, record_queries
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.semantic import SemanticDataConfig, make_semantic_split, semantic_tracker_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-ages", type=int, nargs="+", default=[15, 30, 45, 60, 90, 150])
    parser.add_argument("--profile", choices=["fast", "full"], default="full")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    detector = load_checkpoint(samples_dir() / "checkpoints" / "mot_teacher.pt").build().eval()
    rows = []
    for seed in args.seeds:
        _, val = make_semantic_split("val", SemanticDataConfig.make(args.profile, seed=seed))
        queries = record_queries(detector, val)
        for max_age in args.max_ages:
            t = compare_fusion(val, queries, {"no semantics": None}, semantic_tracker_config(max_age=max_age))
            rows.append({"seed": seed, "max_age": max_age, **t.loc["no semantics", ["HOTA", "IDF1", "AssA", "IDSW"]]})
        print(f"seed {seed}: {len(val)} val sequences, {time.perf_counter() - start:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    for metric in ("IDF1", "HOTA", "AssA", "IDSW"):
        table = df.pivot(index="seed", columns="max_age", values=metric)
        table.loc["mean"] = table.mean()
        print(f"\n### {metric} (no semantics, val scenes x every training spec) by max_age\n")
        print(table.round(2).to_markdown())
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
