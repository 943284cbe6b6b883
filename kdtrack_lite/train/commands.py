"""``kdtrack train``: the commands that produce every shipped checkpoint."""

from __future__ import annotations

import argparse
import json
import os

from ..cli import add_command, nonneg_float, nonneg_int, positive_float, positive_int


# the presets of DetectorConfig and SiamFCConfig, named here so that the CLI starts without importing torch
MOT_ARCHS = ("teacher", "student", "student_x2", "student_x3", "student_m")
SOT_ARCHS = ("teacher", "student", "student_x2", "student_x4")


@add_command
def _train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a teacher or student baseline (MOT detector or SiamFC)")
    p.add_argument("family", choices=["mot", "sot"], help="mot = CenterTrack detector, sot = SiamFC")
    p.add_argument("--role", choices=["teacher", "student"], required=True)
    p.add_argument("--arch", choices=sorted(set(MOT_ARCHS + SOT_ARCHS)),
                   help="the model preset (default: the role's); student_xN = N times the student's widths "
                        "(mot: x2, x3; sot: x2, x4); mot's student_m = student_x3's backbone with student_x2's "
                        "neck and head")
    p.add_argument("--out", required=True,
                   help="checkpoint path (.pt), written atomically (an existing file is replaced)")
    p.add_argument("--fast", action="store_true", help="FAST profile (same as KDTRACK_FAST=1)")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--epochs", type=positive_int, help="override the profile's number of epochs")
    p.add_argument("--steps", type=positive_int, help="override the profile's steps per epoch")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--init", metavar="CKPT", help="start from this checkpoint's weights (continued training)")
    p.add_argument("--train-sequences", type=positive_int, help="override the number of training sequences")
    p.add_argument("--world", choices=("street", "mixed"),
                   help="mot only: the scene presets the synthetic splits cycle through (default: MOTDataConfig's; "
                        "mixed = street, near and crossing scenes, data.mot_synth.WORLDS)")
    p.add_argument("--val-sequences", type=positive_int,
                   help="override the number of validation sequences (checkpoint selection; more = less noisy)")
    p.add_argument("--lr", type=positive_float, help="override the recipe's peak learning rate")
    p.add_argument("--input-norm", choices=["none", "crop"],
                   help="sot only: SiamFCConfig.input_norm (crop = per-crop standardisation; default: the preset's)")
    p.add_argument("--shift-of-reach", type=nonneg_float,
                   help="sot only: largest training shift of the target, as a share of the response map's reach "
                        "(default 0.5)")
    p.add_argument("--search-size", type=positive_int,
                   help="sot only: SiamFCConfig.search_size, the training search crop's side in pixels (default: "
                        "the preset's 128; the tracker searches 1.25x it); search - template must be a multiple "
                        "of the stride (8)")
    p.add_argument("--resume", action="store_true",
                   help="keep <out>.resume after every epoch and continue from it if it exists (a resume file "
                        "written with other options or another architecture is refused, naming what differs)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: $KDTRACK_DEVICE, else the best available)")
    p.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off", help="mixed precision (GPU path)")
    p.add_argument("--compile", action="store_true", help="torch.compile the student")
    p.add_argument("--workers", type=nonneg_int, default=0, help="DataLoader worker processes")
    p.add_argument("--data-root", help="train on a real benchmark folder (MOTChallenge for mot, LaSOT/GOT-10k "
                   "for sot) instead of the synthetic split")
    p.add_argument("--val-root", help="validation folder (default: the last sequence of --data-root)")
    p.add_argument("--preset", default="mot17", help="MOT input size preset for --data-root (mot15, mot17, mot20)")
    p.add_argument("--max-frames", type=positive_int,
                   help="with --data-root: only the first N frames of each sequence")

    def run(args: argparse.Namespace) -> None:
        if args.family == "mot" and not all(v is None for v in (args.input_norm, args.shift_of_reach,
                                                                 args.search_size)):
            raise ValueError("--input-norm, --shift-of-reach and --search-size are SiamFC (sot) options")
        if args.family == "sot" and args.world is not None:
            raise ValueError("--world is a MOT option (the synthetic MOT scene presets)")
        known = SOT_ARCHS if args.family == "sot" else MOT_ARCHS
        if args.arch and args.arch not in known:
            raise ValueError(f"--arch {args.arch} is not a {args.family} preset; {args.family} has {', '.join(known)}")
        if args.arch and args.init:
            raise ValueError("--arch and --init both set the architecture; give one (--init keeps its checkpoint's)")
        from ..fileio import check_writable_file

        check_writable_file(args.out, "--out")  # now, not after the first epoch
        import logging

        import torch

        from ..distributed import device_for_rank, init_from_env, is_main_process, shutdown
        from ..runtime import pick_device, seed_everything

        distributed = init_from_env()  # a no-op unless launched by torchrun with several processes
        logging.basicConfig(level=logging.INFO if is_main_process() else logging.WARNING,
                            format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
        if args.fast:
            os.environ["KDTRACK_FAST"] = "1"
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        seed_everything(args.seed)
        device = device_for_rank() or pick_device(args.device)
        overrides = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps), ("lr", args.lr))
                     if v is not None}
        overrides.update(amp=args.amp, compile=args.compile)
        data_overrides = {k: v for k, v in (("train_sequences", args.train_sequences),
                                            ("val_sequences", args.val_sequences)) if v is not None}
        world = {} if args.world is None else {"world": args.world}
        init_from = None if args.init is None else load_family_model(args.init, args.family, "--init")
        common = dict(checkpoint_path=args.out, init_from=init_from, device=device,
                      resume=args.resume, num_workers=args.workers, **sequences_from_args(args))
        if args.family == "mot":
            from ..models.centertrack import DetectorConfig
            from .mot import MOTDataConfig, mot_train_config, train_mot_detector

            _, history = train_mot_detector(args.role, MOTDataConfig.make(**data_overrides, **world),
                                            mot_train_config(seed=args.seed, **overrides),
                                            detector_cfg=DetectorConfig.preset(args.arch) if args.arch else None,
                                            **common)
        else:
            from .sot import SOTDataConfig, sot_train_config, train_siamfc

            from ..models.siamfc import SiamFCConfig

            model_cfg = SiamFCConfig.preset(args.arch or args.role, **{
                k: v for k, v in (("input_norm", args.input_norm), ("search_size", args.search_size))
                if v is not None})
            shift = {} if args.shift_of_reach is None else {"shift_of_reach": args.shift_of_reach}
            _, history = train_siamfc(args.role, SOTDataConfig.make(**data_overrides),
                                      sot_train_config(seed=args.seed, **overrides), model_cfg=model_cfg,
                                      **shift, **common)
        if is_main_process():
            _register_if_shipped(args)
            print(json.dumps({"checkpoint": args.out, "best_val": history.best_metric,
                              "best_epoch": history.best_epoch, "seconds": round(history.seconds, 1),
                              "processes": int(os.environ.get("WORLD_SIZE", "1")) if distributed else 1}))
        shutdown()

    p.set_defaults(func=run)


def sequences_from_args(args: argparse.Namespace) -> dict:
    """``train_sequences`` / ``val_sequences`` read from ``--data-root`` / ``--val-root`` (or nothing)."""
    if not args.data_root:
        if args.val_root:
            raise ValueError("--val-root needs --data-root")
        return {}
    from ..data import real

    if args.family == "mot":
        def load(root):
            return real.load_mot_folder(root, args.preset, args.max_frames)
        learn = real.training_view
    else:
        def load(root):
            return real.load_sot_folder(root, max_frames=args.max_frames)
        def learn(seq):
            return seq
    seqs = load(args.data_root)
    if args.val_root:
        return {"train_sequences": [learn(s) for s in seqs], "val_sequences": load(args.val_root)}
    if len(seqs) < 2:
        raise ValueError(f"--data-root {args.data_root} has {len(seqs)} sequence(s): give --val-root, or a folder "
                         "with at least two sequences (the last one is held out for validation)")
    return {"train_sequences": [learn(s) for s in seqs[:-1]], "val_sequences": seqs[-1:]}


def load_family_model(path: str, family: str, arg: str):
    """The model in checkpoint ``path``, refused unless it is of ``family`` ("mot" or "sot");
    errors name ``arg``, the file and the expected and found families."""
    from ..checkpoint import FAMILY_BUILDERS, load_checkpoint

    return load_checkpoint(path, builder=FAMILY_BUILDERS[family], arg=arg).build()


def _register_if_shipped(args: argparse.Namespace) -> None:
    """A checkpoint written into data_samples/ is listed in its MANIFEST.json with this command."""
    from ..data.samples import register_if_shipped

    if args.data_root:
        return  # shipped checkpoints come from the synthetic data only
    register_if_shipped(args.out, ["kdtrack", "train", args.family, "--role", args.role],
                        [("--seed", args.seed), ("--epochs", args.epochs), ("--steps", args.steps),
                         ("--threads", args.threads), ("--train-sequences", args.train_sequences),
                         ("--val-sequences", args.val_sequences), ("--world", args.world), ("--lr", args.lr), ("--input-norm", args.input_norm),
                         ("--search-size", args.search_size), ("--shift-of-reach", args.shift_of_reach),
                         ("--init", args.init), ("--arch", args.arch)],
                        fast=args.fast)
