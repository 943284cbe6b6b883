import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from kdtrack_lite.boxes import box_iou
from kdtrack_lite.data.motchallenge import read_mot_txt, write_mot_results
from kdtrack_lite.track import (
    BoxKalmanFilter, KalmanConfig, MOTTracker, TrackerConfig, embedding_cost, fused_cost, iou_cost,
    kf_predict, kf_update, linear_assignment, tracks_to_mot_rows,
)


# ---------------------------------------------------------------- Kalman
def test_kalman_1d_constant_velocity_matches_hand_computation():
    # state [x, v], F = [[1, 1], [0, 1]], Q = diag(0.1, 0.1), H = [1, 0], R = 1
    f = np.array([[1.0, 1.0], [0.0, 1.0]])
    q = np.diag([0.1, 0.1])[None]
    mean, cov = np.array([[0.0, 1.0]]), np.eye(2)[None]
    mean, cov = kf_predict(mean, cov, f, q)
    # x' = 0 + 1 = 1, v' = 1; P' = F P F^T + Q = [[2.1, 1], [1, 1.1]]
    np.testing.assert_allclose(mean, [[1.0, 1.0]])
    np.testing.assert_allclose(cov[0], [[2.1, 1.0], [1.0, 1.1]])
    mean, cov = kf_update(mean, cov, np.array([[2.0]]), np.array([[1.0, 0.0]]), np.array([[[1.0]]]))
    # S = 3.1, K = [2.1, 1] / 3.1, innovation 1 -> x = 1 + 2.1/3.1, v = 1 + 1/3.1
    np.testing.assert_allclose(mean, [[1 + 2.1 / 3.1, 1 + 1 / 3.1]])
    # P = P' - K H P' = [[2.1 - 2.1^2/3.1, 1 - 2.1/3.1], [., 1.1 - 1/3.1]]
    np.testing.assert_allclose(cov[0], [[2.1 - 2.1**2 / 3.1, 1 - 2.1 / 3.1],
                                        [1 - 2.1 / 3.1, 1.1 - 1 / 3.1]])


def test_box_kalman_learns_a_constant_velocity_and_gates():
    kf = BoxKalmanFilter(KalmanConfig())
    box = np.array([[50.0, 40.0, 20.0, 40.0]])
    mean, cov = kf.initiate(box)
    for t in range(1, 15):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, box + [[3.0 * t, -1.0 * t, 0, 0]])
    np.testing.assert_allclose(mean[0, 4:6], [3.0, -1.0], atol=0.2)
    pred, _ = kf.predict(mean, cov)
    np.testing.assert_allclose(pred[0, :2], [50 + 45, 40 - 15], atol=0.5)
    d = kf.gating_distance(pred, _, np.array([[95.0, 25.0, 20, 40], [150.0, 25.0, 20, 40]]))
    assert d.shape == (1, 2) and d[0, 0] < 9.49 < d[0, 1]  # chi2(4 dof) 95% quantile


# ---------------------------------------------------------------- association
def test_costs_and_assignment_against_references():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]])
    b = np.array([[21, 21, 31, 31], [0, 1, 10, 11], [100, 100, 110, 110.0]])
    np.testing.assert_allclose(iou_cost(a, b), 1 - box_iou(a, b))
    e1 = np.array([[1.0, 0.0], [0.0, 2.0]])
    e2 = np.array([[0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(embedding_cost(e1, e2), [[1, 1 - 2**-0.5, 1], [0, 1 - 2**-0.5, 1]])
    fused = fused_cost(iou_cost(a, b), embedding_cost(e1, e2), 0.5, iou_gate=0.1)
    assert np.isinf(fused[:, 2]).all() and np.isfinite(fused[0, 1])
    cost = np.array([[0.1, 0.2, 0.9], [0.15, 0.8, 0.3]])
    matches, ur, uc = linear_assignment(cost, thresh=0.5)
    rows, cols = linear_sum_assignment(cost)
    assert sorted(map(tuple, matches)) == sorted(zip(rows, cols)) == [(0, 1), (1, 0)]
    assert ur.size == 0 and uc.tolist() == [2]
    matches, ur, uc = linear_assignment(cost, thresh=0.12)  # only (0, 0) is cheap enough
    assert matches.tolist() == [[0, 0]] and ur.tolist() == [1] and uc.tolist() == [1, 2]
    assert linear_assignment(np.zeros((0, 3)), 0.5)[2].tolist() == [0, 1, 2]


# ---------------------------------------------------------------- tracker
def _det(cx, cy, w=20.0, h=40.0, score=0.9):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, 0.0]


def _run(tracker, frames):
    """frames: list of lists of detections -> list of {track_id: box} per frame."""
    out = []
    for dets in frames:
        tracks = tracker.update(np.array(dets, float).reshape(-1, 6))
        out.append({int(t[4]): t[:4] for t in tracks})
    return out


def _id_near(frame_out, cx):
    ids = [i for i, b in frame_out.items() if abs((b[0] + b[2]) / 2 - cx) < 6]
    assert len(ids) == 1, frame_out
    return ids[0]


def test_two_crossing_tracks_keep_their_ids():
    frames = [[_det(20 + 6 * t, 60), _det(200 - 6 * t, 66)] for t in range(31)]
    out = _run(MOTTracker(TrackerConfig()), frames)
    first_a, first_b = _id_near(out[0], 20), _id_near(out[0], 200)
    assert (first_a, first_b) == (1, 2)
    last_a, last_b = _id_near(out[-1], 20 + 180), _id_near(out[-1], 200 - 180)
    assert (last_a, last_b) == (first_a, first_b)
    assert all(set(o) == {1, 2} for o in out)


def test_occlusion_gap_and_missed_detection_keep_the_id():
    cfg = TrackerConfig(max_age=10)
    frames = [[_det(30 + 4 * t, 50)] if not (10 <= t < 15 or t == 20) else [] for t in range(30)]
    out = _run(MOTTracker(cfg), frames)
    ids = {i for o in out for i in o}
    assert ids == {1}
    assert [len(o) for o in out] == [0 if (10 <= t < 15 or t == 20) else 1 for t in range(30)]
    # a gap longer than max_age ends the track: the object comes back with a new id
    frames = [[_det(30 + 4 * t, 50)] if not (5 <= t < 5 + 13) else [] for t in range(25)]
    out = _run(MOTTracker(cfg), frames)
    assert _id_near(out[0], 30) == 1 and _id_near(out[-1], 30 + 4 * 24) == 2


def test_low_score_detection_is_recovered_in_the_second_stage():
    cfg = TrackerConfig(high_score=0.5, low_score=0.1)
    frames = [[_det(30 + 4 * t, 50, score=0.9 if t not in (6, 7) else 0.3)] for t in range(10)]
    tracker = MOTTracker(cfg)
    out = _run(tracker, frames)
    assert all(list(o) == [1] for o in out)
    np.testing.assert_allclose(tracker._last_output[0, 5], 0.9)
    assert out[6][1][0] == pytest.approx(30 + 24 - 10, abs=1.5)  # the low-score box was used
    # without a track to match, low-score detections start nothing
    assert _run(MOTTracker(cfg), [[_det(30, 50, score=0.3)]] * 5) == [{}] * 5
    # ... and a detection below low_score is ignored even with a track: the track goes lost
    lost = _run(MOTTracker(cfg), [[_det(30, 50)]] * 3 + [[_det(30, 50, score=0.05)]])
    assert lost[-1] == {}


def test_appearance_resolves_an_identity_swap_iou_alone_cannot():
    # two same-size objects swap places between frames; embeddings say who is who
    e = np.eye(2)
    t = MOTTracker(TrackerConfig(appearance_weight=0.9, iou_gate=0.0, match_thresh_first=0.95))
    a, b = _det(50, 50, 40, 40), _det(70, 50, 40, 40)
    t.update(np.array([a, b]), embeddings=e)
    out = t.update(np.array([b, a]), embeddings=e)  # a is now at 70, b at 50
    ids = {int(r[4]): (r[0] + r[2]) / 2 for r in out}
    assert ids[1] == pytest.approx(70, abs=8) and ids[2] == pytest.approx(50, abs=8)


def test_ids_are_owned_by_the_instance_and_reset():
    dets = np.array([_det(30, 50), _det(100, 50)])
    t1, t2 = MOTTracker(), MOTTracker()
    assert t1.update(dets)[:, 4].tolist() == [1, 2]
    assert t2.update(dets)[:, 4].tolist() == [1, 2]
    t1.update(dets[:0]), t1.update(dets[:0])
    t1.reset()
    assert t1.update(dets)[:, 4].tolist() == [1, 2] and t1.frame_count == 1
    with pytest.raises(ValueError, match="detections must be"):
        t1.update(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="embeddings must be"):
        t1.update(dets, embeddings=np.zeros((3, 4)))


def test_ground_truth_trajectories_get_one_id_each_for_their_whole_life():
    rng = np.random.default_rng(0)
    n_frames, objs = 60, []

    def centre(obj, f):
        return obj[2] + obj[3] * (f - obj[0])

    while len(objs) < 6:  # start, end, start position, velocity, size; objects never merge
        start = int(rng.integers(0, 20)) if objs else 0
        new = (start, int(rng.integers(40, n_frames + 1)), rng.uniform([20, 20], [230, 170]),
               rng.uniform(-2.5, 2.5, 2), rng.uniform([14, 30], [24, 50]))
        if all(np.hypot(*(centre(new, f) - centre(o, f))) > 20
               for o in objs for f in range(max(new[0], o[0]), min(new[1], o[1]))):
            objs.append(new)
    tracker = MOTTracker(TrackerConfig())
    seen: dict[int, set] = {k: set() for k in range(len(objs))}
    covered = {k: 0 for k in range(len(objs))}
    rows = []
    for f in range(n_frames):
        gt, dets = [], []
        for k, (s, e, p, v, wh) in enumerate(objs):
            if s <= f < e:
                c = p + v * (f - s)
                gt.append((k, c))
                dets.append(_det(*(c + rng.normal(0, 0.7, 2)), *wh, score=rng.uniform(0.6, 1.0)))
        out = tracker.update(np.array(dets).reshape(-1, 6))
        rows.append(tracker.results_rows(f + 1))
        for k, c in gt:
            dist = [np.hypot((r[0] + r[2]) / 2 - c[0], (r[1] + r[3]) / 2 - c[1]) for r in out]
            if dist and min(dist) < 4:
                seen[k].add(int(out[int(np.argmin(dist)), 4]))
                covered[k] += 1
    assert all(len(ids) == 1 for ids in seen.values()), seen
    assert len(set.union(*seen.values())) == len(objs)
    for k, (s, e, *_) in enumerate(objs):  # every frame except the tentative first one
        assert covered[k] >= (e - s) - 1
    rows = np.concatenate(rows)
    assert rows.shape[1] == 10 and (rows[:, 7:] == -1).all() and rows[:, 1].min() == 1


def test_mot_rows_and_writer(tmp_path):
    tracks = np.array([[10.0, 20.0, 30.0, 60.0, 3, 0.75]])
    rows = tracks_to_mot_rows(tracks, 7)
    np.testing.assert_allclose(rows, [[7, 3, 10, 20, 20, 40, 0.75, -1, -1, -1]])
    path = tmp_path / "res" / "seq.txt"
    write_mot_results(path, np.concatenate([rows, rows + [[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]]]))
    np.testing.assert_allclose(read_mot_txt(path, "results"), np.concatenate([rows, rows + [[1, 1] + [0] * 8]]))


def test_tracking_offsets_carry_a_match_the_kalman_prediction_misses():
    # steady 2 px/frame, then a 40 px jump: no overlap with the Kalman prediction
    centres = [30 + 2 * t for t in range(6)] + [30 + 2 * 5 + 40 + 2 * t for t in range(1, 4)]
    frames = [np.array([_det(c, 50)]) for c in centres]
    offsets = [np.array([[-(centres[t] - centres[t - 1] if t else 0.0), 0.0]]) for t in range(len(centres))]
    plain, with_offsets = MOTTracker(), MOTTracker()
    ids_plain = [plain.update(d)[:, 4].tolist() for d in frames]
    ids_off = [with_offsets.update(d, tracking_offsets=o)[:, 4].tolist() for d, o in zip(frames, offsets)]
    assert ids_off == [[1]] * len(frames)
    assert ids_plain[6] == [] and ids_plain[-1] == [2]  # without offsets the jump starts a new track
    off_cfg = MOTTracker(TrackerConfig(use_tracking_offset=False))
    assert [off_cfg.update(d, tracking_offsets=o)[:, 4].tolist() for d, o in zip(frames, offsets)] == ids_plain
    with pytest.raises(ValueError, match="tracking_offsets"):
        MOTTracker().update(frames[0], tracking_offsets=np.zeros((2, 2)))


def test_prior_heatmap_renders_confident_tracks_like_render_heatmap():
    from kdtrack_lite.data.heatmap import render_heatmap

    tracker = MOTTracker()
    for t in range(5):
        out = tracker.update(np.array([_det(30 + 4 * t, 50, score=0.9), _det(120, 60, score=0.65)]))
    assert len(out) == 2
    np.testing.assert_array_equal(tracker.prior_heatmap(100, 160), render_heatmap(out[:, :4], 100, 160))
    strict = MOTTracker(TrackerConfig(prior_min_score=0.7))
    for t in range(15):
        out = strict.update(np.array([_det(30 + 4 * t, 50, score=0.9), _det(120, 60, score=0.65)]))
    np.testing.assert_array_equal(strict.prior_heatmap(100, 160), render_heatmap(out[:1, :4], 100, 160))
    ahead = strict.prior_heatmap(100, 160, predicted=True)  # one frame ahead at the learnt 4 px/frame
    y, x = np.unravel_index(ahead.argmax(), ahead.shape)
    assert x == pytest.approx(30 + 4 * 15, abs=1) and y == 50
