import numpy as np
import pytest
import torch
from torch import nn

from kdtrack_lite.data.heatmap import render_heatmap
from kdtrack_lite.models import DecodeConfig, DetectorConfig
from kdtrack_lite.registry import build
from kdtrack_lite.track.pipeline import MOTPipeline, frame_to_tensor

from _scripted import scripted_outputs

H, W, S = 64, 96, 4


def _outputs(boxes_xyxy, tracking_in_px):
    """Detector outputs that decode exactly to ``boxes_xyxy`` with the given tracking offsets."""
    return scripted_outputs(boxes_xyxy, H, W, S, tracking_in_px=tracking_in_px)


class ScriptedDetector(nn.Module):
    """Returns pre-made outputs frame after frame and records the inputs it was given."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs, self.seen = list(outputs), []
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, image, prev_image=None, prior_hm=None):
        self.seen.append((image.clone(), prev_image.clone(), None if prior_hm is None else prior_hm.clone()))
        return self.outputs[len(self.seen) - 1]


def test_pipeline_wires_previous_frame_prior_and_offsets_and_writes_rows():
    n = 6
    boxes = [[[10 + 3 * t, 10, 26 + 3 * t, 40], [60, 20 + 2 * t, 80, 44 + 2 * t]] for t in range(n)]
    offsets = [[[-3.0, 0.0], [0.0, -2.0]] if t else [[0.0, 0.0], [0.0, 0.0]] for t in range(n)]
    det = ScriptedDetector(_outputs(np.array(b, float), o) for b, o in zip(boxes, offsets))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(n)]
    pipe = MOTPipeline(det, decode_cfg=DecodeConfig(score_threshold=0.5))
    rows = pipe.run(frames)
    assert rows.shape == (2 * n, 10)
    assert sorted(set(rows[:, 1].astype(int))) == [1, 2]
    np.testing.assert_array_equal(np.bincount(rows[:, 0].astype(int))[1:], [2] * n)
    first = rows[rows[:, 1] == 1]
    np.testing.assert_allclose(first[:, 2], [10 + 3 * t for t in range(n)], atol=1.0)  # left column
    # the tracker got the detector's offsets (previous minus current centre, input px)
    np.testing.assert_allclose(sorted(pipe.tracker._offsets.tolist()), sorted(offsets[-1]), atol=1e-4)
    # frame 1: prev = itself, empty prior; frame t: prev = frame t-1, prior peaks at t-1 tracks
    img0, prev0, prior0 = det.seen[0]
    assert torch.equal(img0, prev0) and prior0.sum() == 0
    img3, prev3, prior3 = det.seen[3]
    assert torch.equal(prev3, frame_to_tensor(frames[2]))
    expected = render_heatmap(rows[rows[:, 0] == 3][:, 2:6] @ np.array([[1, 0, 1, 0], [0, 1, 0, 1],
                                                                          [0, 0, 1, 0], [0, 0, 0, 1.0]]), H, W)
    np.testing.assert_allclose(prior3[0, 0].numpy(), expected)


def test_pipeline_runs_a_real_student_detector():
    torch.manual_seed(0)
    model = build("centertrack", DetectorConfig.preset("student"))
    pipe = MOTPipeline(model, decode_cfg=DecodeConfig(k=10, score_threshold=0.0))
    frames = [np.full((H, W, 3), 100, np.uint8)] * 3
    rows = pipe.run(frames)
    assert rows.shape[1] == 10 and set(np.unique(rows[:, 0])) <= {1, 2, 3}
    with pytest.raises(ValueError, match="uint8"):
        pipe.step(np.zeros((H, W, 3), np.float32))


def test_default_tracker_fits_the_shipped_student_on_real_motion():
    """The README one-liner, ``MOTPipeline(detector).run(frames)``, with the default TrackerConfig on
    the replayed MOT15 TUD-Stadtmitte: the shipped student's peaks pass its thresholds, so it
    reports about one box per annotated person (at ByteTrack's 0.5 / 0.6 it would report far fewer)."""
    motmetrics = pytest.importorskip("motmetrics")
    import os

    from kdtrack_lite.checkpoint import load_checkpoint
    from kdtrack_lite.data.replay import replay_mot_gt
    from kdtrack_lite.paths import samples_dir

    gt = os.path.join(os.path.dirname(motmetrics.__file__), "data", "TUD-Stadtmitte", "gt.txt")
    seq = replay_mot_gt(gt)
    seq = type(seq)(seq.name, seq.frames[:60], seq.gt[seq.gt[:, 0] <= 60], seq.fps, {}, seq.meta)
    student = load_checkpoint(samples_dir() / "checkpoints" / "mot_student.pt").build()
    rows = MOTPipeline(student).run(seq.frames)
    assert 0.6 * len(seq.gt) <= len(rows) <= 1.5 * len(seq.gt), (len(rows), len(seq.gt))
