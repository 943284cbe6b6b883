"""Perturbations move the metrics the way the HOTA paper describes (checked through evaluate_mot)."""

import numpy as np
import pytest

from kdtrack_lite.eval.mot import evaluate_mot
from kdtrack_lite.eval.perturb import drop_detections, jitter_boxes, swap_ids


def _gt(n_obj=4, n_frames=30):
    rows = []
    for k in range(n_obj):
        for f in range(1, n_frames + 1):
            rows.append([f, k + 1, 20 + 60 * k + 2 * f, 50 + f, 30, 60, 1, 1, 1])
    return np.array(rows, float)


def test_perturbations_are_deterministic_and_do_what_they_say():
    gt = _gt()
    assert len(drop_detections(gt, 0.25, seed=1)) == 90
    np.testing.assert_array_equal(drop_detections(gt, 0.25, seed=1), drop_detections(gt, 0.25, seed=1))
    sw = swap_ids(gt, 1, seed=0)
    assert (sw[:, 1] != gt[:, 1]).any() and sorted(np.unique(sw[:, 1])) == [1, 2, 3, 4]
    np.testing.assert_array_equal(sw[:, 2:], gt[:, 2:])  # boxes untouched
    j = jitter_boxes(gt, 0.1, seed=0)
    assert not np.allclose(j[:, 2:6], gt[:, 2:6]) and (j[:, 4:6] >= 1).all()
    with pytest.raises(ValueError, match="fraction"):
        drop_detections(gt, 1.5)


def test_metric_sensitivities():
    gt = _gt()
    base = evaluate_mot({"s": gt}, {"s": gt[:, :7]}).combined
    sw = evaluate_mot({"s": gt}, {"s": swap_ids(gt, 2, seed=3)[:, :7]}).combined
    dr = evaluate_mot({"s": gt}, {"s": drop_detections(gt, 0.3, seed=0)[:, :7]}).combined
    assert base["MOTA"] == pytest.approx(100) and base["HOTA"] == pytest.approx(100)
    # id swaps: MOTA loses a couple of points at most, IDF1 / AssA lose much more
    assert base["MOTA"] - sw["MOTA"] < 5
    assert base["IDF1"] - sw["IDF1"] > 3 * (base["MOTA"] - sw["MOTA"])
    assert base["AssA"] - sw["AssA"] > 3 * (base["MOTA"] - sw["MOTA"])
    # dropped detections: MOTA = 1 - FN/GT exactly here (no FP, no IDSW); DetA falls
    assert dr["MOTA"] == pytest.approx(70.0) and dr["DetA"] < 80
