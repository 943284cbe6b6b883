"""Choose the interleaved pipeline's student-frame settings on VALIDATION scenes (never on test).

At k = 4 (shipped teacher and student), one :func:`~kdtrack_lite.eval.interleaved.evaluate_variants`
call runs teacher-only and every combination of
:class:`~kdtrack_lite.track.interleaved.InterleavedConfig` ``student_high_score`` (``None`` = the
tracker's own ``high_score``) x ``student_births`` x ``student_keeps_tentative``, plus ``coast`` for
the best of those. Prints
HOTA, DetA, AssA, FP, FN, IDF1, MOTA and the share of teacher-only HOTA kept, then the best setting
by HOTA.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/interleaved_val.py \
        --val-sequences 8 --json runs/interleaved_val.json
"""

from __future__ import annotations

import argparse
import itertools
import json

from dataclasses import replace

from adaptive_val import add_pair_args, load_pair_and_val  # benchmarks/ is on sys.path when run as a script
from kdtrack_lite.eval.interleaved import Variant, evaluate_variants
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.track.interleaved import InterleavedConfig
from kdtrack_lite.track.schedules import FixedSchedule

HIGH_SCORES = (None, 0.25, 0.3, 0.35, 0.4)
COLUMNS = ["HOTA", "DetA", "AssA", "FP", "FN", "IDF1", "MOTA", "kept"]


def label(high: float | None, births: bool, keep: bool, coast: int = 0) -> str:
    text = f"k=4 student_high_score={high} births={'on' if births else 'off'} keeps_tentative={'on' if keep else 'off'}"
    return text + (f" coast={coast}" if coast else "")


def scored(res):
    """The sweep's table with DetA, AssA, FP and FN of each variant's combined report added."""
    table = res.table.copy()
    for col in ("DetA", "AssA", "FP", "FN"):
        table[col] = [float(res.reports[n].combined[col]) for n in table.index]
    return table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_pair_args(ap)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--coast", type=int, default=3, help="coast tried on top of the best threshold setting")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    teacher, student, seqs = load_pair_and_val(args)
    configs = {label(h, b, keep): InterleavedConfig(student_high_score=h, student_births=b, student_keeps_tentative=keep,
                                                    coast=0)
               for h, b, keep in itertools.product(HIGH_SCORES, (False, True), (False, True))}
    variants = {"teacher only": Variant(FixedSchedule(1))}
    variants.update({n: Variant(FixedSchedule(args.k), c) for n, c in configs.items()})
    table = scored(evaluate_variants(teacher, student, seqs, variants))
    teacher_hota = table.loc["teacher only", "HOTA"]
    table["kept"] = table["HOTA"] / teacher_hota
    best = table.loc[list(configs), "HOTA"].idxmax()
    # coasting on top of the best setting (the same scenes; teacher-only is deterministic, so not re-run)
    chosen = replace(configs[best], coast=args.coast)
    name = label(chosen.student_high_score, chosen.student_births, chosen.student_keeps_tentative, args.coast)
    extra = scored(evaluate_variants(teacher, student, seqs, {name: Variant(FixedSchedule(args.k), chosen)}))
    extra["kept"] = extra["HOTA"] / teacher_hota
    out = table[COLUMNS].copy()
    out.loc[extra.index[0]] = extra.iloc[0][COLUMNS]
    print(out.round(3).to_markdown())
    print(f"\nbest threshold setting on validation (HOTA): {best} ({table.loc[best, 'HOTA']:.2f}, "
          f"{100 * table.loc[best, 'kept']:.1f} % of teacher-only)")
    if args.json:
        write_text_atomic(args.json, json.dumps({"args": vars(args), "best": best,
                                                 "table": out.reset_index().to_dict("records")}, indent=1))


if __name__ == "__main__":
    main()
