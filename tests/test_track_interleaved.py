import numpy as np
import pytest
import torch
from torch import nn

from kdtrack_lite.data.heatmap import render_heatmap
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.eval.interleaved import Variant, evaluate_variants
from kdtrack_lite.models import DecodeConfig, DetectorConfig
from kdtrack_lite.registry import build
from kdtrack_lite.track.interleaved import (InterleavedConfig, InterleavedPipeline, prior_from_states, propagate_states,
                                           student_tracker_config)
from kdtrack_lite.track.mot_tracker import TrackerConfig
from kdtrack_lite.track.kalman import BoxKalmanFilter
from kdtrack_lite.track.pipeline import MOTPipeline
from kdtrack_lite.track.schedules import AdaptiveConfig, AdaptiveSchedule, FixedSchedule, FrameSignals

from _scripted import scripted_outputs

H, W, S = 64, 96, 4


def _outputs(boxes_xyxy, peak=1.0):
    """Detector outputs that decode to ``boxes_xyxy`` with score ~``peak`` and zero motion offsets."""
    return scripted_outputs(boxes_xyxy, H, W, S, peak=peak)


class ScriptedDetector(nn.Module):
    """Returns the outputs of the frame it is told (``frame`` set by the test) and records priors."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs, self.priors, self.frames = list(outputs), [], []
        self.dummy = nn.Parameter(torch.zeros(1))
        self.frame = 0

    def forward(self, image, prev_image=None, prior_hm=None):
        self.frames.append(self.frame)
        self.priors.append(None if prior_hm is None else prior_hm[0, 0].numpy().copy())
        return self.outputs[self.frame]


def _moving_boxes(n):
    return [np.array([[10 + 3 * t, 10, 26 + 3 * t, 40], [60, 14 + 2 * t, 78, 38 + 2 * t]], float) for t in range(n)]


def _run_scripted(schedule, n=9, student_peak=0.35, cfg=None):
    boxes = _moving_boxes(n)
    teacher = ScriptedDetector(_outputs(b) for b in boxes)
    student = ScriptedDetector(_outputs(b, student_peak) for b in boxes)
    pipe = InterleavedPipeline(teacher, student, schedule, decode_cfg=DecodeConfig(score_threshold=0.2), cfg=cfg)
    pipe.reset()
    outs, states = [], {}
    rng = np.random.default_rng(0)
    for t in range(n):
        teacher.frame = student.frame = t
        outs.append(pipe.step(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)))
        states[t + 1] = pipe.tracker.output_states(pipe.tracker.cfg.prior_min_score)
    return pipe, teacher, student, outs, states


def test_fixed_schedule_pattern():
    assert [FixedSchedule(4).use_teacher(t, None) for t in range(1, 11)] == [t in (1, 5, 9) for t in range(1, 11)]
    s = FixedSchedule(1)
    assert all(s.use_teacher(t, None) for t in range(1, 6)) and s.calls == 5
    s = FixedSchedule(0)
    assert not any(s.use_teacher(t, None) for t in range(1, 6)) and s.calls == 0
    with pytest.raises(ValueError, match="k must be an int"):
        FixedSchedule(-1)


def _drive(schedule, confidences):
    """Feed per-frame confidences (the pipeline's signals) and return the teacher frames."""
    schedule.reset()
    last, calls = None, []
    for t, c in enumerate(confidences, start=1):
        teacher = schedule.use_teacher(t, last)
        if teacher:
            calls.append(t)
        assert schedule.calls <= 1 + schedule.cfg.budget * (t - 1) + 1e-9  # budget holds on every prefix
        last = FrameSignals(frame=t, teacher=teacher, confidence=c, consistency=1.0)
    return calls


def test_adaptive_schedule_decisions_and_budget():
    cfg = AdaptiveConfig(budget=0.25, min_confidence=0.2, min_confidence_ratio=0.8, min_gap=2, max_gap=6)
    # calm: only max_gap fires (1, 7, 13, 19)
    assert _drive(AdaptiveSchedule(cfg), [0.6] * 20) == [1, 7, 13, 19]
    # always below min_confidence: as often as the budget allows, i.e. the fixed k = 4 pattern
    assert _drive(AdaptiveSchedule(cfg), [0.1] * 20) == [1, 5, 9, 13, 17]
    # calm saves a token (frames 1, 7); a drop below 0.8 x the reference 0.6 on frame 9 spends it
    # on frame 10; the new reference is frame 11's 0.4, so 0.4 is no drop any more: max_gap -> 16
    conf = [0.6] * 8 + [0.4] * 12
    assert _drive(AdaptiveSchedule(cfg), conf) == [1, 7, 10, 16]
    # a second drop (0.4 -> 0.3 < 0.32, frame 13) is called on at frame 14; then max_gap again
    conf = [0.6] * 8 + [0.4] * 4 + [0.3] * 8
    assert _drive(AdaptiveSchedule(cfg), conf) == [1, 7, 10, 14, 20]
    # the bucket never allows more calls than the fixed schedule with k = 1 / budget
    rng = np.random.default_rng(0)
    for _ in range(20):
        calls = _drive(AdaptiveSchedule(cfg), rng.uniform(0, 1, 40))
        assert len(calls) <= len([t for t in range(1, 41) if (t - 1) % 4 == 0])
    with pytest.raises(ValueError, match="budget"):
        AdaptiveConfig(budget=1.5)


def test_ids_survive_switches_between_models():
    pipe, teacher, student, outs, _ = _run_scripted(FixedSchedule(3), n=9)
    assert teacher.frames == [0, 3, 6] and student.frames == [1, 2, 4, 5, 7, 8]
    np.testing.assert_array_equal(pipe.timeline, [t % 3 == 0 for t in range(9)])
    for out in outs:  # both objects on every frame, ids 1 and 2 from start to end
        assert sorted(out[:, 4].astype(int)) == [1, 2]
    boxes = _moving_boxes(9)
    owner = {int(i): int(np.argmin(np.abs(boxes[0] - b).sum(1))) for *b, i, _ in outs[0]}  # id -> object
    assert sorted(owner.values()) == [0, 1]
    for t, out in enumerate(outs):  # each id stays on its object through teacher -> student switches
        for *box, i, _ in out:
            np.testing.assert_allclose(box, boxes[t][owner[int(i)]], atol=1.5)


def test_student_prior_is_the_teacher_tracks_propagated_by_kalman():
    pipe, _, student, _, states = _run_scripted(FixedSchedule(4), n=8)
    # frame 5 (teacher), then student frames 6, 7, 8: prior of frame t = teacher states of frame 5
    # moved t - 1 - 5 Kalman steps
    ids, means, covs = states[5]
    assert len(ids) == 2
    kf = BoxKalmanFilter(pipe.tracker.cfg.kalman)
    for t, prior in zip((6, 7, 8), student.priors[-3:]):
        m, _ = propagate_states(kf, means, covs, t - 1 - 5)
        np.testing.assert_array_equal(prior, prior_from_states(m, H, W))
    # after two teacher frames the Kalman velocity is non-zero: the 3-step prior has moved right
    peak_x = lambda hm: np.unravel_index(np.argmax(hm[:, :50]), hm.shape)[1]  # object 1 lives at x < 50
    assert peak_x(student.priors[-1]) > peak_x(student.priors[-3])
    # own priors: the tracker's last output instead
    _, _, student_own, _, _ = _run_scripted(FixedSchedule(4), n=8, cfg=InterleavedConfig(prior_source="own"))
    assert not np.array_equal(student_own.priors[-1], student.priors[-1])


def _run_two_sources(teacher_boxes, student_boxes, schedule, cfg=None, student_peak=0.4, tracker_cfg=None):
    """Scripted teacher/student with their own per-frame boxes; returns the per-frame outputs."""
    teacher = ScriptedDetector(_outputs(b) for b in teacher_boxes)
    student = ScriptedDetector(_outputs(b, student_peak) for b in student_boxes)
    pipe = InterleavedPipeline(teacher, student, schedule, decode_cfg=DecodeConfig(score_threshold=0.2), cfg=cfg,
                               tracker_cfg=tracker_cfg)
    rng = np.random.default_rng(0)
    outs = []
    for t in range(len(teacher_boxes)):
        teacher.frame = student.frame = t
        outs.append(pipe.step(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)))
    return pipe, outs


def test_student_frames_confirm_teacher_tracks_but_start_none():
    n = 7
    moving = [np.array([[10 + 3 * t, 10, 26 + 3 * t, 40]], float) for t in range(n)]
    newcomer = np.array([60, 14, 78, 38], float)
    teacher = [m if t < 4 else np.vstack([m, newcomer]) for t, m in enumerate(moving)]
    student = [m if t < 1 else np.vstack([m, newcomer]) for t, m in enumerate(moving)]  # sees it from frame 2
    ids = lambda outs: [sorted(o[:, 4].astype(int).tolist()) for o in outs]
    # k = 4, student_high_score 0.35: the student's 0.4 detections keep track 1 in stage 1; the
    # newcomer is started by the teacher on frame 5 and confirmed by the student on frame 6
    low = InterleavedConfig(student_high_score=0.35, student_keeps_tentative=False, coast=0)
    _, outs = _run_two_sources(teacher, student, FixedSchedule(4), low)
    assert ids(outs) == [[1], [1], [1], [1], [1], [1, 2], [1, 2]]  # frame 5: the new track is tentative, not output
    # ... where a tracker with ByteTrack's thresholds (0.5 / 0.6) leaves the 0.4 detections to
    # stage 2 and lets no student detection confirm the teacher's new track
    plain = InterleavedConfig(student_high_score=None, student_births=True, student_keeps_tentative=False, coast=0)
    _, outs = _run_two_sources(teacher, student, FixedSchedule(4), plain,
                               tracker_cfg=TrackerConfig(high_score=0.5, new_track_score=0.6))
    assert ids(outs)[5:] == [[1], [1]]
    # with student births the student starts the newcomer itself (0.95 peak >= new_track_score)
    _, outs = _run_two_sources(teacher, [m if t < 1 else np.vstack([m, newcomer]) for t, m in enumerate(moving)],
                               FixedSchedule(4), InterleavedConfig(student_births=True, coast=0), student_peak=0.95)
    assert ids(outs)[2] == [1, 2]
    # before the teacher's first call (student only) the student starts tracks as usual
    _, outs = _run_two_sources(teacher, student, FixedSchedule(0), student_peak=0.95)
    assert ids(outs)[2] == [1, 2]
    # an object only the teacher sees: its tentative track waits through the student frames and
    # the next teacher frame confirms it; removed at the first student frame without that
    n = 10
    moving10 = [np.array([[10 + 3 * t, 10, 26 + 3 * t, 40]], float) for t in range(n)]
    teacher10 = [m if t < 1 else np.vstack([m, newcomer]) for t, m in enumerate(moving10)]
    _, outs = _run_two_sources(teacher10, moving10, FixedSchedule(4), InterleavedConfig(coast=0))
    # born tentative on frame 5 (teacher), kept through 6-8, confirmed on frame 9 (teacher), lost on 10
    assert [len(o) for o in outs] == [1] * 8 + [2, 1]
    _, outs = _run_two_sources(teacher10, moving10, FixedSchedule(4), InterleavedConfig(coast=3))
    assert [len(o) for o in outs] == [1] * 8 + [2, 2]  # ... or coasted on frame 10 (the default)
    _, outs = _run_two_sources(teacher10, moving10, FixedSchedule(4),
                               InterleavedConfig(student_keeps_tentative=False, coast=0))
    assert [len(o) for o in outs] == [1] * n


def test_student_tracker_config():
    base = TrackerConfig()
    cfg = student_tracker_config(base, InterleavedConfig(student_high_score=0.35))
    assert cfg.high_score == 0.35 and cfg.new_track_score == float("inf") and cfg.low_score == base.low_score
    assert cfg.tentative_max_age > 10**6
    plain = InterleavedConfig(student_high_score=None, student_births=True, student_keeps_tentative=False)
    assert student_tracker_config(base, plain) == base
    with pytest.raises(ValueError, match="below the tracker's low_score"):
        student_tracker_config(TrackerConfig(low_score=0.4), InterleavedConfig(student_high_score=0.35))
    with pytest.raises(ValueError, match="student_high_score"):
        InterleavedConfig(student_high_score=1.5)
    with pytest.raises(ValueError, match="coast"):
        InterleavedConfig(coast=-1)


def test_coast_outputs_teacher_tracks_the_student_missed():
    n = 5
    boxes = _moving_boxes(n)
    student = [b if t == 0 else b[:1] for t, b in enumerate(boxes)]  # the student misses object 2
    _, outs = _run_two_sources(boxes, student, FixedSchedule(4), InterleavedConfig(coast=0))
    assert [len(o) for o in outs] == [2, 1, 1, 1, 2]
    pipe, outs = _run_two_sources(boxes, student, FixedSchedule(4), InterleavedConfig(coast=2))
    assert [len(o) for o in outs] == [2, 2, 2, 1, 2]  # frames 2, 3: within 2 frames of the call
    missed = int(outs[0][np.argmin(np.abs(outs[0][:, :4] - boxes[0][1]).sum(1)), 4])  # object 2's id
    assert all(sorted(o[:, 4].astype(int)) == [1, 2] for o in outs[:3]) and missed in outs[4][:, 4]
    # the coasted box is the track's Kalman prediction (the filter has seen object 2 once, so it
    # predicts no motion): frame 1's box, not the true frame-2 box
    np.testing.assert_allclose(outs[1][outs[1][:, 4] == missed, :4][0], boxes[0][1], atol=1e-6)
    # coasting changes the output only: the track is still lost and re-matched by the teacher
    assert [s.consistency for s in pipe.signals[1:3]] == [0.5, 0.5]  # signals see the student's own output
    last = pipe.tracker.results_rows()
    np.testing.assert_array_equal(pipe.tracker.coast([999, *last[:, 1]]), pipe.tracker._last_output)  # no-op
    assert len(pipe.tracker.results_rows()) == len(last)  # unknown ids and ids already output are skipped


def test_propagate_states_moves_centres_by_velocity():
    kf = BoxKalmanFilter()
    mean = np.array([[20.0, 30.0, 10.0, 20.0, 3.0, -1.0, 0.0, 0.0]])
    cov = np.eye(8)[None]
    moved, _ = propagate_states(kf, mean, cov, 4)
    np.testing.assert_allclose(moved[0, :4], [32.0, 26.0, 10.0, 20.0])
    hm = prior_from_states(moved, H, W)
    np.testing.assert_array_equal(hm, render_heatmap(np.array([[27.0, 16.0, 37.0, 36.0]]), H, W))
    with pytest.raises(ValueError, match="steps"):
        propagate_states(kf, mean, cov, -1)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    teacher = build("centertrack", DetectorConfig.preset("teacher")).eval()
    student = build("centertrack", DetectorConfig.preset("student")).eval()
    seq = generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=6, width=96, height=64, max_height=30,
                                                    min_height=10, density=5), seed=0)
    return teacher, student, seq


def test_k1_and_student_only_equal_the_single_model_pipeline(tiny):
    teacher, student, seq = tiny
    dec = DecodeConfig(k=20)
    ref_t = MOTPipeline(teacher, decode_cfg=dec).run(seq.frames)
    got_t = InterleavedPipeline(teacher, student, FixedSchedule(1), decode_cfg=dec).run(seq.frames)
    np.testing.assert_array_equal(got_t, ref_t)
    ref_s = MOTPipeline(student, decode_cfg=dec).run(seq.frames)
    own = InterleavedConfig(prior_source="own", embeddings="student")
    got_s = InterleavedPipeline(teacher, student, FixedSchedule(0), decode_cfg=dec, cfg=own).run(seq.frames)
    np.testing.assert_array_equal(got_s, ref_s)


def test_evaluate_variants_end_to_end(tiny):
    teacher, student, seq = tiny
    res = evaluate_variants(teacher, student, [seq], {"k=2": Variant(FixedSchedule(2)),
                                                      "adaptive": Variant(AdaptiveSchedule())})
    assert list(res.table.index) == ["k=2", "adaptive"]
    assert res.table.loc["k=2", "teacher_calls"] == 3 and res.table.loc["k=2", "frames"] == 6
    np.testing.assert_array_equal(res.timelines["k=2"][seq.name], [1, 0, 1, 0, 1, 0])
    assert (res.table["fps"] > 0).all() and res.table["HOTA"].between(0, 100).all()
    with pytest.raises(ValueError, match="prior_source"):
        InterleavedConfig(prior_source="gt")



def test_evaluate_variants_folds_bn_without_changing_the_tracks():
    from kdtrack_lite.checkpoint import load_checkpoint
    from kdtrack_lite.paths import samples_dir

    ckpt = samples_dir() / "checkpoints"
    teacher = load_checkpoint(ckpt / "mot_teacher.pt").build().eval()
    student = load_checkpoint(ckpt / "mot_student.pt").build().eval()
    seq = generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=8), seed=3)
    variants = {"k=2": Variant(FixedSchedule(2)), "student": Variant(FixedSchedule(0))}
    folded = evaluate_variants(teacher, student, [seq], variants)
    plain = evaluate_variants(teacher, student, [seq], variants, fuse=False)
    for name in variants:
        a, b = folded.results[name][seq.name], plain.results[name][seq.name]
        assert len(a) > 10 and a.shape == b.shape  # trained detectors: real tracks to compare
        np.testing.assert_allclose(a, b, atol=1e-3)
    assert (folded.table["HOTA"] - plain.table["HOTA"]).abs().max() < 1e-6
    # the caller's detectors are left as they were (BatchNorm still there)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in student.modules())


def test_frontier_gain_interpolates_between_fixed_schedules():
    import pandas as pd

    from kdtrack_lite.eval.interleaved import frontier_gain

    table = pd.DataFrame({"teacher_calls": [300, 152, 76, 103], "HOTA": [57.5, 52.1, 50.3, 51.3]},
                         index=["k=2", "k=4", "k=8", "adaptive"])
    # hand-computed: 50.3 + (52.1 - 50.3) * (103 - 76) / (152 - 76) = 50.9395 -> gain 0.3605
    assert abs(frontier_gain(table, "adaptive", ["k=2", "k=4", "k=8"]) - 0.3605263) < 1e-6
    assert abs(frontier_gain(table, "k=4", ["k=2", "k=4", "k=8"])) < 1e-12  # on the frontier itself
    with pytest.raises(ValueError, match="outside the fixed rows' range"):
        frontier_gain(table, "adaptive", ["k=2", "k=4"])
    with pytest.raises(ValueError, match="missing"):
        frontier_gain(table, "k=16", ["k=2", "k=4"])


def _teacher_frames(schedule, n, signals):
    """Drive ``schedule`` over frames 1..n (reset first); ``signals(t, teacher) -> FrameSignals`` of
    frame ``t``. Returns the frames the teacher ran on."""
    schedule.reset()
    last, calls = None, []
    for t in range(1, n + 1):
        teacher = schedule.use_teacher(t, last)
        calls += [t] if teacher else []
        last = signals(t, teacher)
    return calls


def test_adaptive_schedule_calls_on_unclaimed_detections():
    cfg = AdaptiveConfig(budget=0.25, min_confidence=0.0, min_confidence_ratio=0.0, min_consistency=0.0,
                         min_gap=2, max_gap=6, max_unclaimed=2)
    signals = {4: 1, 9: 2}  # frame -> unclaimed detections the student left on it

    def drive(schedule):
        return _teacher_frames(schedule, 14, lambda t, teacher: FrameSignals(
            frame=t, teacher=teacher, confidence=0.9, consistency=1.0, unclaimed=0 if teacher else signals.get(t, 0)))

    # 1 unclaimed on frame 4 is below max_unclaimed; 2 on frame 9 calls the teacher on frame 10
    assert drive(AdaptiveSchedule(cfg)) == [1, 7, 10]
    off = AdaptiveConfig(budget=0.25, min_confidence=0.0, min_confidence_ratio=0.0, min_consistency=0.0,
                         min_gap=2, max_gap=6)
    assert drive(AdaptiveSchedule(off)) == [1, 7, 13]  # signal ignored by default: max_gap only
    with pytest.raises(ValueError, match="max_unclaimed"):
        AdaptiveConfig(max_unclaimed=0)


def test_tracker_counts_unclaimed_detections():
    from kdtrack_lite.track.mot_tracker import MOTTracker, TrackerConfig

    tr = MOTTracker(TrackerConfig(high_score=0.5, low_score=0.1, new_track_score=0.6, min_hits=1))
    tr.update(np.array([[10, 10, 30, 50, 0.9, 0]], float))  # one confirmed track
    assert tr.unclaimed == 1  # on the first frame nothing existed to claim it
    # the track's detection again, a far high one (starts a track) and a far low one; 0.05 < low_score
    dets = np.array([[11, 10, 31, 50, 0.9, 0], [100, 100, 120, 140, 0.8, 0], [200, 10, 220, 50, 0.3, 0],
                     [300, 10, 320, 50, 0.05, 0]], float)
    tr.update(dets)
    assert tr.unclaimed == 2
    tr.reset()
    assert tr.unclaimed == 0


def test_adaptive_schedule_calls_when_tracks_close_in():
    cfg = AdaptiveConfig(budget=0.25, min_confidence=0.0, min_confidence_ratio=0.0, min_consistency=0.0,
                         min_gap=2, max_gap=6, max_overlap=0.2)
    assert AdaptiveSchedule(cfg).needs_overlap and not AdaptiveSchedule().needs_overlap
    overlaps = {3: 0.1, 9: 0.25}  # frame -> predicted overlap of closing tracks on it

    calls = _teacher_frames(AdaptiveSchedule(cfg), 14, lambda t, teacher: FrameSignals(
        frame=t, teacher=teacher, confidence=0.9, consistency=1.0, overlap=overlaps.get(t, 0.0)))
    assert calls == [1, 7, 10]  # 0.1 is below max_overlap; 0.25 on frame 9 -> frame 10
    with pytest.raises(ValueError, match="max_overlap"):
        AdaptiveConfig(max_overlap=0.0)


def test_predicted_overlap_counts_only_tracks_closing_in():
    from kdtrack_lite.track.mot_tracker import MOTTracker

    tr = MOTTracker(TrackerConfig(min_hits=1))
    assert tr.predicted_overlap() == 0.0
    # two boxes 10 px apart moving towards each other at 4 px/frame each, a third far away
    for t in range(4):
        tr.update(np.array([[10 + 4 * t, 10, 30 + 4 * t, 50, 0.9, 0], [40 - 4 * t, 10, 60 - 4 * t, 50, 0.9, 0],
                            [200, 10, 220, 50, 0.9, 0]], float))
    a, b = (tr.tracks[i].mean for i in (0, 1))
    assert a[4] > 0 > b[4]  # the Kalman filter learnt the approach
    ahead = [np.r_[m[:2] + m[4:6] - m[2:4] / 2, m[:2] + m[4:6] + m[2:4] / 2] for m in (a, b)]
    from kdtrack_lite.boxes import box_iou
    expected = box_iou(np.array(ahead[:1]), np.array(ahead[1:]))[0, 0]
    assert expected > 0.1 and abs(tr.predicted_overlap() - expected) < 1e-9
    # the same two boxes moving apart: overlapping now, but not closing in
    tr.reset()
    for t in range(4):
        tr.update(np.array([[20 - 4 * t, 10, 40 - 4 * t, 50, 0.9, 0], [30 + 4 * t, 10, 50 + 4 * t, 50, 0.9, 0]], float))
    assert tr.predicted_overlap() == 0.0


def _seq_with_visibility(vis_rows):
    """A tiny sequence whose ground truth has the given ``(frame, id, visibility)`` rows."""
    from kdtrack_lite.data.sequence import MOTSequence

    gt = np.array([[f, i, 10 * i, 10, 8, 8, 1, 1, v] for f, i, v in vis_rows], float)
    return MOTSequence(name="events", frames=np.zeros((6, 8, 8, 3), np.uint8), gt=gt)


def test_gt_events_and_the_event_oracle():
    from kdtrack_lite.eval.interleaved import gt_events
    from kdtrack_lite.track.oracles import EventSchedule

    # id 1 on every frame, occluded (vis 0.2) on frames 3-4; id 2 enters on frame 5
    rows = [(f, 1, 0.2 if f in (3, 4) else 1.0) for f in range(1, 7)] + [(5, 2, 1.0), (6, 2, 1.0)]
    seq = _seq_with_visibility(rows)
    np.testing.assert_array_equal(gt_events(seq), [3, 5])  # occluded on 3; reappears and id 2 enters on 5
    np.testing.assert_array_equal(gt_events(seq, min_visibility=0.0), [5])
    with pytest.raises(ValueError, match="min_visibility"):
        gt_events(seq, 1.5)

    cfg = AdaptiveConfig(budget=0.25, min_gap=2, max_gap=8)
    events = {"a": [5, 6, 12], "b": [3]}
    for lag, want in ((0, [1, 5, 12]), (1, [1, 6, 13])):
        s = EventSchedule(lambda q: events[q], cfg, lag=lag)
        s.begin("a")
        calls = _teacher_frames(s, 15, lambda t, teacher: FrameSignals(  # signals are ignored
            frame=t, teacher=teacher, confidence=0.0, consistency=0.0))
        assert calls == want, (lag, calls)
    with pytest.raises(ValueError, match="lag"):
        EventSchedule(gt_events, lag=-1)
    from kdtrack_lite.eval.interleaved import oracle_schedules

    oracles = oracle_schedules(0.5)
    assert list(oracles) == ["oracle events", "oracle events +1", "oracle errors"]
    assert [getattr(o, "lag", None) for o in oracles.values()] == [0, 1, None]
    assert all(o.cfg.budget == 0.5 for o in oracles.values())


def test_evaluate_variants_tells_each_schedule_its_sequence(tiny):
    from kdtrack_lite.track.oracles import EventSchedule

    teacher, student, seq = tiny
    seen = []
    oracle = EventSchedule(lambda q: seen.append(q.name) or [3], AdaptiveConfig(budget=0.5, min_gap=1, max_gap=8))
    res = evaluate_variants(teacher, student, [seq], {"oracle": Variant(oracle)})
    assert seen == [seq.name]
    np.testing.assert_array_equal(res.timelines["oracle"][seq.name], [1, 0, 1, 0, 0, 0])


def test_error_oracle_calls_when_the_student_does_worse_than_the_teacher():
    from kdtrack_lite.track.oracles import ErrorOracleSchedule

    # two objects, both on frames 1-9 (tlwh rows)
    seq = _seq_with_visibility([(f, i, 1.0) for f in range(1, 10) for i in (1, 2)])
    boxes = {i: np.array([10 * i, 10, 10 * i + 8, 18], float) for i in (1, 2)}

    def out(ids):  # tracks on the ground-truth boxes: object i -> track id ids[i] (None: missed)
        return np.array([[*boxes[i], tid, 0.9] for i, tid in ids.items() if tid is not None], float).reshape(-1, 6)

    outputs = {1: out({1: 1, 2: 2}), 2: out({1: 1, 2: 2}), 3: out({1: 1, 2: None}),  # frame 3: a miss
               4: out({1: 1, 2: 2}), 5: out({1: 1, 2: 2}), 6: out({1: 1, 2: 2}), 7: out({1: 2, 2: 1}),  # 7: swap
               8: out({1: 2, 2: 1}), 9: out({1: 2, 2: 1})}
    s = ErrorOracleSchedule(AdaptiveConfig(budget=0.5, min_gap=2, max_gap=8))
    with pytest.raises(RuntimeError, match="begin"):
        s.use_teacher(1, None)
    s.begin(seq)
    calls = _teacher_frames(s, 9, lambda t, teacher: FrameSignals(
        frame=t, teacher=teacher, confidence=1.0, consistency=1.0, tracks=outputs[t]))
    # frame 3's miss -> teacher on 4; frame 7's id swap -> teacher on 8 (8 - 4 >= min_gap, budget 1 + 0.5 * 7 - 2)
    assert calls == [1, 4, 8], calls
    assert s.errors(9, out({1: 2, 2: None})) == (1, 0)
    with pytest.raises(ValueError, match="iou"):
        ErrorOracleSchedule(iou=0.0)


def test_ground_truth_errors_counts_misses_false_tracks_and_id_changes():
    from kdtrack_lite.track.oracles import GroundTruthErrors

    gt = np.array([[1, 1, 0, 0, 10, 10, 1, 1, 1], [1, 2, 50, 0, 10, 10, 1, 1, 1], [1, 3, 90, 0, 10, 10, 0, 1, 1],
                   [2, 1, 0, 0, 10, 10, 1, 1, 1]], float)  # object 3 has conf 0: ignored
    count = GroundTruthErrors(gt)
    # frame 1: object 1 found (track 7), object 2 missed, one false track far away, nothing near object 3
    assert count(1, np.array([[0, 0, 10, 10, 7, 0.9], [200, 0, 210, 10, 8, 0.9]], float)) == (2, 0)
    assert count(2, np.array([[1, 0, 11, 10, 9, 0.9]], float)) == (0, 1)  # IoU 0.82: matched, but id 7 -> 9
    assert count(3, None) == (0, 0)  # no ground truth, no tracks
    count.reset()
    assert count(2, np.array([[1, 0, 11, 10, 9, 0.9]], float)) == (0, 0)  # memory cleared
    assert count(2, np.array([[6, 0, 16, 10, 9, 0.9]], float)) == (2, 0)  # IoU 1/3 < 0.5: a miss and a false track
    with pytest.raises(ValueError, match="gt must be"):
        GroundTruthErrors(np.zeros((3, 4)))


def test_errors_by_gap_averages_errors_by_frames_since_the_teacher():
    from kdtrack_lite.eval.interleaved import errors_by_gap

    seq = _seq_with_visibility([(f, i, 1.0) for f in range(1, 7) for i in (1, 2)])
    timeline = np.array([1, 0, 0, 1, 0, 0], bool)
    rows = []
    for f in range(1, 7):
        for i in (1, 2):
            gap = (f - 1) % 3
            if gap == 2 and i == 2:
                continue  # object 2 missed two frames after each teacher call
            tid = 5 if (f == 5 and i == 1) else i  # frame 5: object 1 comes back under another id
            rows.append([f, tid, 10 * i, 10, 8, 8, 0.9, -1, -1, -1])
    res = errors_by_gap([seq], {seq.name: np.array(rows, float)}, {seq.name: timeline})
    assert list(res.index) == [0, 1, 2] and list(res["frames"]) == [2, 2, 2]
    np.testing.assert_allclose(res["errors"], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(res["id_changes"], [0.0, 0.5, 0.5])  # 1 -> 5 on frame 5 (gap 1), 5 -> 1 on 6 (gap 2)
    with pytest.raises(ValueError, match="no frame"):
        errors_by_gap([seq], {seq.name: np.zeros((0, 10))}, {seq.name: np.zeros(6, bool)})
