"""Where do the SiamFC trackers lose their target? Accuracy vs robustness on one synthetic split.

Issue 5's target asks the SOT teacher for success AUC >= 60 (one-pass evaluation, OPE: started once,
never corrected). This script splits what the tracker loses into the two parts of the VOT protocol
(``kdtrack_lite.eval.sot_protocol.accuracy_robustness``):

* **robustness**: how often the target is lost (a visible target and a box with IoU 0 is a failure;
  the tracker restarts from the true box ``--skip`` frames later), and which attributes the frames
  up to each failure carry;
* **accuracy**: the success AUC over the frames where the tracker was tracking (restarted runs,
  skipped frames left out) -- the score this tracker would get if it never lost the target; and the
  same with each predicted box given the true size around its predicted centre (what the size
  estimate costs).

It also prints the OPE AUC of the sequences on which the OPE run never failed. Validation split by
default (no choice is made from it; it explains the numbers of RESULTS.md, issue 5):

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sot_failures.py data_samples/checkpoints/sot_teacher.pt \\
        data_samples/checkpoints/sot_student.pt --sequences 72 --first 36
"""
from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.sot_protocol import accuracy_robustness
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.track.sot_tracker import SOTTrackerConfig
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--split", choices=["val", "test"], default="val")
    ap.add_argument("--sequences", type=int, default=36)
    ap.add_argument("--first", type=int, default=0, help="analyse sequences [first, sequences) only")
    ap.add_argument("--tracker", type=json.loads, default={}, help="SOTTrackerConfig overrides (JSON)")
    ap.add_argument("--skip", type=int, default=5, help="frames skipped after a failure (VOT: 5)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write every number here (per sequence too)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seqs = make_sot_split(args.split, SOTDataConfig.make(**{f"{args.split}_sequences": args.sequences}))
    seqs = seqs[args.first:]
    tracker = SOTTrackerConfig.make(**args.tracker)
    out = {}
    for path in args.checkpoints:
        report = accuracy_robustness(load_checkpoint(path).build().eval(), seqs, tracker, skip=args.skip)
        total = max(report["failures per sequence"] * len(seqs), 1)
        report["failures with the attribute (share)"] = {k: round(v / total, 2)
                                                         for k, v in report.pop("failures by attribute").most_common()}
        out[path] = report
        print(json.dumps({"checkpoint": path, "sequences": len(seqs),
                          **{k: round(v, 2) if isinstance(v, float) else v for k, v in report.items()
                             if k != "per sequence"}}), flush=True)
    if args.json:
        write_text_atomic(args.json, json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
