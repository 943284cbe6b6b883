"""Where is the MOT teacher-student gap? Swap single output heads between the two detectors.

Each row runs the shipped teacher and student on the same frames and hands the tracker one
model's outputs with some heads taken from the other model (``HeadSwap``); "no emb" rows give the
tracker no appearance embeddings (IoU, motion and tracking offsets only). A head whose swap moves
HOTA a lot is where the student loses to the teacher, i.e. what a distillation term must transfer.
Scored on the held-out test split (``MOTDataConfig`` FULL, data seed 0) with the tracker of
``MOTDistillConfig.tracker_config()``, as in ``benchmarks/distill_mot.py``.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/mot_gap_diagnosis.py \
        --json runs/mot_gap_diagnosis.json
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
import torch
from torch import nn

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.mot import evaluate_mot
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.track.pipeline import MOTPipeline
from kdtrack_lite.train.distill_mot import MOTDistillConfig
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split

METRICS = ["HOTA", "DetA", "AssA", "MOTA", "IDF1"]


class HeadSwap(nn.Module):
    """``base``'s detector outputs with the heads named in ``keys`` replaced by ``donor``'s."""

    def __init__(self, base: nn.Module, donor: nn.Module, keys: tuple[str, ...]):
        super().__init__()
        self.base, self.donor, self.keys = base, donor, keys

    def forward(self, image, prev_image=None, prior_hm=None):
        out = dict(self.base(image, prev_image, prior_hm))
        donor = self.donor(image, prev_image, prior_hm)
        out.update({k: donor[k] for k in self.keys})
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="data_samples/checkpoints/mot_teacher.pt")
    p.add_argument("--student", default="data_samples/checkpoints/mot_student.pt")
    p.add_argument("--json", help="write the table as JSON (atomic)")
    args = p.parse_args()
    torch.set_num_threads(1)
    teacher = load_checkpoint(args.teacher).build().eval()
    student = load_checkpoint(args.student).build().eval()
    test = make_mot_split("test", MOTDataConfig.make("full"))
    tracker = MOTDistillConfig().tracker_config()
    rows = [("teacher", teacher, True), ("teacher, no emb", teacher, False),
            ("student", student, True), ("student, no emb", student, False),
            ("student + teacher emb", HeadSwap(student, teacher, ("embedding",)), True),
            ("student + teacher hm", HeadSwap(student, teacher, ("logits_hm",)), True),
            ("student + teacher wh, reg", HeadSwap(student, teacher, ("wh", "reg")), True),
            ("student + teacher tracking", HeadSwap(student, teacher, ("tracking",)), True),
            ("student + teacher hm, wh, reg", HeadSwap(student, teacher, ("logits_hm", "wh", "reg")), True),
            ("teacher + student hm", HeadSwap(teacher, student, ("logits_hm",)), True),
            ("teacher + student wh, reg", HeadSwap(teacher, student, ("wh", "reg")), True)]
    table = {}
    for name, model, use_emb in rows:
        results = {s.name: MOTPipeline(model, tracker, use_embeddings=use_emb).run(s.frames) for s in test}
        report = evaluate_mot({s.name: s.gt for s in test}, results, seq_lengths={s.name: s.num_frames for s in test})
        table[name] = report.combined[METRICS].astype(float).to_dict()
        print(name, {k: round(v, 2) for k, v in table[name].items()}, flush=True)
    df = pd.DataFrame(table).T
    df["HOTA vs student"] = df["HOTA"] - df.loc["student", "HOTA"]
    print(df.round(2).to_markdown())
    if args.json:
        write_text_atomic(args.json, json.dumps({"table": table}, indent=1))


if __name__ == "__main__":
    main()
