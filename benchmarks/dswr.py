"""VSD-MOT on the lite tracker: DCSD student + DSWR fusion vs no semantics / fixed weights, over seeds.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/dswr.py --seeds 0 1 2 [--profile full|fast]

For each seed: draw the train/test scenes (``SemanticDataConfig.seed``), record the shipped MOT
teacher detector's queries, compute the CLIP teacher targets (cached under runs/semantic_cache),
train the semantic student (task + DCSD) and the DSWR regulator, then replay the tracker on the
held-out low-quality and clean test sequences with: no semantics, fixed weights
``a in FIXED``, the fixed weight chosen on the val scenes (``VAL_FIXED_ROW``), DSWR and two
regulator ablations (``ABLATIONS``: raw, unstandardised quality inputs; one weight per channel).
Prints per-seed tables, each regulator's weight per degradation spec of its training frames, how
well fused embeddings re-identify the val objects per spec (``reid_by_degradation``), the val
tracking table that chooses the fixed weight, mean +- std (with the oracle best fixed weight of
each seed's test table), paired per-seed differences, the student-vs-teacher speed and which
teacher weights were used. ``--one-spec-val`` trains the regulators on one degradation spec per val scene
instead of every spec.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import recipe_train_config
from kdtrack_lite.eval.fusion import FIXED_WEIGHTS as FIXED
from kdtrack_lite.eval.fusion import best_fixed, semantic_speed
from kdtrack_lite.paths import runs_dir, samples_dir
from kdtrack_lite.quality import DSWRConfig
from kdtrack_lite.teachers import semantic_teacher, teacher_banner
from kdtrack_lite.train.semantic import (FULL_BUDGET, VAL_FIXED_ROW, FusionExperiment, SemanticDataConfig,
                                         fusion_experiment)

ABLATIONS = {"DSWR": DSWRConfig(), "DSWR, raw inputs": DSWRConfig(standardize=False),
             "DSWR, per channel": DSWRConfig(per_channel=True)}


def run_seed(seed: int, profile: str, detector, teacher, **data) -> FusionExperiment:
    cfg = SemanticDataConfig.make(profile, seed=seed, **data)
    tc = recipe_train_config(FULL_BUDGET, profile, seed=seed)
    return fusion_experiment(detector, teacher, cfg, tc, cache_dir=runs_dir() / "semantic_cache", fixed=FIXED,
                             regulators=ABLATIONS)


def summarise(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """mean +- std over seeds, plus the best fixed weight (chosen per seed on the test metric)."""
    rows = []
    for t in tables:
        best = t.loc[best_fixed(t)].rename("best fixed (oracle)")
        rows.append(pd.concat([t, best.to_frame().T]))
    stacked = pd.concat(rows, keys=range(len(rows)))
    mean, std = stacked.groupby(level=1, sort=False).mean(), stacked.groupby(level=1, sort=False).std(ddof=0)
    return mean.round(2).astype(str) + " ± " + std.round(2).astype(str)


def paired(low: list[pd.DataFrame], clean: list[pd.DataFrame], rows: list[str]) -> pd.DataFrame:
    """Per-seed differences (IDF1, AssA) of each regulator row against no semantics, the fixed weight
    chosen on val and the oracle best fixed weight (low quality), and against no semantics and the
    val-chosen fixed weight (clean): mean +- std and the number of seeds above 0."""
    out = {}
    for row in rows:
        for label, tables, ref in (("low quality - no semantics", low, "no semantics"),
                                   ("low quality - fixed chosen on val", low, VAL_FIXED_ROW),
                                   ("low quality - best fixed (oracle)", low, None),
                                   ("clean - no semantics", clean, "no semantics"),
                                   ("clean - fixed chosen on val", clean, VAL_FIXED_ROW)):
            d = []
            for t in tables:
                base = t.loc[best_fixed(t) if ref is None else ref]
                d.append(t.loc[row, ["IDF1", "AssA"]] - base[["IDF1", "AssA"]])
            d = pd.DataFrame(d).astype(float)
            out[(row, label)] = {m: f"{d[m].mean():+.2f} ± {d[m].std(ddof=0):.2f} ({int((d[m] > 0).sum())}/{len(d)} > 0)"
                                 for m in ("IDF1", "AssA")}
    return pd.DataFrame(out).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--profile", choices=["fast", "full"], default="full")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--teacher", choices=["auto", "standin", "clip"], default="auto",
                        help="auto: real CLIP weights when available, else the colour-histogram stand-in; "
                             "clip: CLIP or its random-init offline fallback")
    parser.add_argument("--num-frames", type=int, default=None)
    parser.add_argument("--train-sequences", type=int, default=None)
    parser.add_argument("--test-sequences", type=int, default=None)
    parser.add_argument("--one-spec-val", action="store_true",
                        help="regulators see one degradation spec per val scene (default: every spec)")
    args = parser.parse_args()
    data = {k: v for k, v in (("num_frames", args.num_frames), ("train_sequences", args.train_sequences),
                              ("test_sequences", args.test_sequences)) if v is not None}
    if args.one_spec_val:
        data["val_every_spec"] = False
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    detector = load_checkpoint(samples_dir() / "checkpoints" / "mot_teacher.pt").build().eval()
    teacher, clip = semantic_teacher(args.teacher)
    print(teacher_banner(teacher), "| CLIP loader:", teacher_banner(clip))
    print(f"profile={args.profile} seeds={args.seeds} data={SemanticDataConfig.make(args.profile, **data).to_dict()}")
    runs = []
    for seed in args.seeds:
        res = run_seed(seed, args.profile, detector, teacher, **data)
        runs.append(res)
        print(f"\nseed {seed}, regulator weight a on its training (val) frames, by degradation spec: "
              f"mean (min..max)\n" + res.val_weights.to_markdown())
        print(f"\nseed {seed}, re-identification accuracy (%) of fused embeddings (1 - a) q + a s on the val frames, "
              f"frame pairs up to max_gap apart\n" + res.val_reid.round(2).to_markdown())
        print(f"\nseed {seed}, val scenes x every training spec (chooses '{VAL_FIXED_ROW}': {res.val_fixed})\n"
              + res.val_table.round(2).to_markdown())
        for split in ("low-quality", "clean"):
            print(f"\nseed {seed}, {split} test sequences\n" + res.tables[split].round(2).to_markdown())
    for split in ("low-quality", "clean"):
        print(f"\n### {split}: mean ± std over seeds {args.seeds} ({teacher_banner(teacher)})\n")
        print(summarise([r.tables[split] for r in runs]).to_markdown())
    print(f"\n### paired by seed ({len(runs)} seeds)\n")
    print(paired([r.tables["low-quality"] for r in runs], [r.tables["clean"] for r in runs], list(ABLATIONS))
          .to_markdown())
    t_ms, s_ms = semantic_speed(clip, runs[0].encoder, runs[0].frame)  # RN50 timing does not depend on its weights
    print(f"\nspeed ({torch.get_num_threads()} thread): CLIP RN50 frame + 8 crops {t_ms:.1f} ms/frame, "
          f"student {s_ms:.2f} ms/frame -> {t_ms / s_ms:.0f}x")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
