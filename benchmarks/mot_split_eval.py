"""HOTA / MOTA / IDF1 of MOT detector checkpoints (+ the default tracker) on one synthetic split.

Used to choose a checkpoint on validation scenes before it is scored once on test, e.g. the
fine-tuned MOT teacher of RESULTS.md ("MOT teacher: a fine-tune chosen on validation"):

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/mot_split_eval.py --split val --sequences 4 \
        data_samples/checkpoints/mot_teacher.pt runs/mot_teacher_ft.pt
"""
from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.train.mot import MOTDataConfig, evaluate_detector, make_mot_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--sequences", type=int, help="scenes in the split (default: the FULL profile's)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = MOTDataConfig.make("full", **({f"{args.split}_sequences": args.sequences} if args.sequences else {}))
    seqs = make_mot_split(args.split, cfg)
    for path in args.checkpoints:
        report = evaluate_detector(load_checkpoint(path).build().eval(), seqs).combined
        print(json.dumps({"checkpoint": path, "split": args.split, "scenes": len(seqs),
                          **{k: round(float(report[k]), 2) for k in ("HOTA", "MOTA", "IDF1")}}), flush=True)


if __name__ == "__main__":
    main()
