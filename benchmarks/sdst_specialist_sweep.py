"""Which fine-tune makes a specialist beat the general SOT teacher on its own attribute? (validation only)

Each call fine-tunes the shipped general teacher into one attribute's
specialist with one recipe (``RECIPES``), interpolates the result with the general teacher in weight
space (``sdst.interpolate_weights``, at each ``--alphas``), and tracks every candidate on validation
sequences carrying the attribute (``sdst.attribute_sequences``): the one-pass success AUC over those
sequences and the AUC of the attribute's own frames. ``--recipe general`` scores the general
teacher, ``--recipe shipped`` the shipped specialist. Nothing is shipped from here; the recipe
chosen on ``--select`` sequences is confirmed on the next ``--confirm`` ones, then made with
``kdtrack sdst specialist`` (RESULTS.md, SDST section):

    PYTHONPATH=. python benchmarks/sdst_specialist_sweep.py --attribute FM --recipe long \\
        --device cuda --out runs/sweep
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.sdst import (SpecialistConfig, attribute_auc, attribute_sequences, interpolate_weights,
                                    train_specialist)

# SpecialistConfig overrides per recipe (the shipped one: 100 steps, SV 200, lr 5e-4, 60 sequences).
RECIPES: dict[str, dict] = {
    "base": {},  # SpecialistConfig's defaults, the shipped OCC and FM recipe (100 steps, lr 5e-4, 60 sequences)
    "mid": {"steps": 400, "lr": 2e-4, "train_sequences": 120},
    "long": {"steps": 1000, "lr": 2e-4, "train_sequences": 240},
    "long_aug": {"steps": 1000, "lr": 2e-4, "train_sequences": 240},  # + AUGMENT[attribute]
    "gentle": {"steps": 1000, "lr": 5e-5, "train_sequences": 240},
}
# an attribute's own training-pair augmentation (OUR CHOICE): the variation the attribute is about, made larger
AUGMENT: dict[str, dict] = {
    "FM": {"shift_of_reach": 1.0},   # targets up to the map's full reach from the crop centre
    "SV": {"scale_jitter": 0.3},     # search crops up to exp(0.3) = 1.35x larger or smaller
    "IV": {"brightness": 1.4},       # lighting gains up to exp(1.4) = 4x
    "OCC": {"boost": 16.0},          # occluded frames drawn twice as often again
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attribute", required=True, choices=["OCC", "FM", "IV", "SV"])
    ap.add_argument("--recipe", required=True, choices=["general", "shipped", *RECIPES])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--select", type=int, default=36, help="validation sequences to choose on")
    ap.add_argument("--confirm", type=int, default=0, help="the next validation sequences, to confirm on")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--steps", type=int, help="override the recipe's steps (a smoke run)")
    ap.add_argument("--seed", type=int, default=0, help="fine-tuning seed (data order, pair sampling)")
    ap.add_argument("--protocol", default="ope", choices=["ope", "reset"],
                    help="tracking protocol of the scores (sdst.attribute_auc)")
    ap.add_argument("--general", metavar="CKPT", help="the general teacher to fine-tune and compare with "
                    "(default: the shipped sot_teacher.pt)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True, help="folder; writes <attribute>_<recipe>.json")
    args = ap.parse_args()
    if args.recipe == "shipped" and args.general:
        ap.error("--recipe shipped interpolates the shipped specialist with the shipped teacher; drop --general")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    seqs = attribute_sequences("val", args.attribute, args.select + args.confirm, args.frames)
    sets = {"select": seqs[:args.select], **({"confirm": seqs[args.select:]} if args.confirm else {})}
    ck = samples_dir() / "checkpoints"
    general = load_checkpoint(args.general or ck / "sot_teacher.pt").build().eval()
    if args.recipe == "general":
        candidates = {"general": general}
    elif args.recipe == "shipped":
        shipped = load_checkpoint(ck / f"sot_specialist_{args.attribute}.pt").build().float().eval()
        candidates = {f"shipped a={a}": interpolate_weights(general, shipped, a) for a in args.alphas}
    else:
        recipe = {**RECIPES[args.recipe], **(AUGMENT[args.attribute] if args.recipe.endswith("_aug") else {})}
        recipe.update(seed=args.seed, **({"steps": args.steps} if args.steps else {}))
        cfg = SpecialistConfig.make("full", **recipe)
        tuned, _ = train_specialist(general, args.attribute, cfg, device=args.device)
        tag = args.recipe + (f" seed {args.seed}" if args.seed else "")
        candidates = {f"{tag} a={a}": interpolate_weights(general, tuned, a) for a in args.alphas}
    rows = []
    for name, model in candidates.items():
        row = {"attribute": args.attribute, "candidate": name}
        for set_name, set_seqs in sets.items():
            scores = attribute_auc(model.to(args.device), args.attribute, set_seqs, args.protocol)
            row.update({f"{set_name} {k}": round(scores[k], 2) for k in ("ALL", args.attribute)})
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = Path(args.out) / (f"{args.attribute}_{args.recipe}{f'_seed{args.seed}' if args.seed else ''}"
                            f"{'_reset' if args.protocol == 'reset' else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps({"rows": rows, "seconds": round(time.perf_counter() - start, 1),
                                       "device": args.device, "args": vars(args)}, indent=1))


if __name__ == "__main__":
    main()
