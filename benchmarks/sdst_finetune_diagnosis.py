"""Why does a specialist fine-tune lose to the general teacher? (issue 7, session 18; validation only)

Fine-tunes the shipped general SOT teacher on one attribute's training sequences
(``sdst.train_specialist``, attribute frames drawn ``--boost`` times as often) in one of three
ways, then scores it on the attribute's frames of the first ``--select`` validation sequences
carrying it and of the next ``--confirm`` (one-pass success AUC, ``sdst.attribute_auc``):

* ``stats``: learning rate 1e-12, so only the BatchNorm running statistics move (re-estimated on
  the attribute-heavy training batches);
* ``frozen``: every BatchNorm layer kept in eval mode (the running statistics tracking uses);
* ``normal``: the shipped recipe's way, and the same weights with the general teacher's running
  statistics put back (``restored``);
* ``continued`` (session 19, the control): the same fine-tune on the first ``--train-sequences``
  sequences of the general training split (every attribute of the cycle, drawn uniformly): does
  the general teacher lose its tracking score to *any* further training, not only to specialising?

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/sdst_finetune_diagnosis.py --attribute FM --mode normal \\
        --steps 400 --lr 2e-4 --train-sequences 120

Session 19 added ``--train-frames`` (the length of each of the ``--train-sequences`` fresh
synthetic training sequences), ``--on-policy`` (share of pairs cropped where the general teacher's
tracker searched) and ``--search-size`` (the training search crop's side).
"""
from __future__ import annotations

import argparse
import copy
import json
import time

import torch
from torch import nn

import kdtrack_lite.train.sot as sot
from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.sdst import SpecialistConfig, attribute_auc, attribute_sequences, train_specialist

STATS = ("running_mean", "running_var", "num_batches_tracked")


def with_statistics_of(source: nn.Module, model: nn.Module) -> nn.Module:
    """A copy of ``model`` with ``source``'s BatchNorm running statistics."""
    out, state = copy.deepcopy(model), source.state_dict()
    out.load_state_dict({k: state[k].clone() if k.endswith(STATS) else v for k, v in model.state_dict().items()})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attribute", required=True, choices=["OCC", "FM", "IV", "SV"])
    ap.add_argument("--mode", required=True, choices=["stats", "frozen", "normal", "continued"])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--lr", type=float, default=2e-4, help="ignored by --mode stats (1e-12)")
    ap.add_argument("--train-sequences", type=int, default=120)
    ap.add_argument("--train-frames", type=int, default=60, help="length of each training sequence")
    ap.add_argument("--boost", type=float, default=8.0)
    ap.add_argument("--select", type=int, default=36)
    ap.add_argument("--confirm", type=int, default=36, help="0: score the select set only")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--on-policy", type=float, default=0.0,
                    help="share of pairs cropped where the general teacher's tracker searched (session 19)")
    ap.add_argument("--search-size", type=int, default=None, help="training search side (default: the model's)")
    args = ap.parse_args(argv)
    if args.mode == "continued":
        args.boost = 1.0  # uniform draws over the general split (recorded so in the printed args)
    torch.set_num_threads(1)
    start = time.perf_counter()
    seqs = attribute_sequences("val", args.attribute, args.select + args.confirm, args.frames)
    sets = {"select": seqs[:args.select], **({"confirm": seqs[args.select:]} if args.confirm else {})}
    general = load_checkpoint(samples_dir() / "checkpoints" / "sot_teacher.pt").build().eval()
    cfg = SpecialistConfig.make("full", steps=args.steps, lr=1e-12 if args.mode == "stats" else args.lr,
                                train_sequences=args.train_sequences, train_frames=args.train_frames,
                                boost=args.boost, on_policy=args.on_policy, search_size=args.search_size,
                                student_bn="frozen" if args.mode == "frozen" else "train")
    train_seqs = None  # the attribute's training sequences
    if args.mode == "continued":
        train_seqs = sot.make_sot_split("train", sot.SOTDataConfig.make(
            "full", train_sequences=args.train_sequences, train_frames=args.train_frames))
    tuned, _ = train_specialist(general, args.attribute, cfg, sequences=train_seqs)
    candidates = {"general": general, args.mode: tuned}
    if args.mode in ("normal", "continued"):
        candidates["restored"] = with_statistics_of(general, tuned)
    for name, model in candidates.items():
        row = {"attribute": args.attribute, "candidate": name}
        for set_name, set_seqs in sets.items():
            scores = attribute_auc(model.eval(), args.attribute, set_seqs)
            row.update({f"{set_name} {k}": round(scores[k], 2) for k in ("ALL", args.attribute)})
        print(json.dumps(row), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - start), "args": vars(args)}))


if __name__ == "__main__":
    main()
