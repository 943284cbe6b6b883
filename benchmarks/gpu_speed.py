"""Network speed of the shipped teachers and students on a GPU: FPS, ratios and peak memory.

Every model deployed (Conv+BN folded, channels-last; ``models.fuse.deploy``) and timed in one
interleaved run per table (``eval.speed.compare_models``: warm-up, median of the repeats, CUDA
synchronised around each call). Per family, three tables: batch 1 in float32 (what an online
tracker runs per frame), batch 1 under bfloat16 autocast, and a batch of ``--batch`` frames in
float32 (throughput, e.g. offline scoring). MOT input: frame, previous frame and prior heatmap at
256 x 192; SOT input: one template and a 3-scale search batch, as ``eval.benchmark``. RESULTS.md,
"Scale up" section:

    PYTHONPATH=. python benchmarks/gpu_speed.py --device cuda --json runs/gpu_speed.json
"""
from __future__ import annotations

import argparse
import json

import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.eval.speed import compare_models
from kdtrack_lite.fileio import write_text_atomic
from kdtrack_lite.models.fuse import deploy
from kdtrack_lite.paths import samples_dir

FAMILIES = {"MOT": ["mot_teacher", "mot_student_m", "mot_student_x2", "mot_student"],
            "SOT": ["sot_teacher", "sot_student"]}
COLUMNS = ["params", "fps", "ms_per_frame", "peak_mem_mb", "speedup", "compression"]


class Autocast(torch.nn.Module):
    """``model`` called under ``torch.autocast(dtype)`` (the same weights, lower-precision compute)."""

    def __init__(self, model: torch.nn.Module, device_type: str, dtype: torch.dtype):
        super().__init__()
        self.model, self.device_type, self.dtype = model, device_type, dtype

    def forward(self, *inputs):
        with torch.autocast(self.device_type, dtype=self.dtype):
            return self.model(*inputs)


def inputs_for(family: str, model: torch.nn.Module, batch: int, device: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    if family == "MOT":
        x = torch.rand(batch, 3, 192, 256, generator=g)
        return tuple(t.to(device).contiguous(memory_format=torch.channels_last)
                     for t in (x, x.clone(), torch.rand(batch, 1, 192, 256, generator=g)))
    z = torch.rand(1, 3, model.cfg.template_size, model.cfg.template_size, generator=g)
    x = torch.rand(3 * batch, 3, model.cfg.search_size, model.cfg.search_size, generator=g)
    return z.expand(3 * batch, -1, -1, -1).to(device), x.to(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", help="also write the tables as JSON (atomic)")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"gpu_speed.py: --device {args.device} asked for, but torch sees no CUDA device")
    torch.backends.cudnn.benchmark = True
    ck = samples_dir() / "checkpoints"
    out = {"device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
           "torch": torch.__version__, "tables": {}}
    for family, names in FAMILIES.items():
        models = {n: deploy(load_checkpoint(ck / f"{n}.pt").build().float()).to(args.device) for n in names}
        first = models[names[0]]
        bf16 = {n: Autocast(m, torch.device(args.device).type, torch.bfloat16) for n, m in models.items()}
        runs = {"batch 1, float32": (models, 1), "batch 1, bfloat16 autocast": (bf16, 1),
                f"batch {args.batch}, float32": (models, args.batch)}
        for label, (run, batch) in runs.items():
            table = compare_models(run, inputs_for(family, first, batch, args.device), reference=names[0],
                                   warmup=args.warmup, repeats=args.repeats, frames_per_call=batch)
            table = table[[c for c in COLUMNS if c in table]]
            out["tables"][f"{family}, {label}"] = table.to_dict()
            print(f"\n### {family}, {label} ({out['device']})\n")
            print(table.round(2).to_markdown())
    if args.json:
        write_text_atomic(args.json, json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
