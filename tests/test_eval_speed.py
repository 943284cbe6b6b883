"""Speed helpers: hand-computed parameter/FLOP counts, timing against a known sleep."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from kdtrack_lite.eval.speed import compare_models, count_flops, count_params, measure_fps, peak_memory


def test_count_params_by_hand_and_shared_weights_once():
    lin = nn.Linear(3, 4)  # 3*4 + 4
    assert count_params(lin) == 16
    tied = nn.Sequential(lin, nn.ReLU(), lin)
    assert count_params(tied) == 16
    conv = nn.Conv2d(2, 5, 3, bias=False)
    conv.weight.requires_grad_(False)
    assert count_params(nn.Sequential(conv, nn.Linear(1, 1))) == 2 * 5 * 9 + 2
    assert count_params(nn.Sequential(conv, nn.Linear(1, 1)), trainable_only=True) == 2


def test_count_flops_by_hand():
    x = torch.zeros(2, 3)
    assert count_flops(nn.Linear(3, 4, bias=False), x) == 2 * 2 * 3 * 4
    img = torch.zeros(1, 2, 8, 8)
    conv = nn.Conv2d(2, 5, 3, padding=1, bias=False)
    assert count_flops(conv, img) == 2 * (8 * 8) * 5 * (2 * 9)


def test_measure_fps_recovers_a_known_duration():
    def sleepy(x):
        time.sleep(0.01)
        return x

    s = measure_fps(sleepy, torch.zeros(4, 1), warmup=1, repeats=5)
    assert s.frames_per_call == 4 and s.repeats == 5
    # each call takes >= 10 ms for 4 frames -> at most 400 fps; scheduler noise only slows it
    assert 100 < s.median_fps <= 400
    assert s.p10_fps <= s.median_fps <= s.p90_fps
    # odd repeats: the median time is one of the calls, so ms/frame and median fps agree exactly
    assert s.ms_per_frame == pytest.approx(1000 / s.median_fps, rel=1e-9)


def test_measure_fps_rejects_bad_counts():
    with pytest.raises(ValueError, match="repeats >= 1"):
        measure_fps(lambda x: x, torch.zeros(1), repeats=0)


def test_peak_memory_is_none_on_cpu():
    assert peak_memory(nn.Linear(2, 2), torch.zeros(1, 2)) is None


def test_compare_models_ratios_from_one_run():
    def slow(x):
        time.sleep(0.006)
        return x

    def fast(x):
        time.sleep(0.002)
        return x

    class Wrap(nn.Module):
        def __init__(self, width, fn):
            super().__init__()
            self.lin = nn.Linear(4, width)
            self.fn = fn

        def forward(self, x):
            return self.fn(self.lin(x))

    big, small = Wrap(64, slow), Wrap(8, fast)
    df = compare_models({"teacher": big, "student": small}, torch.zeros(2, 4), warmup=1, repeats=5)
    assert df.loc["teacher", "speedup"] == 1.0 and df.loc["teacher", "compression"] == 1.0
    assert df.loc["student", "compression"] == pytest.approx((4 * 64 + 64) / (4 * 8 + 8))
    assert df.loc["student", "flops_reduction"] == pytest.approx(64 / 8)
    assert df.loc["student", "speedup"] == pytest.approx(df.loc["student", "fps"] / df.loc["teacher", "fps"])
    assert df.loc["student", "speedup"] > 1.5  # 2 ms vs 6 ms sleeps
    with pytest.raises(ValueError, match="reference 'x'"):
        compare_models({"a": big}, torch.zeros(2, 4), reference="x")
