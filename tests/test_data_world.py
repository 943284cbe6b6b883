"""The widened MOT world: scene presets spanning real pedestrian sizes, look-alike crossings."""

import numpy as np
import pytest

from kdtrack_lite.boxes import box_iou, tlwh_to_xyxy
from kdtrack_lite.data.mot_synth import (SCENE_PRESETS, SPLIT_SEED_BASE, WORLDS, MOTSceneConfig,
                                         generate_mot_sequence, world_scene)


def _scene(name, seed=7, frames=60):
    return generate_mot_sequence(MOTSceneConfig.preset(name, "full", num_frames=frames), seed=seed)


@pytest.mark.parametrize("name", sorted(SCENE_PRESETS))
def test_presets_are_deterministic_and_keep_the_layout(name):
    a, b = _scene(name), _scene(name)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.gt, b.gt)
    assert a.frames.shape == (60, 192, 256, 3) and a.gt.shape[1] == 9
    assert (a.gt[:, 8] >= 0).all() and (a.gt[:, 8] <= 1).all()  # visibility measured from pixels


def test_street_preset_is_the_default_scene():
    a = generate_mot_sequence(MOTSceneConfig.make("full", num_frames=30), seed=5)
    b = generate_mot_sequence(MOTSceneConfig.preset("street", "full", num_frames=30), seed=5)
    np.testing.assert_array_equal(a.frames, b.frames)


def test_near_preset_spans_replayed_real_pedestrian_sizes():
    # MOT15's TUD sequences replayed at 256x192 hold people 49-124 px tall; "street" 14-56 px
    near = np.concatenate([_scene("near", seed=s).gt for s in range(3)])
    street = np.concatenate([_scene("street", seed=s).gt for s in range(3)])
    h_near, h_street = near[near[:, 8] > 0.5, 5], street[street[:, 8] > 0.5, 5]
    assert np.percentile(h_near, 5) >= 40 and h_near.max() >= 90 and h_near.max() <= 130
    assert h_street.max() <= 60 and np.median(h_near) > 2 * np.median(h_street)


def test_crossing_preset_makes_lookalike_pairs_meet():
    seq = _scene("crossing", seed=3, frames=150)
    gt = seq.gt
    crossings = 0
    for f in np.unique(gt[:, 0]):
        rows = gt[gt[:, 0] == f]
        iou = box_iou(tlwh_to_xyxy(rows[:, 2:6]), tlwh_to_xyxy(rows[:, 2:6]))
        np.fill_diagonal(iou, 0)
        crossings += int((iou > 0.4).any())
    assert crossings >= 10  # frames where two people overlap heavily
    # each pair walks towards each other: one id moves right, the next id (its look-alike) left
    cfg = MOTSceneConfig.preset("crossing", "full")
    assert cfg.crossing_pairs >= 2 and 0 < cfg.crossing_turn < 1 and cfg.crossing_cover > 0


def test_worlds_cycle_presets_and_reject_unknown_names():
    assert world_scene("mixed", 1, "full").max_height == SCENE_PRESETS["near"]["max_height"]
    assert world_scene("mixed", 3, "full") == world_scene("mixed", 0, "full")
    assert set(WORLDS["mixed"]) == set(SCENE_PRESETS)
    with pytest.raises(ValueError, match="unknown name 'moon'"):
        world_scene("moon", 0)
    with pytest.raises(ValueError, match="unknown preset 'moon'"):
        MOTSceneConfig.preset("moon")
    assert SPLIT_SEED_BASE["test"] > SPLIT_SEED_BASE["val"] > SPLIT_SEED_BASE["train"]


def test_mot_splits_follow_the_world():
    from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split

    mixed = make_mot_split("val", MOTDataConfig.make("fast", val_sequences=3, world="mixed", num_frames=10))
    street = make_mot_split("val", MOTDataConfig.make("fast", val_sequences=3, num_frames=10))
    np.testing.assert_array_equal(mixed[0].frames, street[0].frames)  # scene 0 of each: the street preset
    assert np.median(mixed[1].gt[:, 5]) > 1.5 * np.median(street[1].gt[:, 5])  # scene 1 of mixed: near
