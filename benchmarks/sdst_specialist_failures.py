"""Do the SDST specialists fail less than the general teacher on their own attribute? (validation only)

For each attribute, the first ``--sequences`` validation sequences carrying it
(``sdst.attribute_sequences``, ``--frames`` frames) are tracked by the shipped general teacher and by
that attribute's shipped specialist, each in one pass and under the VOT reset protocol
(``eval.sot_protocol.accuracy_robustness``). "Failures on the attribute" count the failures whose frames carry
it (OCC: POC, FOC or the return after hiding). RESULTS.md, SDST section, session 16:

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sdst_specialist_failures.py OCC FM IV SV
"""
from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.sot_protocol import accuracy_robustness
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.sdst import attribute_sequences

OWN = {"OCC": {"POC", "FOC", "after hidden"}}  # failure_attributes names that count as the attribute


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("attributes", nargs="+", choices=["OCC", "FM", "IV", "SV"])
    ap.add_argument("--sequences", type=int, default=12, help="validation sequences per attribute")
    ap.add_argument("--frames", type=int, default=120)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = samples_dir() / "checkpoints"
    general = load_checkpoint(ck / "sot_teacher.pt").build().eval()
    for a in args.attributes:
        seqs = attribute_sequences("val", a, args.sequences, args.frames)
        specialist = load_checkpoint(ck / f"sot_specialist_{a}.pt").build().float().eval()
        own = OWN.get(a, {a})
        for name, model in (("general", general), (f"specialist {a}", specialist)):
            r = accuracy_robustness(model, seqs)
            on_attr = sum(any(c in own for c in f["causes"]) for s in r["per sequence"].values() for f in s["failures"])
            print(json.dumps({"attribute": a, "model": name, "OPE AUC": round(r["OPE AUC"], 2),
                              "failures per sequence": round(r["failures per sequence"], 2),
                              "failures on the attribute per sequence": round(on_attr / len(seqs), 2),
                              "accuracy": round(r["accuracy (AUC of tracked frames)"], 2)}), flush=True)


if __name__ == "__main__":
    main()
