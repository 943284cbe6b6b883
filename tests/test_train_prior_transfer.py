import numpy as np
import pytest

from kdtrack_lite.boxes import xyxy_to_tlwh
from kdtrack_lite.data.datasets import CenterTrackPairs, PairConfig
from kdtrack_lite.data.heatmap import render_heatmap
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.train.prior_transfer import TeacherPriorPairs, finetune_prior_student


@pytest.fixture(scope="module")
def seq():
    return generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=6, width=96, height=64, max_height=30,
                                                     min_height=10, density=5), seed=0)


def _teacher_rows(name_frames=6):
    """A fake teacher track (id 7) moving +2 px/frame in x, score 0.9, plus a low-score one (0.3)."""
    rows = []
    for f in range(1, name_frames + 1):
        box = np.array([10.0 + 2 * f, 20.0, 26.0 + 2 * f, 50.0])
        rows.append([f, 7, *xyxy_to_tlwh(box[None])[0], 0.9, -1, -1, -1])
        rows.append([f, 8, 60, 10, 12, 20, 0.3, -1, -1, -1])
    return np.array(rows)


def test_teacher_prior_boxes_are_stale_boxes_moved_by_constant_velocity(seq):
    ds = TeacherPriorPairs([seq], {seq.name: _teacher_rows()}, PairConfig(), max_staleness=3)
    rng = np.random.default_rng(0)
    for _ in range(20):  # any staleness: constant-velocity propagation lands on the frame-5 box exactly
        boxes = ds.prior_boxes(0, 5, np.zeros((0, 4)), rng)
        np.testing.assert_allclose(boxes, [[20.0, 20.0, 36.0, 50.0]])  # the 0.3-score track is not rendered
    # frame 1 has no earlier frame: the box stays where the teacher saw it
    np.testing.assert_allclose(ds.prior_boxes(0, 1, np.zeros((0, 4)), rng), [[12.0, 20.0, 28.0, 50.0]])


def test_teacher_prior_heatmap_without_noise_renders_the_teacher_boxes(seq):
    cfg = PairConfig(max_frame_gap=1, hm_jitter=0.0, drop_prob=0.0, fp_prob=0.0)
    ds = TeacherPriorPairs([seq], {seq.name: _teacher_rows()}, cfg, max_staleness=0)
    item = ds[3]  # frame 4, previous frame 3
    ref = render_heatmap(np.array([[16.0, 20.0, 32.0, 50.0]]), 64, 96, stride=1)
    np.testing.assert_array_equal(item["prior_hm"][0].numpy(), ref)
    base = CenterTrackPairs([seq], cfg)[3]  # everything but the prior is the plain CenterTrack item
    for key in ("image", "prev_image", "hm", "ind", "wh", "tracking"):
        np.testing.assert_array_equal(item[key].numpy(), base[key].numpy())


def test_errors_name_the_problem(seq):
    with pytest.raises(ValueError, match="no rows for sequence"):
        TeacherPriorPairs([seq], {}, PairConfig())
    with pytest.raises(ValueError, match="prior must be one of"):
        finetune_prior_student(None, None, prior="oracle")


def test_finetune_trains_on_the_students_device(seq, monkeypatch):
    """A Colab GPU runtime puts teacher and student on CUDA (notebook 07); the fine-tune must train
    there too, or its validation would pair a CUDA teacher with a CPU student. (CUDA itself was
    checked on an H100 in session 17; here the device is read from the student and handed to fit.)"""
    import kdtrack_lite.train.prior_transfer as pt
    from kdtrack_lite.distill.loop import History, TrainConfig
    from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack

    seen = {}
    monkeypatch.setattr(pt, "fit", lambda distiller, *a, **k: seen.update(device=k["device"]) or History())
    student = build_centertrack(DetectorConfig.preset("student"))
    budget = TrainConfig.make("fast", epochs=1, steps_per_epoch=1)
    model, _ = finetune_prior_student(student, student, "gt", train_cfg=budget, train_sequences=[seq],
                                      val_sequences=[seq])
    assert seen["device"] == next(student.parameters()).device == next(model.parameters()).device
