"""Interleaved teacher/student inference (AttTrack component 2 + 3): speed-accuracy over schedules.

Usage (repository root)::

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 .venv/bin/python benchmarks/interleaved.py \
        --seeds 0 1 2 --finetune-epochs 4 --finetune-steps 100 --json runs/interleaved.json

For each test draw (``MOTDataConfig(seed=s)``, FULL: 4 held-out scenes x 150 frames) every variant
runs in one :func:`~kdtrack_lite.eval.interleaved.evaluate_variants` call (order rotated per
sequence), so FPS ratios come from one run: teacher only, k = 2, 4, 8, the adaptive schedule
(budget 1/4), k = 4 with the student's own priors, student only -- with the shipped student and with
two fine-tuned copies (teacher-track priors vs CenterTrack noisy-GT priors, the same budget, data
seed 0's training scenes, which no test draw shares). FPS = frames / wall seconds of the whole
pipeline on this CPU, batch 1, one torch thread.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import TrainConfig
from kdtrack_lite.eval.interleaved import Variant, evaluate_variants
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.track.interleaved import InterleavedConfig
from kdtrack_lite.track.schedules import AdaptiveConfig, AdaptiveSchedule, FixedSchedule
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split, track_sequences
from kdtrack_lite.train.prior_transfer import finetune_prior_student

OWN = InterleavedConfig(prior_source="own")
STUDENT_ONLY = InterleavedConfig(prior_source="own", embeddings="student")


def variants(students: dict[str, torch.nn.Module], budget: float) -> dict[str, Variant]:
    """The sweep: schedules with the shipped student, then k = 4 / student only per fine-tuned one."""
    out = {"teacher only": Variant(FixedSchedule(1))}
    for k in (2, 4, 8):
        out[f"k={k}"] = Variant(FixedSchedule(k))
    out["adaptive"] = Variant(AdaptiveSchedule(AdaptiveConfig(budget=budget)))
    out["k=4 own prior"] = Variant(FixedSchedule(4), OWN)
    out["student only"] = Variant(FixedSchedule(0), STUDENT_ONLY)
    for name, model in students.items():
        out[f"{name}: k=4"] = Variant(FixedSchedule(4), student=model)
        out[f"{name}: k=4 own prior"] = Variant(FixedSchedule(4), OWN, student=model)
        out[f"{name}: student only"] = Variant(FixedSchedule(0), STUDENT_ONLY, student=model)
    return out


def mean_std(tables: list[pd.DataFrame], cols=("HOTA", "IDF1", "MOTA", "fps", "speedup", "HOTA_kept", "teacher_calls")) -> pd.DataFrame:
    """``mean ± std`` over seeds of each column (sample std, ddof = 1)."""
    stacked = pd.concat(tables, keys=range(len(tables)))
    g = stacked[list(cols)].groupby(level=1, sort=False)
    m, s = g.mean(), g.std(ddof=1)
    return pd.DataFrame({c: [f"{a:.2f} ± {b:.2f}" if c in ("speedup", "HOTA_kept") else f"{a:.1f} ± {b:.1f}"
                             for a, b in zip(m[c], s[c])] for c in cols}, index=m.index)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", default="data_samples/checkpoints/mot_teacher.pt")
    ap.add_argument("--student", default="data_samples/checkpoints/mot_student.pt")
    ap.add_argument("--profile", default="full", choices=("fast", "full"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budget", type=float, default=0.25, help="adaptive schedule: teacher calls per frame")
    ap.add_argument("--finetune-epochs", type=int, default=4)
    ap.add_argument("--finetune-steps", type=int, default=100)
    ap.add_argument("--no-finetune", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    teacher = load_checkpoint(args.teacher).build().eval()
    student = load_checkpoint(args.student).build().eval()
    students, info = {}, {"args": vars(args)}
    if not args.no_finetune:
        data_cfg = MOTDataConfig.make(args.profile, seed=0)
        train_cfg = TrainConfig.make(args.profile, epochs=args.finetune_epochs, steps_per_epoch=args.finetune_steps,
                                     patience=0, seed=0)
        train_seqs = make_mot_split("train", data_cfg)
        start = time.perf_counter()
        rows = track_sequences(teacher, train_seqs)
        info["teacher_rows_seconds"] = time.perf_counter() - start
        for prior in ("teacher", "gt"):
            start = time.perf_counter()
            model, hist = finetune_prior_student(student, teacher, prior, data_cfg, train_cfg,
                                                 train_sequences=train_seqs, teacher_rows=rows)
            students[f"ft {prior}-prior"] = model
            info[f"ft {prior}-prior"] = {"val_hota": [e.get("val") for e in hist.epochs], "best_epoch": hist.best_epoch,
                                         "seconds": time.perf_counter() - start}
            print(f"fine-tuned with {prior} priors: validation HOTA (k=4, teacher priors) per epoch "
                  f"{[round(v, 2) for v in info[f'ft {prior}-prior']['val_hota']]}", flush=True)
    tables = []
    for seed in args.seeds:
        seqs = make_mot_split("test", MOTDataConfig.make(args.profile, seed=seed))
        res = evaluate_variants(teacher, student, seqs, variants(students, args.budget))
        t = res.table
        t["speedup"] = t["fps"] / t.loc["teacher only", "fps"]
        t["HOTA_kept"] = t["HOTA"] / t.loc["teacher only", "HOTA"]
        tables.append(t)
        print(f"\n## test draw seed={seed} ({len(seqs)} scenes x {seqs[0].num_frames} frames)\n", flush=True)
        print(t[["HOTA", "IDF1", "MOTA", "fps", "speedup", "HOTA_kept", "teacher_calls"]].round(3).to_markdown(), flush=True)
    summary = mean_std(tables)
    print(f"\n## mean ± std over {len(tables)} test draws\n")
    print(summary.to_markdown())
    if args.json:
        payload = {**info, "per_seed": [t.reset_index().to_dict(orient="records") for t in tables],
                   "summary": summary.reset_index().to_dict(orient="records")}
        write_text_atomic(args.json, json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
