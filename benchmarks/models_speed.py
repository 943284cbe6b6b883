"""Parameters and CPU speed of the teacher/student models and of the student MOT pipeline.

Usage::

    python benchmarks/models_speed.py [--threads N] [--repeats 30]

Batch 1, random weights (speed does not depend on them), default sizes: CenterTrack frames
256x192 (W x H), SiamFC template 64 / search 128 with 3 scales. The MOT pipeline figure is
``MOTPipeline.step`` (frame -> tensor, prior heatmap, detector, decoding, tracker) plus one
``MOTTracker.update`` with 15 confident moving detections, embeddings and offsets (random
weights give no confident detections, so the tracker's share is measured on its own).
On a shared machine set ``OMP_WAIT_POLICY=PASSIVE`` or ``--threads 1``: with busy cores, spinning
OpenMP threads slow small convolutions down by an order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from kdtrack_lite.models import DecodeConfig, DetectorConfig, SiamFCConfig, count_parameters
from kdtrack_lite.registry import build
from kdtrack_lite.track import MOTPipeline, MOTTracker


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result = {"threads": torch.get_num_threads(), "centertrack": {}, "siamfc": {}}
    x, p = torch.rand(1, 3, 192, 256), torch.zeros(1, 1, 192, 256)
    z, s = torch.rand(1, 3, 64, 64), torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        for name in ("teacher", "student"):
            det = build("centertrack", DetectorConfig.preset(name)).eval()
            result["centertrack"][name] = {
                "params": count_parameters(det), "backbone_params": count_parameters(det.backbone),
                "forward_ms": median_ms(lambda: det(x, x, p), args.repeats)}
            sfc = build("siamfc", SiamFCConfig.preset(name)).eval()
            zf = sfc.features(z)
            result["siamfc"][name] = {
                "params": count_parameters(sfc),
                "update_3_scales_ms": median_ms(lambda: sfc.response(zf, sfc.features(s)), args.repeats)}
    for family in ("centertrack", "siamfc"):
        key = "forward_ms" if family == "centertrack" else "update_3_scales_ms"
        t, st = result[family]["teacher"], result[family]["student"]
        result[family]["param_ratio"] = t["params"] / st["params"]
        result[family]["speedup"] = t[key] / st[key]

    pipe = MOTPipeline(build("centertrack", DetectorConfig.preset("student")), decode_cfg=DecodeConfig(k=15))
    frame = np.random.default_rng(0).integers(0, 255, (192, 256, 3), dtype=np.uint8)
    step_ms = median_ms(lambda: pipe.step(frame), args.repeats)
    rng = np.random.default_rng(1)
    starts, speeds = rng.uniform([20, 20], [230, 160], (15, 2)), rng.uniform(-2, 2, (15, 2))
    emb = rng.normal(size=(15, 32))
    tracker, frames = MOTTracker(), iter(range(10**6))

    def track_once():
        c = starts + speeds * next(frames)
        dets = np.c_[c - [8, 16], c + [8, 16], np.full(15, 0.9), np.zeros(15)]
        tracker.update(dets, embeddings=emb, tracking_offsets=-np.repeat(speeds, 1, 0))

    track_ms = median_ms(track_once, args.repeats)
    result["student_pipeline"] = {"step_ms": step_ms, "tracker_15_tracks_ms": track_ms,
                                  "fps": 1000 / (step_ms + track_ms)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
