"""Real-motion replay on the MOT15 annotations that motmetrics ships (TUD-Campus)."""

import os

import numpy as np
import pytest

motmetrics = pytest.importorskip("motmetrics")

from kdtrack_lite.data.motchallenge import read_mot_txt  # noqa: E402
from kdtrack_lite.data.replay import replay_mot_gt  # noqa: E402

GT = os.path.join(os.path.dirname(motmetrics.__file__), "data", "TUD-Campus", "gt.txt")


def test_replay_keeps_real_trajectories():
    if not os.path.isfile(GT):
        pytest.skip("motmetrics without its MOT15 sample data")
    real = read_mot_txt(GT, "gt")
    seq = replay_mot_gt(GT, seed=0, image_size=(320, 240))
    assert seq.num_frames == int(real[:, 0].max()) and seq.size == (320, 240)
    np.testing.assert_array_equal(seq.gt[:, :2], real[:, :2])  # same frames and ids, same order
    # boxes scaled from the boxes' extent to 320 x 240
    sx, sy = seq.meta["scale"]
    np.testing.assert_allclose(seq.gt[:, 2:6], real[:, 2:6] * [sx, sy, sx, sy])
    assert seq.meta["left_out_rows"] == 0 and seq.name == "replay-TUD-Campus"
    vis = seq.gt[:, 8]
    assert (vis >= 0).all() and (vis <= 1).all() and (vis < 0.5).any() and (vis > 0.9).any()
    again = replay_mot_gt(GT, seed=0, image_size=(320, 240))
    np.testing.assert_array_equal(again.frames, seq.frames)
