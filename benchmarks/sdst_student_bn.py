"""Why response KD wrecks a wider SOT student's tracking: the student's BatchNorm mode.

Each row fine-tunes one student checkpoint for ``--steps`` x ``--batch`` pairs at lr ``--lr`` (the
SDST benchmark's budget, ``benchmarks/sdst.py``) in one way, then tracks the test split (one pass):

* ``alone``: the task loss only;
* ``response KD``: + response KD from the general teacher (softmax over the map, T = 4), no attention transfer;
* ``general KD``: + response KD and attention transfer, the SDST benchmark's "general" variant;
* ``self KD``: response KD from a frozen copy of the student itself: a teacher that knows nothing
  the student does not, so any loss it causes comes from the KD mechanics, not from the teacher;

each with the student's BatchNorm in train mode (batch statistics, the usual) and frozen (running
statistics, ``SDSTStudentConfig.student_bn="frozen"``). Teachers are always in eval mode.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/sdst_student_bn.py --student runs/sot_student_x4.pt \\
        --out runs/student_bn_x4.json
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import TrainConfig
from kdtrack_lite.eval.sot_protocol import evaluate_siamfc
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.sdst import SDSTStudentConfig, train_sdst_student
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split
from sdst import auc_columns  # benchmarks/ is on sys.path when run as a script

# row -> (SDST variant, teacher: "general" or "self", SDSTStudentConfig overrides)
WAYS: dict[str, tuple[str, str, dict]] = {
    "alone": ("alone", "general", {}),
    "response KD": ("general", "general", {"at_beta": 0.0}),
    "general KD": ("general", "general", {}),
    "self KD": ("general", "self", {"at_beta": 0.0}),
    # the per-position Bernoulli form of response KD (SDSTConfig.form), not in the default rows
    "response KD, Bernoulli T=1": ("general", "general", {"at_beta": 0.0, "kd_form": "bernoulli", "temperature": 1.0}),
    "response KD, Bernoulli T=2": ("general", "general", {"at_beta": 0.0, "kd_form": "bernoulli", "temperature": 2.0}),
}
DEFAULT_WAYS = ("alone", "response KD", "general KD", "self KD")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--student", default=str(samples_dir() / "checkpoints" / "sot_student.pt"))
    ap.add_argument("--ways", nargs="*", choices=list(WAYS), default=list(DEFAULT_WAYS),
                    help="none: only score --student as it is (any SiamFC checkpoint, the teacher too)")
    ap.add_argument("--reset-eval", action="store_true", help="also score every row under the VOT reset protocol")
    ap.add_argument("--bn", nargs="+", choices=["train", "frozen"], default=["train", "frozen"])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-sequences", type=int, default=18)
    ap.add_argument("--train-sequences", type=int, help="default: the FULL profile's")
    ap.add_argument("--frames", type=int, help="training and test sequence length (default: the FULL profile's)")
    ap.add_argument("--out", help="JSON of the rows (written atomically)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    general = load_checkpoint(samples_dir() / "checkpoints" / "sot_teacher.pt").build().eval()
    student = load_checkpoint(args.student).build().float().eval()
    sizes = {k: v for k, v in (("test_sequences", args.test_sequences), ("train_sequences", args.train_sequences),
                               ("num_frames", args.frames), ("train_frames", args.frames)) if v}
    data_cfg = SOTDataConfig.make("full", **sizes)
    train_seqs, test_seqs = make_sot_split("train", data_cfg), make_sot_split("test", data_cfg)

    def score(model) -> dict[str, float]:
        row = auc_columns(evaluate_siamfc(model.eval(), test_seqs))
        if args.reset_eval:
            row.update(auc_columns(evaluate_siamfc(model.eval(), test_seqs, protocol="reset"), "reset "))
        return {k: round(v, 2) for k, v in row.items()}

    rows = [{"way": "start", "bn": "-", **score(student)}]
    print(json.dumps(rows[-1]), flush=True)
    for bn in args.bn:
        for way in args.ways:
            variant, teacher, overrides = WAYS[way]
            t0 = time.perf_counter()
            cfg = TrainConfig.make("full", epochs=1, steps_per_epoch=args.steps, lr=args.lr, patience=0,
                                   warmup_steps=10, seed=args.seed)
            model, _ = train_sdst_student(variant, student, copy.deepcopy(student) if teacher == "self" else general,
                                          {}, train_seqs, cfg, args.batch,
                                          cfg=SDSTStudentConfig(student_bn=bn, **overrides))
            rows.append({"way": way, "bn": bn, **score(model), "seconds": round(time.perf_counter() - t0, 1)})
            print(json.dumps(rows[-1]), flush=True)
    if args.out:
        write_text_atomic(args.out, json.dumps({"rows": rows, "args": vars(args)}, indent=1))


if __name__ == "__main__":
    main()
