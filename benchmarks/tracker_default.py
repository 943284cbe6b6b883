"""Choose the one tracker configuration every MOT row is scored with, on validation scenes only.

For each candidate pair of ``TrackerConfig`` score thresholds (``high_score``, ``new_track_score``)
the shipped MOT teacher and student track the validation split of the mixed world; the candidate
with the best mean HOTA over both models becomes ``TrackerConfig``'s default. Test scenes are
never looked at. Prints a markdown table for RESULTS.md.

    python benchmarks/tracker_default.py [--val-sequences 6] [--teacher T.pt --student S.pt]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.room import track_and_score
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.track.mot_tracker import TrackerConfig
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split

CANDIDATES = [(0.5, 0.6), (0.4, 0.5), (0.35, 0.4), (0.3, 0.35), (0.25, 0.3)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--val-sequences", type=int, default=6)
    ap.add_argument("--teacher", default=str(samples_dir() / "checkpoints" / "mot_teacher.pt"))
    ap.add_argument("--student", default=str(samples_dir() / "checkpoints" / "mot_student.pt"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    val = make_mot_split("val", MOTDataConfig.make("full", val_sequences=args.val_sequences, world="mixed"))
    models = {role: load_checkpoint(path).build().eval() for role, path in
              (("teacher", args.teacher), ("student", args.student))}
    rows = []
    start = time.perf_counter()
    for high, new in CANDIDATES:
        cfg = TrackerConfig(high_score=high, new_track_score=new)
        row = {"high_score": high, "new_track_score": new}
        for role, model in models.items():
            row[f"{role} HOTA"] = track_and_score(model, val, cfg)["COMBINED"]["HOTA"]
        row["mean HOTA"] = float(np.mean([row[f"{r} HOTA"] for r in models]))
        rows.append(row)
        print(row, flush=True)
    table = pd.DataFrame(rows)
    best = table.loc[table["mean HOTA"].idxmax()]
    print(table.to_markdown(index=False, floatfmt=(".2f", ".2f", ".1f", ".1f", ".1f")))
    print(f"best on {len(val)} validation scenes: high_score={best.high_score}, new_track_score={best.new_track_score} "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
