"""Fine-tune the shipped SiamFC teacher with BatchNorm frozen (issue 5 diagnosis; nothing shipped).

``benchmarks/sot_bn_diagnosis.py`` found the teacher's pair loss 2.5x lower with batch statistics
(training) than with running statistics (tracking). This fine-tunes the teacher with every BN layer
kept in eval mode -- the running statistics tracking uses, affine parameters still trained -- so
the weights adapt to the statistics they are tracked with ("train as you test"). Validation only:
success AUC on ``--val-sequences`` validation sequences after each epoch (the shipped teacher
scores 56.0 on the first 36).

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sot_frozen_bn.py \
        --epochs 3 --steps 100 --lr 5e-4 --out runs/sot_teacher_frozenbn.pt
"""

from __future__ import annotations

import argparse

import torch

import kdtrack_lite.train.sot as sot
from kdtrack_lite.checkpoint import load_checkpoint


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", default="data_samples/checkpoints/sot_teacher.pt")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--val-sequences", type=int, default=36)
    ap.add_argument("--out", default="runs/sot_teacher_frozenbn.pt")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    teacher = load_checkpoint(args.teacher).build().eval()
    data_cfg = sot.SOTDataConfig.make(val_sequences=args.val_sequences)
    train_cfg = sot.sot_train_config(epochs=args.epochs, steps_per_epoch=args.steps, lr=args.lr, patience=0,
                                     min_epochs=0, seed=0)
    _, hist = sot.train_siamfc("teacher", data_cfg, train_cfg, model_cfg=teacher.cfg, init_from=teacher,
                               checkpoint_path=args.out, student_bn="frozen")
    print(f"validation AUC ({args.val_sequences} sequences) per epoch: "
          f"{[round(e.get('val'), 2) for e in hist.epochs]}; best epoch {hist.best_epoch}")


if __name__ == "__main__":
    main()
