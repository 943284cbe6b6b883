"""Success AUC / P@20 (overall and per attribute) of SiamFC checkpoints on one synthetic SOT split.

Used to choose a checkpoint on validation sequences before it is scored once on test, e.g. the
per-crop-normalised SOT teacher of RESULTS.md:

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sot_split_eval.py --split val --sequences 36 \
        data_samples/checkpoints/sot_teacher.pt runs/sot_teacher_norm.pt
"""
from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.train.sot import SOTDataConfig, evaluate_siamfc, make_sot_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--sequences", type=int, help="sequences in the split (default: the FULL profile's)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SOTDataConfig.make("full", **({f"{args.split}_sequences": args.sequences} if args.sequences else {}))
    seqs = make_sot_split(args.split, cfg)
    for path in args.checkpoints:
        report = evaluate_siamfc(load_checkpoint(path).build().eval(), seqs)
        row = {"checkpoint": path, "split": args.split, "sequences": len(seqs),
               "AUC": round(float(report.overall.loc["ALL", "AUC"]), 2),
               "P@20": round(float(report.overall.loc["ALL", "P@20"]), 2),
               **{a: round(float(v), 1) for a, v in report.per_attribute["AUC"].items()}}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
