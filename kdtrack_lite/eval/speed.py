"""Speed and size: FPS (warm-up + repeats, median and spread), parameters, FLOPs, peak memory.

Distillation papers sell a trade-off ("compression rates of up to 8x and framerates of 252 FPS",
SDST -- paper fact, their hardware); this module measures the same quantities for our models on
*this* machine, so the notebooks can show honest ratios.

OUR DESIGN CHOICES:

* Timing uses ``time.perf_counter`` around single calls, after ``warmup`` untimed calls, under
  ``torch.inference_mode`` with the model in eval mode; on CUDA every call is bracketed by
  ``torch.cuda.synchronize`` so asynchronous kernels are counted. FPS = frames per call / seconds;
  frames per call defaults to the batch size (dim 0 of the first tensor input).
* We report the **median** FPS with the 10th/90th percentiles (robust to scheduler noise on
  shared CPUs) -- never the mean or the best run.
* :func:`compare_models` measures all models **in one run, interleaved** (each repeat calls every
  model once, in a rotated order), so load changes on the machine hit all models alike; the ratios
  it reports come from that single run.
* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as 2
  FLOPs (so ``FLOPs = 2 x MACs``) and only ops it has formulas for (matmul, conv, attention, ...);
  element-wise ops are not counted.
* Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA. On CPU it returns ``None``: torch's
  CPU allocator is invisible to ``tracemalloc`` and ``ru_maxrss`` is a process-wide high-water mark,
  so neither would be a per-model number.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..config import Config


@dataclass
class SpeedConfig(Config):
    """How long to measure. FAST keeps tests and notebooks quick."""

    warmup: int = 10
    repeats: int = 30
    FAST: ClassVar[dict[str, Any]] = {"warmup": 2, "repeats": 7}


@dataclass(frozen=True)
class SpeedStats:
    """FPS statistics over ``repeats`` timed calls (fps_p10 is the slow end, fps_p90 the fast end)."""

    median_fps: float
    p10_fps: float
    p90_fps: float
    ms_per_frame: float
    repeats: int
    frames_per_call: int
    device: str


def _call(fn: Callable, inputs) -> Any:
    if isinstance(inputs, dict):
        return fn(**inputs)
    if isinstance(inputs, (tuple, list)):
        return fn(*inputs)
    return fn(inputs)


def _first_tensor(inputs) -> torch.Tensor | None:
    items = inputs.values() if isinstance(inputs, dict) else inputs if isinstance(inputs, (tuple, list)) else [inputs]
    return next((x for x in items if isinstance(x, torch.Tensor)), None)


def _device_of(inputs) -> torch.device:
    t = _first_tensor(inputs)
    return t.device if t is not None else torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _frames(inputs, frames_per_call: int | None) -> int:
    if frames_per_call is not None:
        if frames_per_call < 1:
            raise ValueError(f"frames_per_call must be >= 1, got {frames_per_call}")
        return frames_per_call
    t = _first_tensor(inputs)
    return int(t.shape[0]) if t is not None and t.ndim > 0 else 1


def _timed_call(fn, inputs, device) -> float:
    _sync(device)
    start = time.perf_counter()
    _call(fn, inputs)
    _sync(device)
    return time.perf_counter() - start


def _stats(seconds: list[float], frames: int, device) -> SpeedStats:
    fps = frames / np.maximum(np.asarray(seconds), 1e-12)
    return SpeedStats(median_fps=float(np.median(fps)), p10_fps=float(np.percentile(fps, 10)),
                      p90_fps=float(np.percentile(fps, 90)),
                      ms_per_frame=float(1000 * np.median(seconds) / frames), repeats=len(seconds),
                      frames_per_call=frames, device=str(device))


def _check_counts(warmup: int, repeats: int) -> None:
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}")


def measure_fps(fn_or_model: Callable | nn.Module, inputs, warmup: int | None = None, repeats: int | None = None,
                frames_per_call: int | None = None) -> SpeedStats:
    """Frames per second of ``fn_or_model(inputs)``.

    Args:
        fn_or_model: a module (put in eval mode) or any callable.
        inputs: a tensor, a tuple of positional inputs, or a dict of keyword inputs.
        warmup, repeats: untimed and timed calls (default: :class:`SpeedConfig` for the profile).
        frames_per_call: frames one call processes (default: batch size of the first tensor).
    """
    cfg = SpeedConfig.make()
    warmup = cfg.warmup if warmup is None else warmup
    repeats = cfg.repeats if repeats is None else repeats
    _check_counts(warmup, repeats)
    device = _device_of(inputs)
    if isinstance(fn_or_model, nn.Module):
        fn_or_model.eval()
    with torch.inference_mode():
        for _ in range(warmup):
            _call(fn_or_model, inputs)
        seconds = [_timed_call(fn_or_model, inputs, device) for _ in range(repeats)]
    return _stats(seconds, _frames(inputs, frames_per_call), device)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def count_flops(model: Callable | nn.Module, inputs) -> int:
    """FLOPs of one forward call, by ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    if isinstance(model, nn.Module):
        model.eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        _call(model, inputs)
    return int(counter.get_total_flops())


def peak_memory(fn_or_model: Callable | nn.Module, inputs) -> int | None:
    """Peak CUDA memory (bytes) allocated during one call; ``None`` on CPU/MPS (see module doc)."""
    device = _device_of(inputs)
    if device.type != "cuda":
        return None
    if isinstance(fn_or_model, nn.Module):
        fn_or_model.eval()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    with torch.inference_mode():
        _call(fn_or_model, inputs)
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device) - before)


def compare_models(models: dict[str, Callable | nn.Module], inputs, reference: str | None = None,
                   warmup: int | None = None, repeats: int | None = None,
                   frames_per_call: int | None = None) -> pd.DataFrame:
    """Measure several models in one interleaved run and report ratios against ``reference``.

    Args:
        models: ``{name: model}`` (e.g. ``{"teacher": t, "student": s}``), all taking ``inputs``.
        reference: the row ratios are computed against (default: the first model).

    Returns:
        DataFrame, one row per model: ``params, flops, fps, fps_p10, fps_p90, ms_per_frame,
        peak_mem_mb`` and ``speedup = fps / fps_ref``, ``compression = params_ref / params``,
        ``flops_reduction = flops_ref / flops``.
    """
    if not models:
        raise ValueError("compare_models needs at least one model")
    names = list(models)
    reference = names[0] if reference is None else reference
    if reference not in models:
        raise ValueError(f"reference {reference!r} is not one of the models {names}")
    cfg = SpeedConfig.make()
    warmup = cfg.warmup if warmup is None else warmup
    repeats = cfg.repeats if repeats is None else repeats
    _check_counts(warmup, repeats)
    device = _device_of(inputs)
    for m in models.values():
        if isinstance(m, nn.Module):
            m.eval()
    seconds: dict[str, list[float]] = {n: [] for n in names}
    with torch.inference_mode():
        for n in names:
            for _ in range(warmup):
                _call(models[n], inputs)
        for r in range(repeats):
            for k in range(len(names)):  # rotate the order so no model always runs first
                n = names[(r + k) % len(names)]
                seconds[n].append(_timed_call(models[n], inputs, device))
    frames = _frames(inputs, frames_per_call)
    rows = {}
    for n in names:
        s = _stats(seconds[n], frames, device)
        mem = peak_memory(models[n], inputs)
        rows[n] = {"params": count_params(models[n]) if isinstance(models[n], nn.Module) else np.nan,
                   "flops": count_flops(models[n], inputs), "fps": s.median_fps, "fps_p10": s.p10_fps,
                   "fps_p90": s.p90_fps, "ms_per_frame": s.ms_per_frame,
                   "peak_mem_mb": np.nan if mem is None else mem / 2**20}
    df = pd.DataFrame.from_dict(rows, orient="index")
    ref = df.loc[reference]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["speedup"] = df["fps"] / ref["fps"]
        df["compression"] = ref["params"] / df["params"].astype(float)
        df["flops_reduction"] = ref["flops"] / df["flops"].astype(float)
    df.attrs["reference"] = reference
    df.attrs["device"] = str(device)
    df.attrs["repeats"] = repeats
    return df
