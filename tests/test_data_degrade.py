"""Degradation ops and schedules: each op does what its parameter says, levels are recorded."""

import cv2
import numpy as np
import pytest

from kdtrack_lite.data.degrade import (OPS, PRESETS, DegradationConfig, degrade_frame, degrade_sequence,
                                       parse_spec, schedule_levels)
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence


@pytest.fixture(scope="module")
def frame():
    return generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=1, width=96, height=64, max_height=30,
                                                     min_height=10), seed=0).frames[0]


def _sharpness(img):
    return cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()


def test_level_zero_is_identity_and_ops_match_references(frame):
    rng = np.random.default_rng(0)
    assert np.array_equal(degrade_frame(frame, {op: 0.0 for op in OPS}, rng), frame)
    np.testing.assert_array_equal(degrade_frame(frame, {"gaussian_blur": 0.5}, rng),
                                  cv2.GaussianBlur(frame, (0, 0), 1.5))
    dark = degrade_frame(frame, {"low_light": 1.0}, rng)
    expected = np.round(255 * 0.4 * (frame / 255.0) ** 3).astype(np.uint8)
    assert np.abs(dark.astype(int) - expected).max() <= 1
    low = degrade_frame(frame, {"low_contrast": 0.5}, rng).astype(float)
    assert low.std() == pytest.approx(0.6 * frame.astype(float).std(), rel=0.02)
    noisy = degrade_frame(frame, {"noise": 0.5}, rng).astype(float) - frame
    assert 15 < noisy.std() < 21  # std 20, a little less where clipped


@pytest.mark.parametrize("op", ["gaussian_blur", "motion_blur", "jpeg"])
def test_blur_like_ops_lose_detail_monotonically(frame, op):
    s = [_sharpness(degrade_frame(frame, {op: lv}, np.random.default_rng(1))) for lv in (0.0, 0.4, 1.0)]
    assert s[0] > s[1] > s[2] or (op == "jpeg" and s[0] > s[2])


def test_haze_is_thicker_at_the_top(frame):
    hazy = degrade_frame(frame, {"haze": 1.0}, np.random.default_rng(0)).astype(float)
    top, bottom = hazy[:10].std(), hazy[-10:].std()
    assert top / frame[:10].std() < bottom / frame[-10:].std()


def test_schedules_and_spec_errors():
    lv = schedule_levels("noise:ramp:0:1,jpeg:const:0.5,motion_blur:burst:0:0.9:2:5", 20, np.random.default_rng(0))
    np.testing.assert_allclose(lv["noise"], np.linspace(0, 1, 20))
    assert set(lv["jpeg"]) == {0.5} and set(lv["motion_blur"]) <= {0.0, 0.9}
    assert 5 <= (lv["motion_blur"] == 0.9).sum() <= 10
    for bad in ("fog:const:0.5", "noise:wobble:1", "noise:const", "noise:const:2", "noise:ramp:a:b"):
        with pytest.raises(ValueError, match="degradation spec"):
            parse_spec(bad)
    for name in PRESETS:
        assert parse_spec(name)


def test_degrade_sequence_records_levels_and_is_deterministic():
    seq = generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=8, width=64, height=48, max_height=24,
                                                    min_height=8), seed=1)
    cfg = DegradationConfig(spec="noise:ramp:0:0.8,gaussian_blur:burst:0:0.6:1:3")
    a, b = degrade_sequence(seq, cfg, seed=3), degrade_sequence(seq, cfg, seed=3)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_allclose(a.degradation["noise"], np.linspace(0, 0.8, 8))
    assert a.degradation["gaussian_blur"].shape == (8,) and seq.degradation == {}
    np.testing.assert_array_equal(a.gt, seq.gt)
    if a.degradation["gaussian_blur"][0] == 0:  # all levels 0 at frame 0: untouched
        np.testing.assert_array_equal(a.frames[0], seq.frames[0])
    # frame t is reproducible alone from its recorded levels
    t = 5
    again = degrade_frame(seq.frames[t], {op: lv[t] for op, lv in a.degradation.items()}, np.random.default_rng([3, t]))
    np.testing.assert_array_equal(again, a.frames[t])
