"""SDST benchmark: student alone / + general KD / + SDST (fixed) / + SDST (adaptive), over seeds.

Every variant is fine-tuned from the shipped student checkpoint at the same budget (steps x batch)
on the training split, then tracked on the held-out test split (sequence seeds disjoint from
training and from the specialists' data); success AUC overall and per attribute, mean ± std over
seeds. The speed and size of every model are measured in one interleaved run.

    PYTHONPATH=. OMP_WAIT_POLICY=PASSIVE python benchmarks/sdst.py --seeds 0 1 2 --steps 100 \
        --out benchmarks/sdst_results.json

Writes the JSON (per-seed tables) and prints the markdown tables for RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import TrainConfig
from kdtrack_lite.eval.sot_protocol import evaluate_siamfc
from kdtrack_lite.eval.speed import compare_models
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.sdst import SPECIALIST_ATTRIBUTES, VARIANTS, SDSTStudentConfig, train_sdst_student
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split

ATTRS = ("OCC", "FM", "IV", "SV")


def load_models(attributes=tuple(SPECIALIST_ATTRIBUTES), general_path=None, specialist_dir=None, student_path=None):
    """The general teacher, the ``attributes``' specialists (``sot_specialist_<A>.pt``) and the student;
    shipped ones unless ``general_path`` / ``specialist_dir`` / ``student_path`` name others."""
    ck = samples_dir() / "checkpoints"
    general = load_checkpoint(general_path or ck / "sot_teacher.pt").build().eval()
    spec_dir = Path(specialist_dir) if specialist_dir else ck
    specialists = {a: load_checkpoint(spec_dir / f"sot_specialist_{a}.pt").build().float().eval() for a in attributes}
    student = load_checkpoint(student_path or ck / "sot_student.pt").build().eval()
    return general, specialists, student


def speed_table(general, specialists, student) -> pd.DataFrame:
    inputs = (torch.rand(1, 3, 64, 64), torch.rand(1, 3, 128, 128))
    models = {"general teacher": general, **{f"specialist {a}": m for a, m in specialists.items()},
              "student (every variant)": student}
    df = compare_models(models, inputs, reference="general teacher", warmup=5, repeats=30)
    return df[["params", "fps", "ms_per_frame", "compression", "speedup"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=100, help="fine-tuning steps of every variant")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--teacher-eval", action="store_true", help="also score the general teacher (slow on CPU)")
    ap.add_argument("--test-sequences", type=int,
                    help="SOT test split size (default: the FULL profile's 18; 54 = three times the data, same seeds first)")
    ap.add_argument("--specialists", nargs="+", choices=list(SPECIALIST_ATTRIBUTES),
                    default=list(SPECIALIST_ATTRIBUTES), help="the specialists that teach in the SDST variants (default: all four)")
    ap.add_argument("--specialist-weight", type=float, default=1.0,
                    help="a_k of the fixed scheme, the general teacher's a_0 being 1 (SDSTStudentConfig)")
    ap.add_argument("--boost", type=float, default=1.0,
                    help="draw frames with a teaching specialist's attribute this many times as often (all variants)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                    help="the student variants to train (default: all four; the paired tables need 'general')")
    ap.add_argument("--reset-eval", action="store_true",
                    help="also score every variant under the VOT reset protocol (columns 'reset ALL', 'reset OCC', ...)")
    ap.add_argument("--student", default=None, metavar="CKPT",
                    help="student checkpoint every variant starts from (default: the shipped sot_student.pt)")
    ap.add_argument("--student-bn", choices=["train", "frozen"], default="train",
                    help="the student's BatchNorm while fine-tuning, every variant (SDSTStudentConfig.student_bn)")
    ap.add_argument("--general", metavar="CKPT", help="general teacher (default: the shipped sot_teacher.pt)")
    ap.add_argument("--specialist-dir", metavar="DIR",
                    help="folder of sot_specialist_<A>.pt (default: the shipped ones in data_samples/checkpoints)")
    ap.add_argument("--device", default="cpu", help="torch device of training and tracking (speed table: CPU)")
    ap.add_argument("--out", default="benchmarks/sdst_results.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    general, specialists, student = load_models(args.specialists, args.general, args.specialist_dir, args.student)
    data_cfg = SOTDataConfig.make("full", **({"test_sequences": args.test_sequences} if args.test_sequences else {}))
    train_seqs, test_seqs = make_sot_split("train", data_cfg), make_sot_split("test", data_cfg)
    results: dict = {"args": vars(args), "runs": {}, "speed": speed_table(general, specialists, student).to_dict()}
    if args.teacher_eval:
        rep = evaluate_siamfc(general.to(args.device), test_seqs)
        results["general_teacher"] = auc_columns(rep)
    for seed in args.seeds:
        for variant in args.variants:
            t0 = time.perf_counter()
            cfg = TrainConfig.make("full", epochs=1, steps_per_epoch=args.steps, lr=args.lr, patience=0,
                                   warmup_steps=10, seed=seed)
            model, _ = train_sdst_student(variant, student, general, specialists, train_seqs, cfg, args.batch,
                                          cfg=SDSTStudentConfig(specialist_weight=args.specialist_weight,
                                                                boost=args.boost, student_bn=args.student_bn),
                                          device=args.device)
            rep = evaluate_siamfc(model.eval(), test_seqs)
            row = {**auc_columns(rep), "P@20": float(rep.overall.loc["ALL", "P@20"])}
            if args.reset_eval:
                row.update(auc_columns(evaluate_siamfc(model.eval(), test_seqs, protocol="reset"), "reset "))
            row["seconds"] = time.perf_counter() - t0
            results["runs"].setdefault(variant, {})[str(seed)] = row
            print(json.dumps({"seed": seed, "variant": variant, **{k: round(v, 2) for k, v in row.items()}}), flush=True)
            write_text_atomic(args.out, json.dumps(results, indent=1))
    print(markdown(results))


def auc_columns(report, prefix: str = "") -> dict[str, float]:
    """``{prefix + "ALL": success AUC, prefix + attribute: ...}`` for ``ATTRS`` (NaN for one no test
    frame carries)."""
    return {prefix + "ALL": float(report.overall.loc["ALL", "AUC"]),
            **{prefix + a: float(report.per_attribute["AUC"].get(a, float("nan"))) for a in ATTRS}}


def markdown(results: dict) -> str:
    rows = {}
    for variant, by_seed in results["runs"].items():
        df = pd.DataFrame(by_seed).T
        rows[variant] = {c: f"{df[c].mean():.1f} ± {df[c].std(ddof=1) if len(df) > 1 else 0:.1f}"
                         for c in df.columns if c != "seconds"}
    table = pd.DataFrame(rows).T
    reset = any("reset ALL" in r for by_seed in results["runs"].values() for r in by_seed.values())
    speed = pd.DataFrame(results["speed"]).round({"fps": 0, "ms_per_frame": 2, "compression": 1, "speedup": 2})
    return "### Success AUC (test split), mean ± std over seeds\n\n" + table.to_markdown() + \
        "\n\n" + paired_markdown(results) + ("\n\n" + paired_markdown(results, "reset ") if reset else "") + \
        "\n\n### Size and speed (one run, CPU, batch 1)\n\n" + speed.to_markdown()


def paired_differences(results: dict, variant: str, baseline: str = "general", prefix: str = "") -> pd.DataFrame:
    """Per-seed ``variant - baseline`` AUC (same seed = same data order and init), seeds as rows;
    ``prefix="reset "``: the reset-protocol columns, named without the prefix."""
    runs = results["runs"]
    seeds = [s for s in runs[variant] if s in runs[baseline]]
    return pd.DataFrame({s: {c: runs[variant][s][prefix + c] - runs[baseline][s][prefix + c] for c in ["ALL", *ATTRS]}
                         for s in seeds}).T


def target_check(results: dict, variant: str = "fixed", margin: float = 2.0, max_loss: float = 1.0,
                 prefix: str = "") -> dict:
    """The SDST target on the seed means: ``variant`` beats general KD by >= ``margin`` AUC on >= 3
    of the 4 attributes and loses at most ``max_loss`` overall."""
    d = paired_differences(results, variant, prefix=prefix)
    mean = d.mean()
    wins = [a for a in ATTRS if mean[a] >= margin]
    return {"variant": variant, "seeds": len(d), "mean_diff": {c: round(float(mean[c]), 2) for c in d.columns},
            "attributes_won": wins, "met": len(wins) >= 3 and mean["ALL"] >= -max_loss}


def paired_markdown(results: dict, prefix: str = "") -> str:
    """Per-attribute ``SDST - general KD``: mean ± std over seeds, standard error, seeds > 0."""
    protocol = f" ({prefix.strip()} protocol)" if prefix else ""
    lines = [f"### SDST minus general KD, paired by seed (AUC points){protocol}", ""]
    for variant in [v for v in ("fixed", "adaptive") if v in results["runs"] and "general" in results["runs"]]:
        d = paired_differences(results, variant, prefix=prefix)
        n = len(d)
        cells = {c: f"{d[c].mean():+.1f} ± {d[c].std(ddof=1) if n > 1 else 0:.1f} "
                    f"(s.e. {d[c].std(ddof=1) / n ** 0.5 if n > 1 else 0:.1f}; {int((d[c] > 0).sum())}/{n} > 0)"
                 for c in d.columns}
        lines.append(f"* **{variant}**: " + ", ".join(f"{c} {v}" for c, v in cells.items()))
        check = target_check(results, variant, prefix=prefix)
        lines.append(f"  target (>= +2 on >= 3 of {len(ATTRS)} attributes, ALL >= -1, on the means): "
                     f"{'MET' if check['met'] else 'NOT met'} (won: {', '.join(check['attributes_won']) or 'none'})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
