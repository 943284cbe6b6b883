"""Frames per second of the synthetic data engine at the default (FULL) sizes.

    .venv/bin/python benchmarks/data_speed.py

MOT: ``generate_mot_sequence(MOTSceneConfig.make("full"), seed)``; SOT:
``generate_sot_sequence(SOTConfig.make("full"), seed)``; seeds 0..4 after one warm-up sequence,
frames / wall time. Degradation: a preset applied to one 150-frame MOT sequence.
"""

import json
import time

from kdtrack_lite.data.degrade import DegradationConfig, degrade_sequence
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.data.sot_synth import SOTConfig, generate_sot_sequence


def main() -> dict[str, float]:
    res = {}
    for name, fn in [("mot", lambda s: generate_mot_sequence(MOTSceneConfig.make("full"), s)),
                     ("sot", lambda s: generate_sot_sequence(SOTConfig.make("full"), s))]:
        fn(100)  # warm-up
        start, frames = time.perf_counter(), 0
        for seed in range(5):
            frames += fn(seed).num_frames
        res[name] = frames / (time.perf_counter() - start)
    seq = generate_mot_sequence(MOTSceneConfig.make("full"), 0)
    for spec in ["low_quality", "mixed"]:
        start = time.perf_counter()
        degrade_sequence(seq, DegradationConfig(spec=spec), 0)
        res["degrade_" + spec] = seq.num_frames / (time.perf_counter() - start)
    return {k: round(v, 1) for k, v in res.items()}


if __name__ == "__main__":
    print(json.dumps(main()))
