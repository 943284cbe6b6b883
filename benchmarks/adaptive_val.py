"""Choose the adaptive schedule's thresholds on VALIDATION scenes (never on test).

Every candidate :class:`~kdtrack_lite.track.schedules.AdaptiveConfig` and the fixed schedules
k in {2, 3, 4, 6, 8} run on the same validation scenes in one
:func:`~kdtrack_lite.eval.interleaved.evaluate_variants` call (shipped teacher and student); each
candidate is scored by :func:`~kdtrack_lite.eval.interleaved.frontier_gain` (HOTA minus the fixed
frontier at its number of teacher calls). Prints the table and the best candidate.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/adaptive_val.py \
        --val-sequences 8 --json runs/adaptive_val.json            # --grid unclaimed: the new-object signal
                                                                   # --grid overlap: tracks closing in
                                                                   # --coast 3: carry teacher tracks 3 frames
                                                                   # --oracle: ground-truth oracles
                                                                   # --gaps: errors by frames since a teacher call
"""

from __future__ import annotations

import argparse
import itertools
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.data.degrade import DegradationConfig, degrade_sequence
from kdtrack_lite.eval.interleaved import Variant, errors_by_gap, evaluate_variants, frontier_gain, oracle_schedules
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.track.interleaved import InterleavedConfig
from kdtrack_lite.track.schedules import AdaptiveConfig, AdaptiveSchedule, FixedSchedule
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split

FIXED_K = (2, 3, 4, 6, 8)
GRIDS = {
    # the confidence/consistency thresholds around the shipped defaults
    "thresholds": {"max_gap": (4, 6, 8), "min_consistency": (0.6, 0.75, 0.9), "min_confidence_ratio": (0.8, 0.9)},
    # the "unclaimed detections" signal (possible new objects) on top of the defaults; None = off
    "unclaimed": {"max_gap": (6, 8), "max_unclaimed": (None, 1, 2, 3)},
    # the shipped defaults alone (e.g. beside --oracle)
    "defaults": {"max_gap": (8,)},
    # the forward-looking "tracks closing in" signal on top of the defaults; None = off
    "overlap": {"max_overlap": (None, 0.05, 0.15, 0.3, 0.5)},
}


def add_pair_args(ap: argparse.ArgumentParser) -> None:
    """The checkpoint and validation-size options shared by the validation scripts."""
    ap.add_argument("--teacher", default="data_samples/checkpoints/mot_teacher.pt")
    ap.add_argument("--student", default="data_samples/checkpoints/mot_student.pt")
    ap.add_argument("--val-sequences", type=int, default=8)
    ap.add_argument("--degrade", default=None,
                    help="degrade every scene with this kdtrack_lite.data.degrade spec, e.g. bursts of blur and noise")


def degrade_all(seqs: list, spec: str | None, seed: int) -> list:
    """``seqs`` degraded by ``spec`` (:mod:`kdtrack_lite.data.degrade`; scene ``i`` uses seed
    ``1000 * seed + i``), or unchanged when ``spec`` is ``None``."""
    if spec is None:
        return seqs
    return [degrade_sequence(s, DegradationConfig(spec), 1000 * seed + i) for i, s in enumerate(seqs)]


def load_pair_and_val(args) -> tuple:
    """One torch thread; the teacher and student in eval mode and the first ``args.val_sequences``
    FULL validation scenes (data seed 0), degraded by ``args.degrade`` if given."""
    torch.set_num_threads(1)
    teacher = load_checkpoint(args.teacher).build().eval()
    student = load_checkpoint(args.student).build().eval()
    seqs = make_mot_split("val", MOTDataConfig.make("full", seed=0, val_sequences=args.val_sequences))
    return teacher, student, degrade_all(seqs, args.degrade, 0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_pair_args(ap)
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--grid", default="thresholds", choices=sorted(GRIDS))
    ap.add_argument("--coast", type=int, default=0, help="InterleavedConfig.coast of every variant, fixed ones too")
    ap.add_argument("--oracle", action="store_true",
                    help="add the ground-truth oracles (eval.interleaved.oracle_schedules): "
                         "the room any event- or error-triggered schedule has (analysis only)")
    ap.add_argument("--gaps", action="store_true",
                    help="also print errors per frame against frames since the last teacher call (errors_by_gap) "
                         "for the fixed schedules")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    teacher, student, seqs = load_pair_and_val(args)
    pipe = InterleavedConfig(coast=args.coast)
    variants = {f"k={k}": Variant(FixedSchedule(k), pipe) for k in FIXED_K}
    configs = {}
    grid = GRIDS[args.grid]
    for values in itertools.product(*grid.values()):
        cfg = AdaptiveConfig(budget=args.budget, **dict(zip(grid, values)))
        name = "adaptive " + " ".join(f"{k}={v}" for k, v in zip(grid, values))
        configs[name], variants[name] = cfg.to_dict(), Variant(AdaptiveSchedule(cfg), pipe)
    if args.oracle:
        for name, schedule in oracle_schedules(args.budget).items():
            configs[name], variants[name] = schedule.cfg.to_dict(), Variant(schedule, pipe)
    res = evaluate_variants(teacher, student, seqs, variants)
    table = res.table[["HOTA", "IDF1", "teacher_calls"]].copy()
    fixed = [f"k={k}" for k in FIXED_K]
    table["frontier_gain"] = [frontier_gain(res.table, n, fixed) if n in configs else 0.0 for n in table.index]
    print(table.round(2).to_markdown())
    best = table.loc[[n for n in configs if not n.startswith("oracle")], "frontier_gain"].idxmax()
    print(f"\nbest on validation: {best} (gain {table.loc[best, 'frontier_gain']:+.2f} HOTA at "
          f"{table.loc[best, 'teacher_calls']:.0f} calls)")
    gaps = {}
    if args.gaps:
        for n in fixed:
            gaps[n] = errors_by_gap(seqs, res.results[n], res.timelines[n])
            print(f"\n{n}: errors per frame by frames since the last teacher call\n{gaps[n].round(3).to_markdown()}")
    if args.json:
        write_text_atomic(args.json, json.dumps({"args": vars(args), "table": table.reset_index().to_dict("records"),
                                                 "configs": configs, "best": best,
                                                 "errors_by_gap": {n: g.reset_index().to_dict("records")
                                                                   for n, g in gaps.items()}}, indent=1))


if __name__ == "__main__":
    main()
