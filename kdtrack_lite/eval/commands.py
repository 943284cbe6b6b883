"""``kdtrack eval``: score MOTChallenge results from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import add_command, open_fraction
from ..fileio import check_writable_file, write_text_atomic


@add_command
def _eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="MOT metrics (HOTA, MOTA, IDF1, ...) of MOTChallenge result files")
    p.add_argument("--gt", required=True, help="gt.txt, a <seq>/ folder or a benchmark folder of <seq>/gt/gt.txt")
    p.add_argument("--results", required=True, help="<seq>.txt or a folder of them")
    p.add_argument("--iou", type=open_fraction, default=0.5, help="IoU threshold for CLEAR/ID metrics, in (0, 1] "
                   "(default 0.5)")
    p.add_argument("--out", type=Path, default=None, help="also write the table (.md or .csv)")

    def run(args: argparse.Namespace) -> None:
        from .mot import evaluate_mot

        if args.out is not None:
            check_writable_file(args.out, "--out")  # before the evaluation, not after it
        report = evaluate_mot(args.gt, args.results, iou_threshold=args.iou)
        text = report.to_markdown()
        print(text)
        if args.out is not None:
            body = report.table.to_csv() if args.out.suffix == ".csv" else text + "\n"
            write_text_atomic(args.out, body)

    p.set_defaults(func=run)
