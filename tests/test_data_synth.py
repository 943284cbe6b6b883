"""Synthetic MOT and SOT generators: deterministic per seed, labels measured from pixels."""

import numpy as np
import pytest

from kdtrack_lite.boxes import box_iou, tlwh_to_xyxy
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.data.sot_synth import ATTRIBUTES, SOTConfig, generate_sot_sequence

SMALL_MOT = dict(num_frames=30, width=128, height=96, min_height=10, max_height=34, density=6)


@pytest.fixture(scope="module")
def mot():
    return generate_mot_sequence(MOTSceneConfig.make("fast", **SMALL_MOT), seed=3)


def test_mot_is_deterministic_per_seed(mot):
    again = generate_mot_sequence(MOTSceneConfig.make("fast", **SMALL_MOT), seed=3)
    np.testing.assert_array_equal(again.frames, mot.frames)
    np.testing.assert_array_equal(again.gt, mot.gt)
    other = generate_mot_sequence(MOTSceneConfig.make("fast", **SMALL_MOT), seed=4)
    assert not np.array_equal(other.frames, mot.frames)


def test_mot_defaults_follow_the_interface():
    full, fast = MOTSceneConfig.make("full"), MOTSceneConfig.make("fast")
    assert (full.width, full.height, full.fps) == (256, 192, 30.0) and fast.num_frames < full.num_frames


def test_mot_gt_columns_and_perspective(mot):
    gt = mot.gt
    assert mot.frames.shape == (30, 96, 128, 3) and gt.shape[1] == 9
    assert set(gt[:, 6]) == {1.0} and set(gt[:, 7]) == {1.0}
    assert (gt[:, 8] >= 0).all() and (gt[:, 8] <= 1).all()
    # one row per (frame, id), frames 1-based
    assert len({(f, i) for f, i in gt[:, :2]}) == len(gt) and gt[:, 0].min() == 1
    # perspective: box height grows with the foot row (correlation over all boxes)
    foot = gt[:, 3] + gt[:, 5]
    assert np.corrcoef(foot, gt[:, 5])[0, 1] > 0.8


def test_mot_visibility_is_measured_from_pixels(mot):
    gt = mot.gt
    assert (gt[:, 8] < 0.5).any(), "expected some occlusion in a dense scene"
    # a box that overlaps another (closer) box a lot cannot be fully visible
    for t in range(1, mot.num_frames + 1):
        ids, tlwh, vis = mot.boxes_at(t)
        iou = box_iou(tlwh_to_xyxy(tlwh), tlwh_to_xyxy(tlwh))
        np.fill_diagonal(iou, 0)
        for i, j in zip(*np.nonzero(iou > 0.6)):
            if tlwh[i, 1] + tlwh[i, 3] == tlwh[j, 1] + tlwh[j, 3]:
                continue  # same foot row after rounding: the boxes do not show the depth order
            front = i if tlwh[i, 1] + tlwh[i, 3] > tlwh[j, 1] + tlwh[j, 3] else j
            back = j if front == i else i
            assert vis[back] < 0.95


def test_mot_identities_enter_and_leave():
    seq = generate_mot_sequence(MOTSceneConfig.make("fast", **{**SMALL_MOT, "num_frames": 90, "speed": 1.5}), seed=0)
    first = {i: seq.gt[seq.gt[:, 1] == i, 0].min() for i in np.unique(seq.gt[:, 1])}
    last = {i: seq.gt[seq.gt[:, 1] == i, 0].max() for i in np.unique(seq.gt[:, 1])}
    assert any(f > 1 for f in first.values()), "nobody entered"
    assert any(v < 90 for v in last.values()), "nobody left"


def test_sot_attributes_requested_are_present_and_consistent():
    cfg = SOTConfig.make("fast", num_frames=60, width=128, height=128, min_size=14, max_size=30)
    for attrs in (["FOC", "FM", "MB"], ["POC", "SV", "IV"], ["BC", "DEF", "OV"], ["LR"]):
        seq = generate_sot_sequence(cfg, seed=1, attributes=attrs)
        assert set(attrs) <= set(seq.attributes), (attrs, seq.attributes)
        fa = seq.frame_attributes
        assert list(fa) == list(ATTRIBUTES)
        np.testing.assert_array_equal(fa["OCC"], fa["POC"] | fa["FOC"])
        np.testing.assert_array_equal(seq.full_occlusion, fa["FOC"])
        np.testing.assert_array_equal(seq.out_of_view, fa["OV"])
        assert seq.attributes == [a for a in ATTRIBUTES if fa[a].any()]
        b = seq.boxes_tlwh
        if "OV" in attrs:  # out of view: the box really lies outside the frame
            x1, y1, x2, y2 = tlwh_to_xyxy(b[seq.out_of_view]).T
            assert ((x2 <= 0) | (y2 <= 0) | (x1 >= 128) | (y1 >= 128)).all()
        if "LR" in attrs:
            assert (np.sqrt(b[fa["LR"], 2] * b[fa["LR"], 3]) < cfg.lr_size).all()
        if "FM" in attrs:  # FM frames move more than fm_ratio of the size (hand-checked rule)
            c = b[:, :2] + b[:, 2:] / 2
            shift = np.linalg.norm(c[1:] - c[:-1], axis=1)
            np.testing.assert_array_equal(fa["FM"][1:], shift > cfg.fm_ratio * np.sqrt(b[1:, 2] * b[1:, 3]))


def test_sot_full_occlusion_hides_the_target_pixels():
    cfg = SOTConfig.make("fast", num_frames=60, width=128, height=128, noise_std=0.0, clutter=0.0)
    seq = generate_sot_sequence(cfg, seed=7, attributes=["FOC"])
    t = int(np.flatnonzero(seq.full_occlusion)[0])
    x, y, w, h = seq.boxes_tlwh[t]
    cx, cy, r = int(x + w / 2), int(y + h / 2), max(1, int(0.15 * min(w, h)))
    inner = seq.frames[t, cy - r:cy + r + 1, cx - r:cx + r + 1].astype(float)  # inside every shape
    # the occluder is a plain horizontal gradient: no change down a column where it hides the target
    assert np.abs(np.diff(inner, axis=0)).max() <= 1.0
    vis = seq.visible
    assert not vis[t] and vis.any()


def test_sot_is_deterministic_and_rejects_unknown_attributes():
    cfg = SOTConfig.make("fast", num_frames=20, width=64, height=64, min_size=12, max_size=20)
    a, b = generate_sot_sequence(cfg, 5), generate_sot_sequence(cfg, 5)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.boxes_tlwh, b.boxes_tlwh)
    with pytest.raises(ValueError, match="unknown attribute"):
        generate_sot_sequence(cfg, 0, attributes=["XYZ"])


def test_simulated_detections_follow_visibility(mot):
    from kdtrack_lite.data.detections import DetectionNoiseConfig, simulate_detections
    cfg = DetectionNoiseConfig(box_noise=0.0, false_per_frame=0.0, miss_base=0.0, miss_occluded=1.0)
    det = simulate_detections(mot, cfg, seed=0)
    # without noise, every detection is exactly a gt box; recall tracks visibility (miss p = 1 - vis)
    gt_boxes = {tuple(r) for r in mot.gt[:, [0, 2, 3, 4, 5]]}
    assert all(tuple(r) in gt_boxes for r in det[:, [0, 2, 3, 4, 5]])
    assert abs(len(det) / len(mot.gt) - mot.gt[:, 8].mean()) < 0.1
    noisy = simulate_detections(mot, DetectionNoiseConfig(false_per_frame=2.0), seed=0)
    assert noisy.shape[1] == 10 and (noisy[:, 4:6] > 0).all()
    np.testing.assert_array_equal(noisy, simulate_detections(mot, DetectionNoiseConfig(false_per_frame=2.0), seed=0))
