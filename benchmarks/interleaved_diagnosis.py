"""What limits interleaved inference at k = 4? Three checks on VALIDATION scenes (never test).

1. ``k=4 blind student``: the student frames detect nothing, so the output there is the teacher's
   last tracks moved by the Kalman model (``coast``): what the student adds over pure motion.
2. ``k=4 teacher as student``: the *teacher* also runs on the student frames, under the
   student-frame rules of :class:`~kdtrack_lite.track.interleaved.InterleavedConfig`; the HOTA it
   loses against teacher-only is what the rules and the propagated prior cost with a perfect
   student, and each rule is switched back to the plain tracker's behaviour one at a time.
3. ``--student2`` (e.g. a distilled student): k in {2, 4, 8} with it next to the shipped student.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/interleaved_diagnosis.py \
        --val-sequences 8 --student2 runs/mot_student_kd.pt --json runs/interleaved_diagnosis.json
"""

from __future__ import annotations

import argparse
import json

import torch
from torch import nn

from adaptive_val import add_pair_args, load_pair_and_val  # benchmarks/ is on sys.path when run as a script
from interleaved_val import scored
from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.interleaved import Variant, evaluate_variants
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.track.interleaved import InterleavedConfig
from kdtrack_lite.track.schedules import FixedSchedule

COLUMNS = ["HOTA", "DetA", "AssA", "IDF1", "MOTA", "FP", "FN", "teacher_calls", "kept"]


class Blind(nn.Module):
    """A detector wrapper whose heatmap finds nothing (every logit -20)."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, image, prev_image=None, prior_hm=None):
        out = dict(self.detector(image, prev_image, prior_hm))
        out["logits_hm"] = torch.full_like(out["logits_hm"], -20.0)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_pair_args(ap)
    ap.add_argument("--student2", help="a second student checkpoint compared at k in {2, 4, 8}")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    teacher, student, seqs = load_pair_and_val(args)
    k4 = FixedSchedule(4)
    plain = dict(embeddings="both", student_births=True, coast=0, prior_source="own", student_keeps_tentative=False)
    variants = {"teacher only": Variant(FixedSchedule(1)), "k=4": Variant(k4),
                "k=4 blind student (teacher + Kalman)": Variant(k4, student=Blind(student)),
                "k=4 teacher as student": Variant(k4, student=teacher)}
    for name, change in (("embeddings both", dict(embeddings="both")), ("births on", dict(student_births=True)),
                         ("coast 0", dict(coast=0)), ("prior own", dict(prior_source="own")),
                         ("every rule plain", plain)):
        variants[f"k=4 teacher as student, {name}"] = Variant(k4, InterleavedConfig(**change), student=teacher)
    if args.student2:
        other = load_checkpoint(args.student2).build().eval()
        for k in (2, 4, 8):
            variants.setdefault(f"k={k}", Variant(FixedSchedule(k)))
            variants[f"k={k} student2"] = Variant(FixedSchedule(k), student=other)
    table = scored(evaluate_variants(teacher, student, seqs, variants))
    table["kept"] = table["HOTA"] / table.loc["teacher only", "HOTA"]
    print(table[COLUMNS].round(3).to_markdown())
    if args.json:
        write_text_atomic(args.json, json.dumps({"args": vars(args),
                                                 "table": table[COLUMNS].reset_index().to_dict("records")}, indent=1))


if __name__ == "__main__":
    main()
