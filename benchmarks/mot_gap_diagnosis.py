"""Where is the MOT teacher-student gap? Swap single output heads between the two detectors.

The rows of :data:`kdtrack_lite.eval.head_swap.DEFAULT_SWAPS`: each runs the shipped teacher and
student on the same frames and hands the tracker one model's outputs with some heads taken from
the other (``HeadSwap``); "no emb" rows give the tracker no appearance embeddings (IoU, motion and
tracking offsets only). A head whose swap moves HOTA a lot is where the student loses to the
teacher, i.e. what a distillation term must transfer.
Scored on the held-out test split (``MOTDataConfig`` FULL, data seed 0) with the tracker of
the default ``TrackerConfig()``, as in ``benchmarks/distill_mot.py``.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/mot_gap_diagnosis.py \
        --json runs/mot_gap_diagnosis.json
"""

from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.track.mot_tracker import TrackerConfig
from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.head_swap import head_swap_table
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.train.distill_mot import MOTDistillConfig
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="data_samples/checkpoints/mot_teacher.pt")
    p.add_argument("--student", default="data_samples/checkpoints/mot_student.pt")
    p.add_argument("--json", help="write the table as JSON (atomic)")
    args = p.parse_args()
    torch.set_num_threads(1)
    teacher = load_checkpoint(args.teacher).build()
    student = load_checkpoint(args.student).build()
    test = make_mot_split("test", MOTDataConfig.make("full"))
    table = head_swap_table(teacher, student, test, TrackerConfig())
    print(table.round(2).to_markdown())
    if args.json:
        write_text_atomic(args.json, json.dumps({"table": table.to_dict("index")}, indent=1))


if __name__ == "__main__":
    main()
