"""CenterTrack and Siamese pair datasets: targets checked against hand-derived geometry."""

import cv2
import numpy as np
import pytest
import torch

from kdtrack_lite.data.datasets import (CenterTrackPairs, PairConfig, SiamesePairs, SiamPairConfig,
                                        attribute_sampler, split_by_sequence)
from kdtrack_lite.data.heatmap import render_heatmap
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.data.sequence import MOTSequence, SOTSequence
from kdtrack_lite.data.sot_synth import ATTRIBUTES, SOTConfig, generate_sot_sequence


def test_split_by_sequence_is_a_seeded_partition():
    names = [f"s{i}" for i in range(20)]
    split = split_by_sequence(names, (0.7, 0.15, 0.15), seed=1)
    assert [len(split[k]) for k in ("train", "val", "test")] == [14, 3, 3]
    assert sorted(sum(split.values(), [])) == sorted(names)
    assert split == split_by_sequence(names, seed=1) and split != split_by_sequence(names, seed=2)
    assert all(len(v) == 1 for v in split_by_sequence(names[:3]).values())
    with pytest.raises(ValueError, match="sum"):
        split_by_sequence(names, (0.5, 0.1, 0.1))


def _hand_sequence():
    """Two frames, 64x64: object 1 moves right by 8 px; object 2 appears in frame 2."""
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    gt = np.array([[1, 1, 10, 10, 8, 16, 1, 1, 1.0],
                   [2, 1, 18, 10, 8, 16, 1, 1, 1.0],
                   [2, 2, 40, 30, 12, 12, 1, 1, 0.9],
                   [2, 3, 40, 40, 12, 12, 1, 1, 0.05]])  # too occluded: left out
    return MOTSequence("hand", frames, gt)


def test_centertrack_targets_by_hand():
    cfg = PairConfig(stride=4, max_objects=8, drop_prob=0.0, fp_prob=0.0, hm_jitter=0.0, max_frame_gap=1)
    ds = CenterTrackPairs([_hand_sequence()], cfg)
    item = ds[1]  # frame 2, previous frame 1
    assert int(item["frame"]) == 2 and item["image"].shape == (3, 64, 64) and item["hm"].shape == (1, 16, 16)
    assert item["mask"].tolist() == [1, 1] + [0] * 6 and item["ids"][:3].tolist() == [1, 2, 0]
    # object 1: centre (22, 18) -> output (5.5, 4.5), peak (5, 4); previous centre (14, 18) -> (3.5, 4.5)
    assert int(item["ind"][0]) == 4 * 16 + 5
    np.testing.assert_allclose(item["reg"][0], [0.5, 0.5])
    np.testing.assert_allclose(item["wh"][0], [8, 16])
    np.testing.assert_allclose(item["tracking"][0], [3.5 - 5, 4.5 - 4])
    assert item["tracking_mask"].tolist()[:2] == [1, 0]  # object 2 is new
    np.testing.assert_allclose(item["boxes_xyxy"][1], [40, 30, 52, 42])
    assert item["hm"][0, 4, 5] == 1.0 and item["hm"][0, 9, 11] == 1.0
    # no noise: the prior heatmap is exactly frame 1's boxes rendered at stride 1
    expected = render_heatmap(np.array([[10, 10, 18, 26]]), 64, 64, stride=1)
    np.testing.assert_array_equal(item["prior_hm"][0].numpy(), expected)


def test_centertrack_prior_noise_rates():
    cfg = PairConfig(drop_prob=0.4, fp_prob=0.1)
    ds = CenterTrackPairs([_hand_sequence()], cfg)
    rng = np.random.default_rng(0)
    boxes = np.array([[28.0, 24, 36, 40]])  # centred, so a false peak rarely leaves the frame
    peaks = [int((ds.prior_heatmap(boxes, 64, 64, rng) == 1.0).sum()) for _ in range(2000)]
    # kept peak: 1 - 0.4; false peak adds one with p = 0.1 
    assert abs(np.mean([p >= 1 for p in peaks]) - (0.6 + 0.4 * 0.1)) < 0.06
    assert 0.045 < np.mean([p == 2 for p in peaks]) < 0.075  # 0.6 * 0.1


def test_centertrack_on_synthetic_scene_is_deterministic():
    seq = generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=6, width=96, height=64, max_height=30,
                                                    min_height=10, density=5), seed=0)
    ds = CenterTrackPairs([seq], PairConfig(seed=3))
    a, b = ds[4], ds[4]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    n = int(a["mask"].sum())
    assert n > 0 and (a["ind"][:n] < 16 * 24).all() and a["prior_hm"].max() <= 1


def _hand_sot():
    frames = np.zeros((5, 100, 100, 3), np.uint8)
    boxes = np.array([[40, 40, 20, 10]] * 5, np.float64)
    foc = np.array([1, 0, 0, 0, 1], bool)
    fa = {a: np.zeros(5, bool) for a in ATTRIBUTES}
    fa["FOC"] = fa["OCC"] = foc
    frames[:, 40:50, 40:60] = 255
    return SOTSequence("hand", frames, boxes, foc, np.zeros(5, bool), fa, ["OCC", "FOC"])


def test_siamese_geometry_by_hand():
    cfg = SiamPairConfig(exemplar_size=32, search_size=64, max_shift=10, scale_jitter=0.0, max_frame_gap=10)
    ds = SiamesePairs([_hand_sot()], cfg)
    item = ds[4]
    assert item["visible"] == 0 and item["attributes"][ATTRIBUTES.index("FOC")] == 1
    # SiamFC: side_z = sqrt((20 + 15)(10 + 15)) = 29.58; search side = 2 * side_z; scale = 64 / side
    scale = 64 / (2 * np.sqrt(35 * 25))
    np.testing.assert_allclose(item["target_size"], [20 * scale, 10 * scale], rtol=1e-5)
    # the white target sits at crop centre + target_offset
    mask = item["search"][0].numpy() > 0.5
    ys, xs = np.nonzero(mask)
    centre = np.array([xs.mean(), ys.mean()]) - 31.5
    np.testing.assert_allclose(centre, item["target_offset"].numpy(), atol=0.6)
    assert item["template"].shape == (3, 32, 32) and item["template"][0, 16, 16] > 0.9
    for i in range(5):  # the template never comes from the fully occluded frames 0 and 4
        assert ds[i]["template"][0, 16, 16] > 0.9


def test_siamese_on_synthetic_sot_and_attribute_sampler():
    seq = generate_sot_sequence(SOTConfig.make("fast", num_frames=30, width=96, height=96, min_size=12,
                                               max_size=24), seed=4, attributes=["FOC"])
    ds = SiamesePairs([seq], SiamPairConfig(seed=1))
    a, b = ds[7], ds[7]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["search"].shape == (3, 128, 128) and (a["target_offset"].abs() <= 16).all()
    sampler = attribute_sampler(ds, ["FOC"], boost=10.0, num_samples=3000, seed=0)
    drawn = np.array(list(sampler))
    share = seq.full_occlusion[drawn].mean()
    p = seq.full_occlusion.mean()
    assert share == pytest.approx(10 * p / (10 * p + 1 - p), abs=0.05)


def test_siamese_photometric_augmentation_changes_only_the_search_pixels():
    geometry = dict(exemplar_size=32, search_size=64, max_shift=10, scale_jitter=0.0, max_frame_gap=10)
    plain = SiamesePairs([_hand_sot()], SiamPairConfig(**geometry))[2]
    light = SiamesePairs([_hand_sot()], SiamPairConfig(**geometry, photometric_prob=1.0))[2]
    blur = SiamesePairs([_hand_sot()], SiamPairConfig(**geometry, blur_prob=1.0))[2]
    for aug in (light, blur):  # labels and template untouched, search pixels changed
        assert torch.equal(aug["template"], plain["template"])
        assert torch.equal(aug["target_offset"], plain["target_offset"])
        assert not torch.equal(aug["search"], plain["search"])
    # a gain/contrast change keeps the image's structure: the bright target stays brightest
    target = plain["search"][0] > 0.5
    assert light["search"][0][target].mean() > light["search"][0][~target].mean()
    # motion blur smooths edges: less high-frequency energy (variance of the Laplacian)
    def sharpness(img):
        return float(cv2.Laplacian(img[0].numpy(), cv2.CV_32F).var())
    assert sharpness(blur["search"]) < sharpness(plain["search"])
    # deterministic per seed and index
    again = SiamesePairs([_hand_sot()], SiamPairConfig(**geometry, photometric_prob=1.0, blur_prob=1.0))
    assert torch.equal(again[3]["search"], again[3]["search"])


def test_siamese_on_policy_crops_where_the_tracker_searched():
    geometry = dict(exemplar_size=32, search_size=64, max_shift=10, scale_jitter=0.0, max_frame_gap=10)
    seq = _hand_sot()
    # the "tracker" searched 6 px left of and 4 px above the target, with a box twice as wide
    searched = seq.boxes_tlwh + np.array([-6.0, -4.0, 0.0, 0.0])
    searched[:, 2] *= 2
    searched[1] = np.nan  # frame 1: not tracked -> the usual crop around the true box
    on = SiamesePairs([seq], SiamPairConfig(**geometry, on_policy_prob=1.0), search_boxes={"hand": searched})
    off = SiamesePairs([seq], SiamPairConfig(**geometry))
    item = on[2]
    # the crop side follows the searched box (40 x 10), so the scale is that of its context
    scale = 64 / (2 * np.sqrt((40 + 25) * (10 + 25)))
    # searched box centre (34 + 20, 36 + 5) = (54, 41); target centre (50, 45)
    np.testing.assert_allclose(item["target_offset"], [-4 * scale, 4 * scale], rtol=1e-5)
    np.testing.assert_allclose(item["target_size"], [20 * scale, 10 * scale], rtol=1e-5)
    ys, xs = np.nonzero(item["search"][0].numpy() > 0.5)  # the white target sits at centre + offset
    np.testing.assert_allclose(np.array([xs.mean(), ys.mean()]) - 31.5, item["target_offset"].numpy(), atol=0.6)
    assert torch.equal(on[1]["target_offset"], off[1]["target_offset"])  # NaN box: the usual draw
    # probability 0 (or no boxes) leaves every item as it was
    zero = SiamesePairs([seq], SiamPairConfig(**geometry), search_boxes={"hand": searched})
    assert all(torch.equal(zero[i][k], off[i][k]) for i in range(5) for k in off[i])
    with pytest.raises(ValueError, match=r"search_boxes\['hand'\] must be \(5, 4\)"):
        SiamesePairs([seq], SiamPairConfig(**geometry, on_policy_prob=1.0), search_boxes={"hand": searched[:3]})
    with pytest.raises(ValueError, match="'other', which is not one of the sequences"):
        SiamesePairs([seq], SiamPairConfig(**geometry), search_boxes={"other": searched})
    with pytest.raises(ValueError, match="on_policy_prob must be in"):
        SiamesePairs([seq], SiamPairConfig(**geometry, on_policy_prob=1.5))
