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
    # boxes scaled from MOT15's 640 x 480 (no seqinfo.ini) to 320 x 240
    sx, sy = seq.meta["scale"]
    np.testing.assert_allclose(seq.gt[:, 2:6], real[:, 2:6] * [sx, sy, sx, sy])
    assert seq.meta["left_out_rows"] == 0 and seq.name == "replay-TUD-Campus"
    vis = seq.gt[:, 8]
    assert (vis >= 0).all() and (vis <= 1).all() and (vis < 0.5).any() and (vis > 0.9).any()
    again = replay_mot_gt(GT, seed=0, image_size=(320, 240))
    np.testing.assert_array_equal(again.frames, seq.frames)


def _tud(name: str) -> str:
    path = os.path.join(os.path.dirname(motmetrics.__file__), "data", name, "gt.txt")
    if not os.path.isfile(path):
        pytest.skip("motmetrics without its MOT15 sample data")
    return path


@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_replay_without_seqinfo_uses_mot15_size_and_fits_the_strides(name):
    gt = _tud(name)
    seq = replay_mot_gt(gt, seed=0)
    assert seq.size == (256, 192)  # 640x480 scaled to 256 wide; both sides multiples of 16
    assert seq.meta["source_size"] == [640, 480]
    np.testing.assert_allclose(seq.meta["scale"], [0.4, 0.4])
    real = read_mot_txt(gt, "gt")
    np.testing.assert_allclose(seq.gt[:, 2:6], real[:, 2:6] * 0.4)
    # the detector family accepts the frames (stride-16 backbone raised on 256x132 before)
    import torch
    from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack
    from kdtrack_lite.track.pipeline import frame_to_tensor
    det = build_centertrack(DetectorConfig.preset("student")).eval()
    x = frame_to_tensor(seq.frames[0])
    with torch.no_grad():
        det(x, x, torch.zeros(1, 1, *x.shape[2:]))


def test_replay_source_size_argument_and_its_checks(tmp_path):
    gt = _tud("TUD-Campus")
    seq = replay_mot_gt(gt, seed=0, source_size=(1280, 960))
    np.testing.assert_allclose(seq.meta["scale"], [0.2, 0.2])
    with pytest.raises(ValueError, match="image_size.*multiples of 16"):
        replay_mot_gt(gt, seed=0, image_size=(256, 132))
    with pytest.raises(ValueError, match="source_size"):
        replay_mot_gt(gt, seed=0, source_size=(64, 48))  # boxes far outside: names the argument
