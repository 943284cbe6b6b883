"""Teacher vs student baselines on held-out test sequences: accuracy, speed, size.

Usage (repository root)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/baselines.py \
        --mot-teacher data_samples/checkpoints/mot_teacher.pt --mot-student data_samples/checkpoints/mot_student.pt \
        --sot-teacher data_samples/checkpoints/sot_teacher.pt --sot-student data_samples/checkpoints/sot_student.pt \
        --json runs/baselines.json

``--only sot`` (or ``--only mot``) runs one family and needs only that family's checkpoints.

Accuracy: the MOT test split (``MOTDataConfig``, FULL profile: 4 scenes x 150 frames) through the
online pipeline, HOTA/MOTA/IDF1 by trackeval/motmetrics; the SOT test split (18 sequences x 120
frames, every attribute covered) through ``SiamFCTracker``, success AUC / precision overall and
per attribute. Speed: batch 1 on this CPU, teacher and student interleaved in one run
(``compare_models``, Conv+BN folded in both); MOT pipeline FPS = frames / wall time of the full online tracker.
``--threads N`` sets torch's CPU threads (default: torch's choice, 2 on the 2-core machine); on this
machine both detectors are fastest with one thread, and the small networks' two-thread ratios vary
a lot between runs (RESULTS.md, teacher and student baselines).
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.benchmark import mot_benchmark, sot_benchmark
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.runtime import machine_summary
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split


def mot_table(teacher, student, profile: str) -> tuple[pd.DataFrame, dict]:
    seqs = make_mot_split("test", MOTDataConfig.make(profile))
    table = mot_benchmark({"teacher": teacher, "student": student}, seqs)
    return table, {"test_sequences": [s.name for s in seqs], "frames": sum(s.num_frames for s in seqs)}


def sot_table(teacher, student, profile: str, count: int | None = None,
              first: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``count`` test sequences (default: the profile's split), of which those from index ``first`` on
    are scored: ``first=18, count=54`` scores 36 sequences that the 18-sequence split never showed."""
    cfg = SOTDataConfig.make(profile, **({"test_sequences": count} if count else {}))
    seqs = make_sot_split("test", cfg)[first:]
    if not seqs:
        raise ValueError(f"--sot-test-from {first} leaves no sequence of the {cfg.test_sequences} in the test split")
    return sot_benchmark({"teacher": teacher, "student": student}, seqs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k in ("mot-teacher", "mot-student", "sot-teacher", "sot-student"):
        p.add_argument(f"--{k}")
    p.add_argument("--only", choices=["mot", "sot"], help="run one family only (default: both)")
    p.add_argument("--profile", default="full", choices=["fast", "full"])
    p.add_argument("--json", help="also write the tables as JSON (atomic)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--sot-test-sequences", type=int, help="SOT test split size (default: the profile's, 18 in FULL)")
    p.add_argument("--sot-test-from", type=int, default=0,
                   help="score the SOT test sequences from this index on (an independent draw of new sequences)")
    args = p.parse_args()
    families = [args.only] if args.only else ["mot", "sot"]
    for family in families:
        for role in ("teacher", "student"):
            if not getattr(args, f"{family}_{role}"):
                p.error(f"--{family}-{role} is required" + ("" if args.only else " (or run --only the other family)"))
    if args.threads is not None:
        if args.threads < 1:
            p.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    load = lambda path: load_checkpoint(path).build().eval()  # noqa: E731
    out = {"threads": torch.get_num_threads(), "machine": machine_summary()}
    print(f"torch threads: {out['threads']}; CPU: {out['machine']['cpu']}, {out['machine']['cores']} cores")
    if "mot" in families:
        mot, mot_extra = mot_table(load(args.mot_teacher), load(args.mot_student), args.profile)
        print("## MOT (CenterTrack detector + tracker), held-out test scenes\n")
        print(mot.round(2).to_markdown())
        out.update(mot=mot.to_dict(), mot_extra=mot_extra)
    if "sot" in families:
        sot, attrs = sot_table(load(args.sot_teacher), load(args.sot_student), args.profile,
                                args.sot_test_sequences, args.sot_test_from)
        print(f"\n## SOT (SiamFC), held-out test sequences (from index {args.sot_test_from})\n")
        print(sot.round(2).to_markdown())
        print("\n### SOT success AUC per attribute\n")
        print(attrs.round(1).to_markdown())
        out.update(sot=sot.to_dict(), sot_attributes=attrs.to_dict())
    if args.json:
        write_text_atomic(args.json, json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
