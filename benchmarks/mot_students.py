"""Shipped MOT students, alone and distilled, evaluated on held-out scenes: mean ± std over seeds.

Usage (repository root)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/mot_students.py --arch student_x2 \
        --rows none kd hint at --json benchmarks/mot_students.json --targets benchmarks/targets.json

Every group ``mot_{arch}_{row}_s{seed}.pt`` of ``data_samples/checkpoints/`` (trained by the commands
in ``MANIFEST.json``) and the teacher track the same held-out test scenes of the ``mixed`` world
through the default tracker; HOTA/AssA/DetA (trackeval) and IDF1 (motmetrics). For each distilled
row: the mean paired difference to ``alone`` over seeds, its standard error, and the share of the
teacher–alone HOTA gap it closes. Speed: batch-1 detector FPS of the teacher and one student of
each row, interleaved in one run (``compare_models``). Writes ``--json`` (atomic) and, with
``--targets``, the ``kd.*`` entries of ``benchmarks/targets.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.mot_protocol import evaluate_detector
from kdtrack_lite.eval.speed import compare_models
from kdtrack_lite.eval.targets import target_entry, update_targets
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.distill_mot import distilled_name, loss_label, parse_losses
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split

METRICS = ["HOTA", "DetA", "AssA", "IDF1"]


def summarize(runs: pd.DataFrame, teacher: dict) -> pd.DataFrame:
    """Mean ± std per row, paired difference to ``alone`` (mean, standard error), gap closed."""
    alone = runs[runs.row == "alone"].set_index("seed")["HOTA"]
    gap = teacher["HOTA"] - alone.mean()
    out = {}
    for row, group in runs.groupby("row", sort=False):
        diff = group.set_index("seed")["HOTA"] - alone.reindex(group.seed).to_numpy()
        n = len(diff)
        spread = (lambda m: f" ± {group[m].std(ddof=1):.1f}") if n > 1 else (lambda m: "")
        out[row] = {**{m: f"{group[m].mean():.1f}{spread(m)}" for m in METRICS},
                    "vs alone": f"{diff.mean():+.2f}", "SE": f"{diff.std(ddof=1) / np.sqrt(n):.2f}" if n > 1 else "",
                    "gap closed": f"{diff.mean() / gap:.2f}", "seeds": n}
    out["teacher"] = {**{m: f"{teacher[m]:.1f}" for m in METRICS}, "seeds": 1}
    return pd.DataFrame(out).T.fillna("")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="student_x2", help="student preset of the shipped groups")
    p.add_argument("--rows", nargs="+", default=["none", "kd"], help="loss combinations: none kd hint at ...")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--test-sequences", type=int, default=9, help="held-out scenes (mixed world, 150 frames)")
    p.add_argument("--start", help="checkpoint name the rows were fine-tuned from (e.g. mot_student): scored as "
                                    "a row of its own, to show that fine-tuning alone does not lower it")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", required=True)
    p.add_argument("--targets", help="also update the kd.* entries of this targets.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    folder = samples_dir() / "checkpoints"
    teacher = load_checkpoint(folder / "mot_teacher.pt").build().eval()
    scenes = make_mot_split("test", MOTDataConfig(world="mixed", test_sequences=args.test_sequences))
    score = lambda m: evaluate_detector(m, scenes).combined[METRICS].astype(float).to_dict()
    teacher_scores, runs, first = score(teacher), [], {}
    start = score(load_checkpoint(folder / f"{args.start}.pt").build().eval()) if args.start else None
    for spec in args.rows:
        row = loss_label(parse_losses(spec)).lstrip("+").replace("student", "alone")
        for seed in args.seeds:
            path = folder / f"{distilled_name(spec, seed, args.arch)}.pt"
            if not path.is_file():
                print(f"{path.name} does not ship: row {row} has no seed {seed}", flush=True)
                continue
            model = load_checkpoint(path).build().eval()
            first.setdefault(row, model)
            runs.append({"row": row, "seed": seed, **score(model)})
            print(json.dumps(runs[-1]), flush=True)
    frame = pd.DataFrame(runs)
    h, w = scenes[0].frames.shape[1:3]
    x = torch.rand(1, 3, h, w)
    speed = compare_models({"teacher": teacher, **first}, (x, x, torch.rand(1, 1, h, w)), reference="teacher")
    table = summarize(frame, teacher_scores)
    if start is not None:
        table.loc[f"start ({args.start})"] = {**{m: f"{start[m]:.1f}" for m in METRICS}, "seeds": 1}
    table = table.fillna("")
    table["fps"] = [f"{speed.loc[r, 'fps']:.0f}" if r in speed.index else "" for r in table.index]
    command = " ".join(["benchmarks/mot_students.py", *sys.argv[1:]])
    state = {"command": command, "arch": args.arch, "scenes": [s.name for s in scenes], "teacher": teacher_scores,
             "start": start,
             "runs": runs, "speed": speed[["params", "fps", "speedup", "compression"]].to_dict(),
             "table": table.to_dict(orient="index")}
    write_text_atomic(args.json, json.dumps(state, indent=2))
    print(table.to_markdown())
    if args.targets:
        alone = frame[frame.row == "alone"].set_index("seed")["HOTA"]
        entries = []
        for row in frame.row.unique():
            if row == "alone":
                continue
            diff = (frame[frame.row == row].set_index("seed")["HOTA"] - alone).dropna()
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
            entries.append(target_entry(f"kd.{args.arch}.{row}.vs_alone", f"{args.arch} + {row} beats the same "
                                        "student trained alone, HOTA (mean paired difference over seeds)",
                                        diff.mean(), 2.0, ">=", len(diff), command))
            entries.append(target_entry(f"kd.{args.arch}.{row}.vs_alone_se", f"{args.arch} + {row}: paired "
                                        "difference in standard errors", diff.mean() / se if se > 0 else 0.0,
                                        2.0, ">=", len(diff), command))
            entries.append(target_entry(f"kd.{args.arch}.{row}.gap_closed", f"{args.arch} + {row}: share of the "
                                        "teacher-alone HOTA gap closed", diff.mean() / (teacher_scores["HOTA"]
                                                                                        - alone.mean()),
                                        0.6, ">=", len(diff), command))
        if start is not None:
            entries.append(target_entry(f"kd.{args.arch}.alone_not_damaged", f"{args.arch} fine-tuned alone keeps "
                                        f"its starting HOTA (mean change, at least -1)", alone.mean() - start["HOTA"],
                                        -1.0, ">=", len(alone), command))
        update_targets(Path(args.targets), entries)


if __name__ == "__main__":
    main()
