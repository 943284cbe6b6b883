"""Choose the IV specialist recipe on the VALIDATION split (never on test); the table in RESULTS.md (SDST).

Fine-tunes each candidate recipe from the shipped general teacher and checks it on 8 validation
sequences carrying IV (``check_specialist``); writes ``runs/iv_candidates.json``.

    OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/sdst_iv_candidates.py
"""
import json
import time

import torch
from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.runtime import seed_everything
from kdtrack_lite.train.sdst import SpecialistConfig, attribute_sequences, check_specialist, train_specialist

torch.set_num_threads(1)
general = load_checkpoint("data_samples/checkpoints/sot_teacher.pt").build().eval()
val = attribute_sequences("val", "IV", 8, 80, 0)
shipped = load_checkpoint("data_samples/checkpoints/sot_specialist_IV.pt").build().eval()
res = {"shipped(100,5e-4,s0)": check_specialist(general, shipped, "IV", val)}
print(json.dumps(res), flush=True)
cands = [dict(steps=200), dict(steps=300), dict(steps=200, lr=1e-3), dict(steps=100, seed=1), dict(steps=200, boost=16.0)]
for c in cands:
    t = time.time()
    seed_everything(c.get("seed", 0))
    cfg = SpecialistConfig.make(**c)
    spec, _ = train_specialist(general, "IV", cfg, checkpoint_path=f"runs/iv_{'_'.join(f'{k}{v}' for k,v in c.items())}.pt")
    key = json.dumps(c)
    res[key] = check_specialist(general, spec.eval(), "IV", val)
    res[key]["seconds"] = round(time.time() - t)
    print(key, res[key], flush=True)
json.dump(res, open("runs/iv_candidates.json", "w"), indent=1)
