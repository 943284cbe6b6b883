"""Interleaved teacher/student inference (AttTrack component 2 + 3): speed-accuracy over schedules.

Usage (repository root)::

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 .venv/bin/python benchmarks/interleaved.py \
        --part sweep --seeds 0 1 2 --json runs/interleaved_sweep.json
    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 .venv/bin/python benchmarks/interleaved.py \
        --part priors --seeds 0 1 2 --finetune-epochs 4 --finetune-steps 100 --json runs/interleaved_priors.json

For each test draw (``MOTDataConfig(seed=s)``, FULL: 4 held-out scenes x 150 frames) every variant
of a part runs in one :func:`~kdtrack_lite.eval.interleaved.evaluate_variants` call (order rotated
per sequence), so FPS ratios come from one run.

Part "sweep": teacher only; k = 2, 4, 6, 7, 8; the adaptive schedule (budget 1/4); three
ground-truth oracles with its budget and gaps (ANALYSIS ONLY: "oracle events" calls the teacher
when the set of visible objects changes, "oracle events +1" one frame later, "oracle errors" when
the last frame's output has more errors than the last teacher frame's); k = 4 with the student's
own priors; k = 4 with student frames treated like teacher frames (births, tentative tracks
removed, no coasting); student only. k = 6 and 7 bracket the adaptive schedule's calls; the HOTA
of the adaptive schedule and of each oracle minus the fixed frontier at its calls is printed per
draw.

Part "priors": k = 4 with teacher vs own priors and student only, for the shipped student and two
fine-tuned copies (teacher-track priors vs CenterTrack noisy-GT priors, the same budget, data seed
0's training scenes, which no test draw shares).

FPS = frames / wall seconds of the whole pipeline on this CPU, batch 1, one torch thread.
``--variants`` runs a subset (teacher only is always run); the JSON records the machine (CPU
model, cores, torch), since this VM's host changes.
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import TrainConfig
from kdtrack_lite.eval.interleaved import Variant, evaluate_variants, frontier_gain, oracle_schedules
from kdtrack_lite.eval.mot_protocol import track_sequences
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.runtime import machine_summary
from kdtrack_lite.track.interleaved import InterleavedConfig
from kdtrack_lite.track.schedules import AdaptiveConfig, AdaptiveSchedule, FixedSchedule
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split
from kdtrack_lite.train.prior_transfer import finetune_prior_student

OWN = InterleavedConfig(prior_source="own")
STUDENT_ONLY = InterleavedConfig(prior_source="own", embeddings="student")
# student frames treated like teacher frames: births, tentative removal, no coasting
PLAIN = InterleavedConfig(student_births=True, student_keeps_tentative=False, coast=0)
# fixed schedules of the sweep; 6 and 7 bracket the adaptive schedule's number of teacher calls
SWEEP_K = (2, 4, 6, 7, 8)
# schedules compared with the fixed frontier at their number of teacher calls
FRONTIER = ("adaptive", "oracle events", "oracle events +1", "oracle errors")


def sweep_variants(budget: float) -> dict[str, Variant]:
    """Part "sweep": the schedules with the shipped student (the oracles read the ground truth)."""
    out = {"teacher only": Variant(FixedSchedule(1))}
    for k in SWEEP_K:
        out[f"k={k}"] = Variant(FixedSchedule(k))
    out["adaptive"] = Variant(AdaptiveSchedule(AdaptiveConfig(budget=budget)))
    # ANALYSIS ONLY (they read the ground truth), the adaptive schedule's budget and gaps
    out.update({name: Variant(schedule) for name, schedule in oracle_schedules(budget).items()})
    out["k=4 own prior"] = Variant(FixedSchedule(4), OWN)
    out["k=4 plain tracker"] = Variant(FixedSchedule(4), PLAIN)
    out["student only"] = Variant(FixedSchedule(0), STUDENT_ONLY)
    return out


def prior_variants(students: dict[str, torch.nn.Module]) -> dict[str, Variant]:
    """Part "priors": k = 4 with teacher vs own priors, and student only, for each student."""
    out = {"teacher only": Variant(FixedSchedule(1))}
    for name, model in students.items():
        out[f"{name}: k=4 teacher prior"] = Variant(FixedSchedule(4), student=model)
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
    ap.add_argument("--part", default="both", choices=("sweep", "priors", "both"))
    ap.add_argument("--test-sequences", type=int, default=None, help="scenes per test draw (default: the profile's)")
    ap.add_argument("--train-sequences", type=int, default=None, help="training scenes for the fine-tunes")
    ap.add_argument("--finetune-epochs", type=int, default=4)
    ap.add_argument("--finetune-steps", type=int, default=100)
    ap.add_argument("--finetune-lr", type=float, default=5e-4,
                    help="fine-tuning learning rate (a quarter of the baselines' 2e-3: the student starts converged)")
    ap.add_argument("--prior-students", nargs="+", default=["teacher", "gt"], choices=("teacher", "gt"),
                    help="which prior-trained students part 2 fine-tunes (teacher: needs the teacher's tracks "
                         "on every training scene first)")
    ap.add_argument("--variants", nargs="+", default=None,
                    help="run only these variants of the chosen part(s) ('teacher only' is always run: the speed-ups "
                         "are ratios to it), e.g. --variants k=4 k=6 k=7 k=8 adaptive")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    teacher = load_checkpoint(args.teacher).build().eval()
    student = load_checkpoint(args.student).build().eval()
    sizes = {k: v for k, v in (("test_sequences", args.test_sequences), ("train_sequences", args.train_sequences))
             if v is not None}
    students, info = {"shipped": student}, {"args": vars(args), "machine": machine_summary()}
    m = info["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}", flush=True)
    if args.part in ("priors", "both"):
        data_cfg = MOTDataConfig.make(args.profile, seed=0, **sizes)
        train_cfg = TrainConfig.make(args.profile, epochs=args.finetune_epochs, steps_per_epoch=args.finetune_steps,
                                     lr=args.finetune_lr, patience=0, seed=0)
        train_seqs = make_mot_split("train", data_cfg)
        rows = None
        if "teacher" in args.prior_students:
            start = time.perf_counter()
            rows = track_sequences(teacher, train_seqs)
            info["teacher_rows_seconds"] = time.perf_counter() - start
        for prior in args.prior_students:
            start = time.perf_counter()
            model, hist = finetune_prior_student(student, teacher, prior, data_cfg, train_cfg,
                                                 train_sequences=train_seqs, teacher_rows=rows)
            students[f"ft {prior}-prior"] = model
            info[f"ft {prior}-prior"] = {"val_hota": [e.get("val") for e in hist.epochs], "best_epoch": hist.best_epoch,
                                         "seconds": time.perf_counter() - start}
            print(f"fine-tuned with {prior} priors ({len(train_seqs)} scenes, {args.finetune_epochs} x "
                  f"{args.finetune_steps} steps): validation HOTA (k=4, teacher priors) per epoch "
                  f"{[round(v, 2) for v in info[f'ft {prior}-prior']['val_hota']]}", flush=True)
    parts = {"sweep": sweep_variants(args.budget), "priors": prior_variants(students)}
    chosen = ["sweep", "priors"] if args.part == "both" else [args.part]
    if args.variants:
        known = {n for part in chosen for n in parts[part]}
        unknown = sorted(set(args.variants) - known)
        if unknown:
            ap.error(f"--variants: unknown {unknown}; the chosen part(s) have {sorted(known)}")
        keep = {"teacher only", *args.variants}
        parts = {part: {n: v for n, v in parts[part].items() if n in keep} for part in parts}
    cols = ["HOTA", "IDF1", "MOTA", "fps", "speedup", "HOTA_kept", "teacher_calls"]
    payload = {**info, "per_seed": {}, "summary": {}}
    for part in chosen:
        tables = []
        for seed in args.seeds:
            seqs = make_mot_split("test", MOTDataConfig.make(args.profile, seed=seed, **sizes))
            res = evaluate_variants(teacher, student, seqs, parts[part])
            t = res.table
            t["speedup"] = t["fps"] / t.loc["teacher only", "fps"]
            t["HOTA_kept"] = t["HOTA"] / t.loc["teacher only", "HOTA"]
            fixed = [f"k={k}" for k in SWEEP_K if f"k={k}" in t.index]
            for name in FRONTIER if part == "sweep" and len(fixed) >= 2 else ():
                if name in t.index:  # against the fixed frontier at its number of calls
                    gain = frontier_gain(t, name, fixed)
                    payload.setdefault("frontier_gain", {}).setdefault(name, []).append(gain)
                    print(f"{name} vs the fixed frontier at {t.loc[name, 'teacher_calls']:.0f} calls: "
                          f"{gain:+.2f} HOTA", flush=True)
            tables.append(t)
            print(f"\n## {part}: test draw seed={seed} ({len(seqs)} scenes x {seqs[0].num_frames} frames)\n", flush=True)
            print(t[cols].round(3).to_markdown(), flush=True)
        summary = mean_std(tables)
        print(f"\n## {part}: mean ± std over {len(tables)} test draws\n")
        print(summary.to_markdown(), flush=True)
        payload["per_seed"][part] = [t.reset_index().to_dict(orient="records") for t in tables]
        payload["summary"][part] = summary.reset_index().to_dict(orient="records")
        if args.json:
            write_text_atomic(args.json, json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
