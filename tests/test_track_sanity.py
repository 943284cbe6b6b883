"""Sanity: the MOT tracker fed ground-truth boxes as detections is a near-perfect tracker."""

import numpy as np

from kdtrack_lite.boxes import tlwh_to_xyxy
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.eval import evaluate_mot
from kdtrack_lite.track import MOTTracker, TrackerConfig


def test_tracker_on_ground_truth_detections_is_near_perfect():
    seq = generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=60), seed=7)
    visible = seq.gt[seq.gt[:, 8] >= 0.3]  # what a detector could see
    tracker, rows = MOTTracker(TrackerConfig()), []
    for frame in range(1, seq.num_frames + 1):
        g = visible[visible[:, 0] == frame]
        dets = np.concatenate([tlwh_to_xyxy(g[:, 2:6]), np.full((len(g), 1), 0.9), np.zeros((len(g), 1))], 1)
        tracker.update(dets)
        rows.append(tracker.results_rows(frame))
    gt = {seq.name: visible}
    report = evaluate_mot(gt, {seq.name: np.concatenate(rows)}, seq_lengths={seq.name: seq.num_frames})
    row = report.combined
    assert row["MOTA"] > 90 and row["IDF1"] > 90 and row["HOTA"] > 80, report.to_markdown()
