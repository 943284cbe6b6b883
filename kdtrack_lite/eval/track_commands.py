"""``kdtrack track``: run a trained tracker over a benchmark folder and write its results.

MOT: MOTChallenge result files ``<out>/<seq>.txt`` at the resolution on disk, ready for
``kdtrack eval --gt <root> --results <out>``. SOT: one ``<out>/<seq>.txt`` of ``x,y,w,h`` rows
per sequence (the LaSOT/GOT-10k toolkits' format), and the success/precision table printed.

``--out`` is a folder: it is created if missing, and a ``<seq>.txt`` already in it is replaced
atomically (as ``cp`` or ``>`` would); an existing *file* given as ``--out`` is refused before any
tracking, and so is a checkpoint of the other family (a SiamFC given to ``track mot``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import add_command, positive_int


@add_command
def _track(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("track", help="run a checkpoint over a MOTChallenge / LaSOT / GOT-10k folder")
    p.add_argument("family", choices=["mot", "sot"])
    p.add_argument("--checkpoint", required=True, help="a detector (mot) or SiamFC (sot) checkpoint")
    p.add_argument("--data-root", required=True, help="benchmark folder (sequences found below it)")
    p.add_argument("--out", required=True, type=Path,
                   help="folder for <seq>.txt results (created if missing; existing <seq>.txt files are replaced)")
    p.add_argument("--preset", default="mot17", help="MOT input size preset (kdtrack_lite.data.real.MOT_PRESETS)")
    p.add_argument("--max-frames", type=positive_int, help="only the first N frames of each sequence")
    p.add_argument("--device", help="cpu, cuda, mps (default: the best available)")

    def run(args: argparse.Namespace) -> None:
        from ..checkpoint import FAMILY_BUILDERS, load_checkpoint
        from ..data import real
        from ..data.motchallenge import write_mot_results
        from ..fileio import check_writable_folder, write_text_atomic
        from ..runtime import pick_device

        check_writable_folder(args.out, "--out")
        model = load_checkpoint(args.checkpoint, builder=FAMILY_BUILDERS[args.family], arg="--checkpoint").build()
        model = model.to(pick_device(args.device)).eval()
        if args.family == "mot":
            from .mot_protocol import track_sequences

            seqs = real.load_mot_folder(args.data_root, args.preset, args.max_frames)
            for seq in seqs:
                rows = track_sequences(model, [seq])[seq.name]
                write_mot_results(args.out / f"{seq.name}.txt", real.to_original_resolution(rows, seq))
            print(f"wrote {len(seqs)} result files to {args.out}; score them with: "
                  f"kdtrack eval --gt {args.data_root} --results {args.out}")
        else:
            from .sot_protocol import score_sequences, track_sot

            seqs = real.load_sot_folder(args.data_root, max_frames=args.max_frames)
            results = {}
            for seq in seqs:
                scale = seq.meta["original_size"][0] / seq.size[0]
                results[seq.name] = track_sot(model, seq)
                lines = "\n".join(",".join(f"{v:.2f}" for v in box) for box in results[seq.name] * scale)
                write_text_atomic(args.out / f"{seq.name}.txt", lines + "\n")
            report = score_sequences(results, seqs)
            print(report.overall.round(2).to_markdown())
            print(f"wrote {len(seqs)} result files to {args.out}")

    p.set_defaults(func=run)
