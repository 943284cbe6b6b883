"""Frame-quality metrics against references and the data engine's recorded levels; DSWR and fuse."""

import math

import cv2
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from kdtrack_lite.data.degrade import degrade_frame
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.quality import (DSWRConfig, DSWRRegulator, QualityConfig, QualityNormalizer, clarity, frame_quality,
                                  fuse, noise_sigma, rms_contrast, sequence_quality)

LEVELS = np.linspace(0.0, 1.0, 6)
LUMA = np.array([0.299, 0.587, 0.114])  # BT.601, OpenCV RGB2GRAY


@pytest.fixture(scope="module")
def frame():
    return generate_mot_sequence(MOTSceneConfig.make(num_frames=2), seed=0).frames[1]


@pytest.fixture(scope="module")
def smooth():
    yy, xx = np.mgrid[0:120, 0:160]
    return np.stack([80 + 60 * xx / 160, 100 + 50 * yy / 120, np.full_like(xx, 120.0)], -1).astype(np.uint8)


def sweep(frame, op, metric):
    return np.array([metric(degrade_frame(frame, {op: lv}, np.random.default_rng(7))) for lv in LEVELS])


def test_metrics_match_reference_implementations(frame):
    y = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64)
    assert clarity(frame) == pytest.approx(cv2.Laplacian(y, cv2.CV_64F).var(), rel=1e-9)
    n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    resp = cv2.filter2D(y, cv2.CV_64F, n)[1:-1, 1:-1]  # interior = 'valid' convolution (N is symmetric)
    h, w = y.shape
    assert noise_sigma(frame) == pytest.approx(math.sqrt(math.pi / 2) * np.abs(resp).sum() / (6 * (w - 2) * (h - 2)))
    assert rms_contrast(frame) == pytest.approx(y.std() / 255)
    hand = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], np.uint8)  # one impulse: the interior is one pixel, N * Y = 4 * 9
    assert noise_sigma(hand) == pytest.approx(math.sqrt(math.pi / 2) * 4 * 9 / 6)
    with pytest.raises(ValueError, match="uint8"):
        clarity(frame.astype(np.float32))
    with pytest.raises(ValueError, match="3 x 3"):
        noise_sigma(np.zeros((2, 5, 3), np.uint8))


@pytest.mark.parametrize("op", ["gaussian_blur", "motion_blur"])
def test_clarity_falls_with_blur(frame, op):
    values = sweep(frame, op, clarity)
    assert np.all(np.diff(values) < 0), values
    assert spearmanr(LEVELS, values).statistic == pytest.approx(-1.0)


def test_noise_sigma_tracks_the_injected_noise(frame, smooth):
    values = sweep(frame, "noise", noise_sigma)
    assert np.all(np.diff(values) > 0), values
    assert noise_sigma(smooth) < 0.1
    for lv in (0.1, 0.25, 0.5, 1.0):
        noisy = degrade_frame(smooth, {"noise": lv}, np.random.default_rng(3))
        injected = 40 * lv  # degrade.noise: N(0, 40 l) per RGB channel, independent
        # per channel the estimate is the injected sigma; on luma it shrinks by ||BT.601 weights||
        for c in range(3):
            assert noise_sigma(noisy[..., c]) == pytest.approx(injected, rel=0.2)
        assert noise_sigma(noisy) == pytest.approx(injected * np.linalg.norm(LUMA), rel=0.2)


@pytest.mark.parametrize("op", ["low_contrast", "low_light", "haze"])
def test_contrast_falls_with_contrast_loss(frame, op):
    values = sweep(frame, op, rms_contrast)
    assert np.all(np.diff(values) < 0), values
    if op == "low_contrast":  # mean + (I - mean)(1 - 0.8 l) scales the std exactly (up to rounding)
        np.testing.assert_allclose(values, values[0] * (1 - 0.8 * LEVELS), rtol=0.05)


def test_normalizer_maps_to_unit_range_higher_is_better(frame):
    norm = QualityNormalizer()
    clean = norm.frame(frame)
    assert clean.shape == (3,) and np.all((clean >= 0) & (clean <= 1))
    rng = np.random.default_rng(0)
    assert norm.frame(degrade_frame(frame, {"gaussian_blur": 0.8}, rng))[0] < clean[0]
    assert norm.frame(degrade_frame(frame, {"noise": 0.8}, rng))[1] < clean[1]
    assert norm.frame(degrade_frame(frame, {"low_contrast": 0.8}, rng))[2] < clean[2]
    assert np.array_equal(norm({"clarity": 1e9, "noise": 1e3, "contrast": 5.0}), np.array([1, 0, 1], np.float32))
    with pytest.raises(KeyError, match="noise"):
        norm({"clarity": 1.0, "contrast": 0.1})
    with pytest.raises(ValueError, match="clarity_log_range"):
        QualityNormalizer(QualityConfig(clarity_log_range=(2.0, 1.0)))
    frames = np.stack([frame, degrade_frame(frame, {"noise": 1.0}, rng)])
    np.testing.assert_array_equal(sequence_quality(frames)[0], clean)
    assert frame_quality(frame).keys() == {"clarity", "noise", "contrast"}


@pytest.mark.parametrize("per_channel", [False, True])
def test_dswr_weights_in_unit_interval_with_shapes(per_channel):
    torch.manual_seed(0)
    reg = DSWRRegulator(DSWRConfig(hidden=8, per_channel=per_channel, channels=5, init_bias=3.0))
    q = torch.rand(4, 3) * 10 - 5  # well outside [0, 1] on purpose
    a = reg(q)
    assert a.shape == ((4, 5) if per_channel else (4, 1))
    assert torch.all((a > 0) & (a < 1))
    assert reg(torch.zeros(3)).shape == ((5,) if per_channel else (1,))
    with torch.no_grad():  # init_bias sets the starting weight: zero input -> sigmoid(init_bias)
        reg.mlp[0].bias.zero_()
    start = reg(torch.zeros(3))
    torch.testing.assert_close(start, torch.full_like(start, torch.sigmoid(torch.tensor(3.0)).item()))
    with pytest.raises(ValueError, match="quality must be"):
        reg(torch.zeros(4, 2))


def test_fuse_endpoints_broadcasting_and_errors():
    g = torch.Generator().manual_seed(0)
    query, semantic = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    torch.testing.assert_close(fuse(query, semantic, 0.0), query)
    torch.testing.assert_close(fuse(query, semantic, 1.0), semantic)
    torch.testing.assert_close(fuse(query, semantic, 0.25), 0.75 * query + 0.25 * semantic)
    a = torch.tensor([0.0, 1.0, 0.5, 0.2])  # per channel
    expected = torch.stack([query[:, 0], semantic[:, 1], (query[:, 2] + semantic[:, 2]) / 2,
                            0.8 * query[:, 3] + 0.2 * semantic[:, 3]], 1)
    torch.testing.assert_close(fuse(query, semantic, a), expected)
    frame_vec = semantic[0]  # one (D,) frame-level feature shared by every query
    torch.testing.assert_close(fuse(query, frame_vec, 1.0), frame_vec.expand(3, 4))
    with pytest.raises(ValueError, match="semantic must be"):
        fuse(query, torch.zeros(2, 4), 0.5)
    with pytest.raises(ValueError, match="a must be"):
        fuse(query, semantic, torch.zeros(3))


def test_gradient_reaches_the_regulator():
    torch.manual_seed(0)
    reg = DSWRRegulator(DSWRConfig(per_channel=True, channels=4))
    query, semantic = torch.randn(5, 4), torch.randn(5, 4)
    loss = (reg.fuse(query, semantic, torch.tensor([0.2, 0.9, 0.5])) - semantic).pow(2).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in reg.parameters())
    opt = torch.optim.SGD(reg.parameters(), lr=1.0)  # pulling towards semantic raises the weight
    before = reg(torch.tensor([0.2, 0.9, 0.5])).mean().item()
    for _ in range(20):
        opt.zero_grad()
        (reg.fuse(query, semantic, torch.tensor([0.2, 0.9, 0.5])) - semantic).pow(2).mean().backward()
        opt.step()
    assert reg(torch.tensor([0.2, 0.9, 0.5])).mean().item() > before + 0.1


def test_spearman_table_reports_monotonic_responses(frame):
    from kdtrack_lite.quality.validation import metric_response, spearman_table

    table = spearman_table(metric_response(frame[None], LEVELS, ops=("gaussian_blur", "noise", "low_contrast")))
    assert list(table.index) == ["gaussian_blur", "low_contrast", "noise"]  # data engine's OPS order
    assert table.loc["gaussian_blur", "clarity"] == pytest.approx(-1.0)
    assert table.loc["noise", "noise"] == pytest.approx(1.0)
    assert table.loc["low_contrast", "contrast"] == pytest.approx(-1.0)


def test_regulator_standardises_its_input_with_the_training_statistics():
    torch.manual_seed(0)
    q = torch.rand(50, 3) * 0.2 + 0.6  # scores of real degradations differ by ~0.1-0.3
    reg = DSWRRegulator(DSWRConfig(hidden=4)).fit_input(q)
    torch.testing.assert_close(reg.input_mean, q.mean(0))
    torch.testing.assert_close(reg.input_std, q.std(0))
    moved = DSWRRegulator(DSWRConfig(hidden=4)).fit_input(q * 3 - 1)  # scores scaled and shifted, refitted ...
    moved.mlp.load_state_dict(reg.mlp.state_dict())  # ... with the same weights -> the same a
    torch.testing.assert_close(moved(q * 3 - 1), reg(q))
    assert set(reg.state_dict()) >= {"input_mean", "input_std"}  # saved with the weights
    raw = DSWRRegulator(DSWRConfig(hidden=4, standardize=False)).fit_input(q)
    torch.testing.assert_close(raw.input_std, torch.ones(3))  # off: inputs used as they are
    flat = DSWRRegulator().fit_input(torch.full((5, 3), 0.5))  # a metric that never varies is not blown up
    assert (flat.input_std >= 0.02).all()
    with pytest.raises(ValueError, match="fit_input"):
        reg.fit_input(torch.zeros(10, 2))
