"""AttTrack feature learning ablation: student alone / +hint / +AT / +hint+AT / teacher, over seeds.

Usage (repository root)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/distill_mot.py --seeds 0 1 2 \
        --epochs 4 --steps 50 --lr 5e-4 --threads 1 --json runs/distill_mot.json --md runs/distill_mot.md

Every student row fine-tunes the shipped student (``data_samples/checkpoints/mot_student.pt``, or
``--student``) for the same ``epochs x steps`` with ``kdtrack_lite.train.distill_mot.distill_mot_student``; only
the distillation losses differ, and ``--seeds`` changes the batch order and adapter init. Scores:
the held-out test split (``MOTDataConfig``, profile ``--profile``) through the online tracker,
HOTA (trackeval) and MOTA/IDF1 (motmetrics), every row (teacher included) with the tracker
thresholds of the default ``TrackerConfig()``. Speed: batch-1 detector FPS, teacher, starting
student and one distilled student interleaved in one run (``compare_models``).
``gap_closed = (HOTA_row - HOTA_student) / (HOTA_teacher - HOTA_student)`` against the student
fine-tuned alone at the same budget; ``--reference-teacher`` measures the gap to another model than
the one distilled from (the real teacher when ``--teacher`` is a teacher assistant). Each finished
run is saved to ``--json`` at once (atomic), and a re-run with the same ``--json`` skips the runs
already there (and refuses other settings or checkpoints).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from kdtrack_lite.track.mot_tracker import TrackerConfig
from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.mot_protocol import evaluate_detector
from kdtrack_lite.eval.speed import compare_models
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.registry import build
from kdtrack_lite.train.distill_mot import MOTDistillConfig, distill_mot_student, loss_label, parse_losses
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split, mot_train_config

METRICS = ["HOTA", "DetA", "AssA", "MOTA", "IDF1"]
DEFAULT_ROWS = ["none", "hint", "at", "hint,at"]


def summarize(runs: list[dict], teacher: dict, reference: dict | None = None) -> pd.DataFrame:
    """Mean ± std per row over seeds, and the fraction of the teacher-student HOTA gap each row closes.

    ``reference`` (the real teacher when ``teacher`` is a teacher assistant) defines the gap and
    gets its own last row; by default the gap is the one to ``teacher``.
    """
    df = pd.DataFrame(runs)
    table = df.groupby("row", sort=False)[METRICS].agg(["mean", "std"])
    base = table.loc["student", ("HOTA", "mean")] if "student" in table.index else float("nan")
    tops = {"teacher": teacher, **({"reference teacher": reference} if reference else {})}
    out = pd.DataFrame(index=list(table.index) + list(tops))
    for m in METRICS:
        out[m] = [f"{table.loc[r, (m, 'mean')]:.2f} ± {table.loc[r, (m, 'std')]:.2f}" for r in table.index] + [
            f"{top[m]:.2f}" for top in tops.values()]
    gap = (reference or teacher)["HOTA"] - base
    out["gap_closed"] = [f"{(table.loc[r, ('HOTA', 'mean')] - base) / gap:.2f}" for r in table.index] + [
        f"{(top['HOTA'] - base) / gap:.2f}" for top in tops.values()]
    out["seeds"] = [int(df[df.row == r].seed.nunique()) for r in table.index] + [1] * len(tops)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="data_samples/checkpoints/mot_teacher.pt")
    p.add_argument("--student", default="data_samples/checkpoints/mot_student.pt")
    p.add_argument("--reference-teacher", help="the model whose HOTA defines gap_closed (default: --teacher); "
                   "the real teacher when --teacher is a teacher assistant (TAKD)")
    p.add_argument("--rows", nargs="+", default=DEFAULT_ROWS, help="loss combinations, e.g. none hint at hint,at kd")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, help="override the profile's epochs")
    p.add_argument("--steps", type=int, help="override the profile's steps per epoch")
    p.add_argument("--lr", type=float, help="override the profile's learning rate (e.g. 5e-4 to fine-tune gently)")
    p.add_argument("--profile", default="full", choices=["fast", "full"], help="data and budget profile")
    p.add_argument("--init", default="shipped", choices=["shipped", "scratch"],
                   help="start every student row from the shipped student (a fine-tune) or from a fresh "
                        "initialisation (seeded by --seeds; distillation from the first step)")
    p.add_argument("--train-sequences", type=int, help="override the profile's training scenes (the shipped "
                                                        "student was trained on 48)")
    p.add_argument("--val-sequences", type=int, help="override the profile's validation scenes (early stopping, "
                                                      "and the scores with --score-split val)")
    p.add_argument("--score-split", default="test", choices=["test", "val"],
                   help="score the rows on the held-out test scenes (the results) or on the validation scenes "
                        "(to choose settings without looking at test)")
    p.add_argument("--kd-weight", type=float, help="override MOTDistillConfig.kd_weight (heatmap KD)")
    p.add_argument("--kd-temperature", type=float, help="override MOTDistillConfig.kd_temperature")
    p.add_argument("--kd-reg-weight", type=float, help="override MOTDistillConfig.kd_reg_weight (wh/reg/tracking KD)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", required=True, help="per-run results (atomic; re-runs skip what is there)")
    p.add_argument("--md", help="also write the summary table as markdown (atomic)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    teacher = load_checkpoint(args.teacher).build().eval()
    student = load_checkpoint(args.student).build().eval()
    sizes = {k: v for k, v in (("train_sequences", args.train_sequences), ("val_sequences", args.val_sequences)) if v}
    data = MOTDataConfig.make(args.profile, **sizes)
    splits = {s: make_mot_split(s, data) for s in ("train", "val", "test")}
    scored = splits[args.score_split]
    overrides = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps), ("lr", args.lr)) if v}
    path = Path(args.json)
    state = json.loads(path.read_text()) if path.exists() else {"runs": []}
    kd = {k: v for k, v in (("kd_weight", args.kd_weight), ("kd_temperature", args.kd_temperature),
                            ("kd_reg_weight", args.kd_reg_weight)) if v is not None}
    cfg = MOTDistillConfig(**kd)
    settings = json.loads(json.dumps(cfg.to_dict()))  # as stored (tuples become lists)
    models = {"teacher": args.teacher, "student": args.student, "reference_teacher": args.reference_teacher}
    if (state.get("distill", settings) != settings or state.get("score_split", args.score_split) != args.score_split
            or state.get("models", models) != models):
        raise SystemExit(f"{path}: its runs were made with other distillation settings, another scored split or "
                         f"other checkpoints (--teacher/--student/--reference-teacher); give a new --json")
    state.update(command=" ".join(["benchmarks/distill_mot.py", *sys.argv[1:]]), init=args.init,
                 budget=mot_train_config(args.profile, **overrides).to_dict(), data=data.to_dict(),
                 distill=settings, score_split=args.score_split, models=models)
    tracker = TrackerConfig()
    state["tracker"] = tracker.to_dict()
    if "teacher" not in state:
        state["teacher"] = evaluate_detector(teacher, scored, tracker).combined[METRICS].astype(float).to_dict()
        state["shipped_student"] = evaluate_detector(student, scored, tracker).combined[METRICS].astype(float).to_dict()
    if args.reference_teacher and "reference_teacher" not in state:
        reference = load_checkpoint(args.reference_teacher).build().eval()
        state["reference_teacher"] = evaluate_detector(reference, scored, tracker).combined[METRICS].astype(float).to_dict()
    done = {(r["row"], r["seed"]) for r in state["runs"]}
    last = student
    for seed in args.seeds:
        for spec in args.rows:
            row = loss_label(parse_losses(spec))
            if (row, seed) in done:
                continue
            start = time.perf_counter()
            init = student
            if args.init == "scratch":
                torch.manual_seed(seed)
                init = build(student.kdtrack_builder, student.cfg).eval()
            model, history = distill_mot_student(spec, teacher, init, data,
                                                 mot_train_config(args.profile, seed=seed, **overrides),
                                                 cfg, train_sequences=splits["train"], val_sequences=splits["val"])
            scores = evaluate_detector(model, scored, tracker).combined[METRICS].astype(float).to_dict()
            state["runs"].append({"row": row, "seed": seed, **scores, "best_val": history.best_metric,
                                  "best_epoch": history.best_epoch, "seconds": time.perf_counter() - start})
            write_text_atomic(path, json.dumps(state, indent=2))
            print(json.dumps(state["runs"][-1]), flush=True)
            last = model
    h, w = splits["test"][0].frames.shape[1:3]
    x = torch.rand(1, 3, h, w)
    speed = compare_models({"teacher": teacher, "student (start)": student, "student (distilled)": last},
                           (x, x, torch.rand(1, 1, h, w)), reference="teacher")
    state["speed"] = speed[["params", "fps", "speedup"]].to_dict()
    write_text_atomic(path, json.dumps(state, indent=2))
    table = summarize(state["runs"], state["teacher"], state.get("reference_teacher"))
    tops = 2 if "reference_teacher" in state else 1
    table["fps"] = ([f"{speed.loc['student (distilled)', 'fps']:.1f}"] * (len(table) - tops)
                    + [f"{speed.loc['teacher', 'fps']:.1f}"] + ["not timed"] * (tops - 1))
    budget = state["budget"]
    text = (f"budget per student run: {budget['epochs']} epochs x {budget['steps_per_epoch']} steps "
            f"(batch {data.batch_size}), data profile {args.profile}, tracker high/new-track score "
            f"{tracker.high_score}/{tracker.new_track_score}; starting student (--student) before fine-tuning: "
            f"HOTA {state['shipped_student']['HOTA']:.2f}; scored on the {args.score_split} split\n\n"
            + table.to_markdown() + "\n\nspeed (batch 1):\n\n"
            + speed[["params", "fps", "speedup"]].round(2).to_markdown() + "\n")
    print(text)
    if args.md:
        write_text_atomic(args.md, text)


if __name__ == "__main__":
    main()
