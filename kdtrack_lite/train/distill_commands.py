"""``kdtrack distill``: train a student with named distillation losses (a fine-tune of the shipped student,
or from scratch with ``--from-scratch ARCH``)."""

from __future__ import annotations

import argparse
import json
import os

from ..cli import add_command, nonneg_float, nonneg_int, positive_float, positive_int


@add_command
def _distill(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="fine-tune the shipped student with distillation losses (hint, at, kd)")
    p.add_argument("family", choices=["mot"], help="mot = CenterTrack detector (AttTrack feature learning)")
    p.add_argument("--losses", required=True,
                   help="comma list of hint, at, kd, or 'none' (the student alone, at the same budget)")
    p.add_argument("--out", required=True,
                   help="checkpoint path (.pt), written atomically (an existing file is replaced)")
    p.add_argument("--teacher", help="teacher checkpoint (default: data_samples/checkpoints/mot_teacher.pt)")
    p.add_argument("--student", help="starting student checkpoint (default: data_samples/checkpoints/mot_student.pt)")
    p.add_argument("--from-scratch", metavar="ARCH", choices=["student", "student_x2", "student_x3", "student_m"],
                   help="train a fresh student of this preset (initialised from --seed) instead of fine-tuning "
                        "--student; the budget is then the full training recipe's")
    p.add_argument("--fast", action="store_true", help="FAST profile (same as KDTRACK_FAST=1)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="training seed (batch order, adapter init)")
    p.add_argument("--epochs", type=positive_int, help="override the profile's number of epochs")
    p.add_argument("--steps", type=positive_int, help="override the profile's steps per epoch")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--lr", type=positive_float, help="override the profile's learning rate (5e-4 fine-tunes gently)")
    p.add_argument("--train-sequences", type=positive_int, help="override the profile's training scenes")
    p.add_argument("--world", choices=("street", "mixed"),
                   help="the scene presets the synthetic splits cycle through (default: MOTDataConfig's; "
                        "mixed = street, near and crossing scenes, data.mot_synth.WORLDS)")
    p.add_argument("--val-sequences", type=positive_int,
                   help="override the profile's validation scenes (early stopping)")
    p.add_argument("--at-beta", type=nonneg_float, help="override MOTDistillConfig.at_beta")
    p.add_argument("--hint-weight", type=nonneg_float, help="override MOTDistillConfig.hint_weight")
    p.add_argument("--kd-weight", type=nonneg_float, help="override MOTDistillConfig.kd_weight (heatmap KD)")
    p.add_argument("--kd-temperature", type=positive_float, help="override MOTDistillConfig.kd_temperature")
    p.add_argument("--kd-reg-weight", type=nonneg_float,
                   help="override MOTDistillConfig.kd_reg_weight (wh/reg/tracking KD)")
    p.add_argument("--hint-region", choices=("all", "objects"),
                   help="where hints imitate: the whole map or the ground-truth boxes (MOTDistillConfig.hint_region)")
    p.add_argument("--at-region", choices=("all", "objects"),
                   help="where attention maps are compared (MOTDistillConfig.at_region)")
    p.add_argument("--resume", action="store_true",
                   help="keep <out>.resume after every epoch and continue from it if it exists (a resume file "
                        "written with other options or another architecture is refused, naming what differs)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: $KDTRACK_DEVICE, else the best available)")
    p.add_argument("--workers", type=nonneg_int, default=0, help="DataLoader worker processes")
    p.add_argument("--data-root", help="distil on a real MOTChallenge folder instead of the synthetic split")
    p.add_argument("--val-root", help="validation folder (default: the last sequence of --data-root)")
    p.add_argument("--preset", default="mot17", help="MOT input size preset for --data-root (mot15, mot17, mot20)")
    p.add_argument("--max-frames", type=positive_int,
                   help="with --data-root: only the first N frames of each sequence")

    def run(args: argparse.Namespace) -> None:
        import torch

        from ..distributed import device_for_rank, init_from_env, is_main_process, shutdown
        from ..fileio import check_writable_file
        from ..runtime import pick_device, seed_everything
        from .commands import load_family_model, sequences_from_args
        from .distill_mot import (MOTDistillConfig, distill_mot_student, fresh_student, loss_label,
                                  mot_finetune_config, parse_losses, shipped_detector)
        from .mot import MOTDataConfig, mot_train_config

        names = parse_losses(args.losses)
        check_writable_file(args.out, "--out")  # now, not after the first epoch
        init_from_env()  # several processes under torchrun (DDP), else a no-op
        if args.fast:
            os.environ["KDTRACK_FAST"] = "1"
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        seed_everything(args.seed)
        teacher = None if args.teacher is None else load_family_model(args.teacher, "mot", "--teacher").eval()
        student = None if args.student is None else load_family_model(args.student, "mot", "--student").eval()
        if args.from_scratch and args.student:
            raise ValueError("kdtrack distill: give --student (a fine-tune) or --from-scratch ARCH, not both")
        teacher = shipped_detector("mot_teacher") if teacher is None else teacher
        if args.from_scratch:
            student = fresh_student(args.from_scratch, args.seed)
        elif student is None:
            student = shipped_detector("mot_student")
        overrides = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps), ("lr", args.lr))
                     if v is not None}
        cfg = MOTDistillConfig.make(**{k: v for k, v in (
            ("at_beta", args.at_beta), ("hint_weight", args.hint_weight), ("kd_weight", args.kd_weight),
            ("kd_temperature", args.kd_temperature), ("kd_reg_weight", args.kd_reg_weight),
            ("hint_region", args.hint_region), ("at_region", args.at_region)) if v is not None})
        budget = mot_train_config if args.from_scratch else mot_finetune_config
        sizes = {k: v for k, v in (("train_sequences", args.train_sequences),
                                   ("val_sequences", args.val_sequences), ("world", args.world)) if v is not None}
        _, history = distill_mot_student(names, teacher, student, MOTDataConfig.make(**sizes),
                                         budget(seed=args.seed, **overrides), cfg, checkpoint_path=args.out,
                                         device=device_for_rank() or pick_device(args.device), resume=args.resume,
                                         num_workers=args.workers, **sequences_from_args(args))
        if is_main_process():
            print(json.dumps({"checkpoint": args.out, "losses": loss_label(names), "best_val": history.best_metric,
                              "best_epoch": history.best_epoch, "seconds": round(history.seconds, 1)}))
        shutdown()

    p.set_defaults(func=run)
