"""``kdtrack sdst specialist``: the command that produces each shipped specialised teacher;
``kdtrack sdst check``: score any specialist against the general teacher on held-out sequences."""

from __future__ import annotations

import argparse
import json
import os

from ..cli import add_command, fraction, nonneg_float, nonneg_int, positive_float, positive_int

# ``kdtrack sdst specialist`` flags that override a SpecialistConfig field of the same name
_RECIPE_FLAGS = ("steps", "lr", "train_sequences", "boost", "shift_of_reach", "scale_jitter", "brightness", "wise",
                "on_policy", "search_size")


@add_command
def _sdst(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sdst", help="SDST: fine-tune attribute-specialised SiamFC teachers")
    ssub = p.add_subparsers(dest="sdst_command")
    s = ssub.add_parser("specialist", help="fine-tune the general SOT teacher on one attribute, then check it")
    s.add_argument("--attribute", required=True, help="OCC, FM, IV or SV")
    s.add_argument("--general", required=True, metavar="CKPT", help="the general SOT teacher checkpoint")
    s.add_argument("--out", required=True, help="specialist checkpoint (.pt, float16 weights), written atomically "
                                                "(an existing file is replaced)")
    s.add_argument("--fast", action="store_true", help="FAST profile (same as KDTRACK_FAST=1)")
    s.add_argument("--seed", type=nonneg_int, default=0)
    s.add_argument("--steps", type=positive_int, help="override the fine-tuning steps")
    s.add_argument("--lr", type=positive_float, help="override the peak learning rate")
    s.add_argument("--train-sequences", type=positive_int,
                   help="override the training sequences carrying the attribute")
    s.add_argument("--boost", type=positive_float,
                   help="override how much more often the attribute's frames are drawn")
    s.add_argument("--shift-of-reach", type=nonneg_float, help="largest training shift, share of the map's reach")
    s.add_argument("--scale-jitter", type=nonneg_float, help="scale jitter of the training search crops (log units)")
    s.add_argument("--brightness", type=nonneg_float,
                   help="lighting gain range of the training search crops (log units)")
    s.add_argument("--wise", type=nonneg_float,
                   help="interpolate with the general teacher: general + WISE * (tuned - general)")
    s.add_argument("--on-policy", type=fraction,
                   help="share of pairs cropped where the general teacher's tracker searched")
    s.add_argument("--search-size", type=positive_int, help="training search crop side in pixels (default: the model's)")
    s.add_argument("--device", default="cpu", help="torch device of the fine-tune (cpu, cuda)")
    s.add_argument("--threads", type=positive_int, help="torch CPU threads")
    s.add_argument("--no-check", action="store_true", help="skip the held-out check against the general teacher")

    def run(args: argparse.Namespace) -> None:
        import torch

        from ..checkpoint import load_checkpoint
        from ..fileio import check_writable_file
        from ..runtime import seed_everything
        from .commands import load_family_model
        from .sdst import SpecialistConfig, attribute_sequences, check_specialist, train_specialist

        check_writable_file(args.out, "--out")  # now, not after the fine-tune
        if args.fast:
            os.environ["KDTRACK_FAST"] = "1"
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        seed_everything(args.seed)
        overrides = {k: getattr(args, k) for k in _RECIPE_FLAGS if getattr(args, k) is not None}
        cfg = SpecialistConfig.make(seed=args.seed, **overrides)
        general = load_family_model(args.general, "sot", "--general").eval()
        _, history = train_specialist(general, args.attribute, cfg, checkpoint_path=args.out, device=args.device)
        report = {"checkpoint": args.out, "attribute": args.attribute, "seconds": round(history.seconds, 1)}
        if not args.no_check:
            seqs = attribute_sequences("test", args.attribute, cfg.check_sequences, cfg.check_frames, cfg.seed)
            report["check"] = check_specialist(general, load_checkpoint(args.out).build(), args.attribute, seqs)
        _register_if_shipped(args)
        print(json.dumps(report))

    s.set_defaults(func=run)

    c = ssub.add_parser("check", help="success AUC of a specialist and of the general teacher on the attribute's "
                                      "frames of held-out sequences carrying it")
    c.add_argument("--attribute", required=True, help="OCC, FM, IV or SV")
    c.add_argument("--general", required=True, metavar="CKPT", help="the general SOT teacher checkpoint")
    c.add_argument("--specialist", required=True, metavar="CKPT", help="the specialist checkpoint")
    c.add_argument("--split", default="test", choices=("val", "test"),
                   help="val to choose between candidates, test to report (never choose on test)")
    # range-checked in check(), one message naming both limits
    c.add_argument("--sequences", type=int, default=4, help="sequences carrying the attribute (default 4)")
    c.add_argument("--frames", type=int, default=80)
    c.add_argument("--seed", type=nonneg_int, default=0,
                   help="sequence draw: 0 = the split's first seeds, k = seeds 100 k on")
    c.add_argument("--protocol", choices=("ope", "reset"), default="ope",
                   help="ope: one pass from frame 1 (the shipped tables); reset: VOT re-initialisation after failures")
    c.add_argument("--threads", type=positive_int, help="torch CPU threads")

    def check(args: argparse.Namespace) -> None:
        import torch

        from .commands import load_family_model
        from .sdst import attribute_sequences, check_specialist

        if args.sequences < 1 or args.frames < 2:
            raise SystemExit(f"kdtrack sdst check: --sequences must be >= 1 and --frames >= 2, "
                             f"got {args.sequences} and {args.frames}")
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        general = load_family_model(args.general, "sot", "--general").eval()
        specialist = load_family_model(args.specialist, "sot", "--specialist").eval()
        seqs = attribute_sequences(args.split, args.attribute, args.sequences, args.frames, args.seed)
        result = check_specialist(general, specialist, args.attribute, seqs, args.protocol)
        print(json.dumps({"attribute": args.attribute, "split": args.split, "protocol": args.protocol,
                          "seed": args.seed, **{k: round(v, 2) for k, v in result.items()}}))

    c.set_defaults(func=check)
    p.set_defaults(func=lambda args: p.print_help())


def _register_if_shipped(args: argparse.Namespace) -> None:
    from ..data.samples import register_if_shipped

    register_if_shipped(args.out, ["kdtrack", "sdst", "specialist", "--attribute", args.attribute,
                                   "--general", args.general],
                        [("--seed", args.seed),
                         *((f"--{k.replace('_', '-')}", getattr(args, k)) for k in _RECIPE_FLAGS),
                         ("--device", None if args.device == "cpu" else args.device), ("--threads", args.threads)],
                        fast=args.fast)
