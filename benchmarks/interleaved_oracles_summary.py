"""Summarise the oracle-schedule runs of ``benchmarks/interleaved.py`` (RESULTS.md, interleaved
inference): each schedule's HOTA minus the fixed frontier as mean ± standard error over the test
draws, the oracles paired with the adaptive schedule, and a check that the adaptive schedule's gains
equal those of the fixed-vs-adaptive runs on the same draws.

    .venv/bin/python benchmarks/interleaved_oracles_summary.py
"""
import json
import numpy as np
from scipy import stats

runs = [json.load(open(f"benchmarks/interleaved_oracles{s}.json")) for s in ("", "_draws20_29")]
gains = {}
for r in runs:
    for name, g in r["frontier_gain"].items():
        gains.setdefault(name, {}).update(dict(zip(r["args"]["seeds"], g)))
print(f"{'schedule':18s} draws  mean   s.e.   sd    t-test p  >0")
for name, g in gains.items():
    v = np.array(list(g.values()))
    print(f"{name:18s} {len(v):5d} {v.mean():+.2f} {v.std(ddof=1) / np.sqrt(len(v)):.2f} {v.std(ddof=1):.2f} "
          f"{stats.ttest_1samp(v, 0).pvalue:8.3f}  {int((v > 0).sum())}/{len(v)}")
for name in ("oracle events", "oracle errors"):
    common = sorted(set(gains[name]) & set(gains["adaptive"]))
    d = np.array([gains[name][s] - gains["adaptive"][s] for s in common])
    print(f"{name} - adaptive, paired over {len(d)} draws: {d.mean():+.2f} ± {d.std(ddof=1) / np.sqrt(len(d)):.2f}")
old = {}
for f in ("", "_draws3_12", "_draws13_42"):
    r = json.load(open(f"benchmarks/interleaved_student_x2_kd{f}.json"))
    old.update(dict(zip(r["args"]["seeds"], r["adaptive_frontier_gain"])))
same = [s for s in gains["adaptive"] if s in old]
print(f"adaptive gain equal to the fixed-vs-adaptive runs' on {sum(abs(gains['adaptive'][s] - old[s]) < 1e-9 for s in same)} "
      f"of {len(same)} common draws")
# k=4 targets in these runs (loaded machine: two runs side by side)
k4 = [(row["speedup"], row["HOTA_kept"]) for r in runs for t in r["per_seed"]["sweep"] for row in t if row["variant"] == "k=4"]
k4 = np.array(k4)
print(f"k=4 (two runs side by side): speed-up {k4[:, 0].mean():.2f} ± {k4[:, 0].std(ddof=1):.2f}, kept "
      f"{k4[:, 1].mean():.3f} ± {k4[:, 1].std(ddof=1):.3f} over {len(k4)} draws; min kept {k4[:, 1].min():.3f}")
calls = {n: np.mean([row["teacher_calls"] for r in runs for t in r["per_seed"]["sweep"] for row in t
                     if row["variant"] == n]) for n in gains}
print("mean teacher calls per draw:", {n: round(c, 1) for n, c in calls.items()})
