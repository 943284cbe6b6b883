"""``kdtrack train``: the commands that produce every shipped checkpoint."""

from __future__ import annotations

import argparse
import json
import os

from ..cli import add_command


@add_command
def _train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a teacher or student baseline (MOT detector or SiamFC)")
    p.add_argument("family", choices=["mot", "sot"], help="mot = CenterTrack detector, sot = SiamFC")
    p.add_argument("--role", choices=["teacher", "student"], required=True)
    p.add_argument("--out", required=True, help="checkpoint path (.pt), written atomically")
    p.add_argument("--fast", action="store_true", help="FAST profile (same as KDTRACK_FAST=1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="override the profile's number of epochs")
    p.add_argument("--steps", type=int, help="override the profile's steps per epoch")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--init", metavar="CKPT", help="start from this checkpoint's weights (continued training)")
    p.add_argument("--train-sequences", type=int, help="override the number of training sequences")

    def run(args: argparse.Namespace) -> None:
        import logging

        import torch

        from ..runtime import seed_everything

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

        if args.fast:
            os.environ["KDTRACK_FAST"] = "1"
        if args.threads:
            torch.set_num_threads(args.threads)
        seed_everything(args.seed)
        overrides = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps)) if v}
        data_overrides = {"train_sequences": args.train_sequences} if args.train_sequences else {}
        init = None
        if args.init:
            from ..checkpoint import load_checkpoint

            init = load_checkpoint(args.init).build()
        if args.family == "mot":
            from .mot import MOTDataConfig, mot_train_config, train_mot_detector

            _, history = train_mot_detector(args.role, MOTDataConfig.make(**data_overrides),
                                            mot_train_config(seed=args.seed, **overrides),
                                            checkpoint_path=args.out, init_from=init)
        else:
            from .sot import SOTDataConfig, sot_train_config, train_siamfc

            _, history = train_siamfc(args.role, SOTDataConfig.make(**data_overrides),
                                      sot_train_config(seed=args.seed, **overrides), checkpoint_path=args.out,
                                      init_from=init)
        _register_if_shipped(args)
        print(json.dumps({"checkpoint": args.out, "best_val": history.best_metric,
                          "best_epoch": history.best_epoch, "seconds": round(history.seconds, 1)}))

    p.set_defaults(func=run)


def _register_if_shipped(args: argparse.Namespace) -> None:
    """A checkpoint written into data_samples/ is listed in its MANIFEST.json with this command."""
    from pathlib import Path

    from ..data.samples import register_checkpoint
    from ..paths import samples_dir

    try:
        root = samples_dir().resolve()
    except FileNotFoundError:
        return
    out = Path(args.out).resolve()
    if root not in out.parents:
        return
    parts = ["kdtrack", "train", args.family, "--role", args.role, "--out", f"data_samples/{out.relative_to(root).as_posix()}"]
    # threads change float summation order, so they are part of an exact regeneration command
    for flag, value in (("--seed", args.seed), ("--epochs", args.epochs), ("--steps", args.steps),
                        ("--threads", args.threads), ("--train-sequences", args.train_sequences),
                        ("--init", args.init)):
        if value is not None and not (flag == "--seed" and value == 0):
            parts += [flag, str(value)]
    if args.fast:
        parts.append("--fast")
    register_checkpoint(out, " ".join(parts), root)
