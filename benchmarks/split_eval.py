"""Scores of MOT detector or SiamFC checkpoints on one synthetic split, to choose on validation.

A checkpoint is chosen on validation sequences, then scored once on test, e.g. the fine-tuned MOT
teacher and the per-crop-normalised SOT teacher of RESULTS.md:

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/split_eval.py mot --split val --sequences 4 \
        data_samples/checkpoints/mot_teacher.pt runs/mot_teacher_ft.pt
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/split_eval.py sot --split val --sequences 36 \
        data_samples/checkpoints/sot_teacher.pt runs/sot_teacher_norm.pt

``mot``: HOTA / MOTA / IDF1 through the default tracker; ``sot``: success AUC / P@20 overall and
per attribute through :class:`SiamFCTracker`. One JSON row per checkpoint (and, for ``sot``, per
``--tracker`` setting: JSON objects of :class:`SOTTrackerConfig` fields, ``{}`` = the defaults):

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/split_eval.py sot --split val --sequences 36 \
        data_samples/checkpoints/sot_teacher.pt --tracker '{}' '{"lost_score": 0.3}'
"""
from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint


def scores(family: str, model: torch.nn.Module, seqs: list, tracker: dict | None = None) -> dict:
    if family == "mot":
        from kdtrack_lite.eval.mot_protocol import evaluate_detector

        report = evaluate_detector(model, seqs).combined
        return {k: round(float(report[k]), 2) for k in ("HOTA", "MOTA", "IDF1")}
    from kdtrack_lite.eval.sot_protocol import evaluate_siamfc
    from kdtrack_lite.track.sot_tracker import SOTTrackerConfig

    report = evaluate_siamfc(model, seqs, SOTTrackerConfig.make(**(tracker or {})))
    return {"AUC": round(float(report.overall.loc["ALL", "AUC"]), 2),
            "P@20": round(float(report.overall.loc["ALL", "P@20"]), 2),
            **{a: round(float(v), 1) for a, v in report.per_attribute["AUC"].items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("family", choices=["mot", "sot"])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--sequences", type=int, help="sequences in the split (default: the FULL profile's)")
    ap.add_argument("--first", type=int, default=0, help="score sequences [first, sequences) only (a fresh draw "
                                                          "after the ones already looked at)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tracker", nargs="+", type=json.loads, default=[{}],
                    help="sot only: SOTTrackerConfig overrides as JSON objects, one row each")
    args = ap.parse_args()
    if args.family == "mot" and args.tracker != [{}]:
        ap.error("--tracker applies to sot only")
    torch.set_num_threads(args.threads)
    if args.family == "mot":
        from kdtrack_lite.train.mot import MOTDataConfig as DataConfig, make_mot_split as make_split
    else:
        from kdtrack_lite.train.sot import SOTDataConfig as DataConfig, make_sot_split as make_split
    cfg = DataConfig.make("full", **({f"{args.split}_sequences": args.sequences} if args.sequences else {}))
    seqs = make_split(args.split, cfg)[args.first:]
    for path in args.checkpoints:
        model = load_checkpoint(path).build().eval()
        for tracker in args.tracker:
            row = {"checkpoint": path, "split": args.split, "sequences": len(seqs),
                   **({"tracker": tracker} if args.family == "sot" else {}),
                   **scores(args.family, model, seqs, tracker)}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
