"""Do the SDST specialists fail less than the general teacher on their own attribute? (validation only)

For each attribute, the first 12 validation sequences carrying it (``sdst.attribute_sequences``, 120
frames) are tracked by the shipped general teacher and by that attribute's shipped specialist, each in
one pass and under the VOT reset protocol (``train.sot.accuracy_robustness``). "Failures on the
attribute" count the failures whose frames carry it (OCC: POC, FOC or the return after hiding).
RESULTS.md, SDST section, session 16:

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sdst_specialist_failures.py OCC FM IV SV
"""
import json, sys
import torch
from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.train.sdst import attribute_sequences
from kdtrack_lite.train.sot import accuracy_robustness
torch.set_num_threads(1)
general = load_checkpoint("data_samples/checkpoints/sot_teacher.pt").build().eval()
for a in sys.argv[1:]:
    seqs = attribute_sequences("val", a, 12, 120)
    spec = load_checkpoint(f"data_samples/checkpoints/sot_specialist_{a}.pt").build().float().eval()
    for name, m in (("general", general), (f"specialist {a}", spec)):
        r = accuracy_robustness(m, seqs)
        mine = {"OCC": {"POC", "FOC", "after hidden"}}.get(a, {a})
        on_attr = sum(any(c in mine for c in f["causes"]) for s in r["per sequence"].values() for f in s["failures"])
        print(json.dumps({"attribute": a, "model": name, "OPE AUC": round(r["OPE AUC"], 2),
                          "failures per sequence": round(r["failures per sequence"], 2),
                          "failures on the attribute per sequence": round(on_attr / len(seqs), 2),
                          "accuracy": round(r["accuracy (AUC of tracked frames)"], 2)}), flush=True)
