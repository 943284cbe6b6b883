"""Where do the SiamFC trackers lose their target? Accuracy vs robustness on one synthetic split.

Issue 5's target asks the SOT teacher for success AUC >= 60 (one-pass evaluation, OPE: started once,
never corrected). This script splits what the tracker loses into the two parts of the VOT protocol
(``kdtrack_lite.train.sot.track_sot_resets``):

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
import collections
import json

import numpy as np
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.sot import failure_attributes, frame_iou, success_auc
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.runtime import progress
from kdtrack_lite.track.sot_tracker import SOTTrackerConfig
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split, track_sot, track_sot_resets


def analyse(model: torch.nn.Module, seqs: list, tracker: SOTTrackerConfig, skip: int) -> dict:
    """OPE and reset-protocol scores of one model on ``seqs``."""
    ope, tracked_auc, true_size_auc, failures, count = {}, {}, {}, {}, collections.Counter()
    for seq in progress(seqs, desc="sequences"):
        pred = track_sot(model, seq, tracker)
        ope[seq.name] = 100 * success_auc(pred, seq.boxes_tlwh, valid=seq.visible)
        ope_iou = frame_iou(pred, seq.boxes_tlwh, valid=seq.visible)
        failures[seq.name] = {"ope_failed": bool((ope_iou == 0).any())}
        reset_pred, fails = track_sot_resets(model, seq, tracker, skip=skip)
        tracking = seq.visible & np.isfinite(reset_pred).all(axis=1)
        tracked_auc[seq.name] = 100 * success_auc(reset_pred, seq.boxes_tlwh, valid=tracking)
        # the same frames with the predicted centre but the true size: what the box's size costs
        centred = np.c_[reset_pred[:, :2] + (reset_pred[:, 2:] - seq.boxes_tlwh[:, 2:]) / 2, seq.boxes_tlwh[:, 2:]]
        true_size_auc[seq.name] = 100 * success_auc(centred, seq.boxes_tlwh, valid=tracking)
        failures[seq.name]["resets"] = [{"frame": f, "causes": failure_attributes(seq.frame_attributes, seq.visible, f)}
                                        for f in fails]
        for f in fails:
            count.update(failure_attributes(seq.frame_attributes, seq.visible, f) or ["none"])
    never = [ope[n] for n, f in failures.items() if not f["ope_failed"]]
    total = sum(len(f["resets"]) for f in failures.values())
    return {
        "OPE AUC": round(float(np.mean(list(ope.values()))), 2),
        "sequences": len(seqs),
        "OPE: sequences never lost": len(never),
        "OPE AUC of those": round(float(np.mean(never)), 2) if never else None,
        "reset: failures per sequence": round(total / len(seqs), 2),
        "reset: sequences without failure": sum(not f["resets"] for f in failures.values()),
        "reset: AUC of tracked frames": round(float(np.mean(list(tracked_auc.values()))), 2),
        "reset: the same with the true box size": round(float(np.mean(list(true_size_auc.values()))), 2),
        "failures with the attribute (share)": {k: round(v / max(total, 1), 2) for k, v in count.most_common()},
        "per sequence": {n: {"OPE AUC": round(ope[n], 1), "tracked AUC": round(tracked_auc[n], 1), **failures[n]}
                         for n in ope},
    }


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
        out[path] = analyse(load_checkpoint(path).build().eval(), seqs, tracker, args.skip)
        print(json.dumps({"checkpoint": path, **{k: v for k, v in out[path].items() if k != "per sequence"}}),
              flush=True)
    if args.json:
        write_text_atomic(args.json, json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
