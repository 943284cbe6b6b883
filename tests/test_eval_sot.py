"""SOT metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from kdtrack_lite.eval.sot import (
    HIDDEN, evaluate_sot, failure_attributes, frame_iou, normalized_precision, normalized_precision_curve,
    precision_at, precision_curve, success_auc, success_curve,
)

GT = np.array([[0, 0, 10, 10]] * 4, float)
# frame 0: perfect (IoU 1); frame 1: shifted 5 px in x (IoU 50/150 = 1/3, centre error 5);
# frame 2: shifted 30 px (IoU 0, centre error 30); frame 3: half size at same top-left
# (IoU 25/100 = 0.25, centre error sqrt(2.5^2+2.5^2))
PRED = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [30, 0, 10, 10], [0, 0, 5, 5]], float)


def test_iou_and_success_curve_by_hand():
    np.testing.assert_allclose(frame_iou(PRED, GT), [1.0, 1 / 3, 0.0, 0.25])
    th, rate = success_curve(PRED, GT, thresholds=np.array([0.0, 0.25, 0.3, 0.5, 1.0]))
    # strictly greater than the threshold (OTB)
    np.testing.assert_allclose(rate, [3 / 4, 2 / 4, 2 / 4, 1 / 4, 0.0])
    # AUC over 21 thresholds 0, .05, ..., 1: count thresholds below each IoU
    # IoU 1 -> 20 thresholds (<1), 1/3 -> 7 (0..0.30), 0.25 -> 5 (0..0.20), 0 -> 0
    assert success_auc(PRED, GT) == pytest.approx((20 + 7 + 5 + 0) / (4 * 21))


def test_precision_by_hand():
    e3 = np.hypot(2.5, 2.5)
    th, rate = precision_curve(PRED, GT)
    assert len(th) == 51 and th[20] == 20
    assert rate[0] == 0.25 and rate[4] == 0.5 and rate[5] == 0.75 and rate[29] == 0.75 and rate[30] == 1.0
    assert e3 < 4  # frame 3 is within 4 px
    assert precision_at(PRED, GT, 20) == 0.75
    assert precision_at(PRED, GT, 30) == 1.0


def test_normalized_precision_by_hand():
    # normalised errors: 0, 0.5, 3.0, hypot(.25,.25)=0.354
    th, rate = normalized_precision_curve(PRED, GT)
    assert rate[th.searchsorted(0.2)] == 0.25
    assert normalized_precision(PRED, GT, at=0.4) == 0.5
    assert normalized_precision(PRED, GT, at=0.5) == 0.75
    # AUC over 51 thresholds 0..0.5: frame0 all 51, frame1 1 (only 0.5), frame3 thresholds >=0.36 -> 15
    assert normalized_precision(PRED, GT) == pytest.approx((51 + 1 + 15) / (4 * 51))


def test_absent_frames_are_not_scored_and_lost_predictions_fail():
    gt = np.vstack([GT, [[0, 0, 0, 0]]])  # frame 4: target absent (LaSOT writes 0 0 0 0)
    pred = np.vstack([PRED, [[50, 50, 10, 10]]])
    assert success_auc(pred, gt) == pytest.approx(success_auc(PRED, GT))
    # explicit valid mask overrides (here: score only frames 0 and 1)
    assert precision_at(pred, gt, valid=[True, True, False, False, False]) == 1.0
    # a NaN prediction on a visible frame = tracker lost = failure
    lost = PRED.copy()
    lost[0] = np.nan
    assert frame_iou(lost, GT)[0] == 0 and precision_at(lost, GT, 20) == 0.5
    bad_gt = GT.copy()
    bad_gt[1] = np.nan
    with pytest.raises(ValueError, match="frame 1 is NaN"):
        success_curve(PRED, bad_gt, valid=np.ones(4, bool))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same"):
        success_auc(PRED[:3], GT)


def test_evaluate_sot_overall_and_attributes():
    seqs = {"a": GT, "b": GT.copy()}
    res = {"a": PRED, "b": GT.copy()}  # b is perfect
    attrs = {"a": {"FM": np.array([0, 1, 1, 0], bool), "OCC": True}, "b": {"FM": np.array([1, 0, 0, 0], bool)}}
    rep = evaluate_sot(res, seqs, attrs)
    assert rep.overall.loc["a", "AUC"] == pytest.approx(100 * success_auc(PRED, GT))
    assert rep.overall.loc["b", "AUC"] == pytest.approx(100 * 20 / 21)  # IoU 1 is not > 1
    # overall = mean of per-sequence curves
    assert rep.overall.loc["ALL", "AUC"] == pytest.approx((rep.overall.loc["a", "AUC"] + rep.overall.loc["b", "AUC"]) / 2)
    assert rep.overall.loc["ALL", "frames"] == 8
    # FM: seq a frames 1,2 -> P@20 = 1/2 ; seq b frame 0 -> 1 ; averaged over the 2 sequences
    assert rep.per_attribute.loc["FM", "P@20"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert rep.per_attribute.loc["FM", "sequences"] == 2 and rep.per_attribute.loc["FM", "frames"] == 3
    # OCC is a whole-sequence flag for a only
    assert rep.per_attribute.loc["OCC", "AUC"] == pytest.approx(rep.overall.loc["a", "AUC"])
    assert set(rep.curves) >= {"a", "b", "ALL", "attr:FM", "attr:OCC"}


def test_evaluate_sot_bad_names():
    with pytest.raises(ValueError, match=r"unknown sequence\(s\) \['x'\]"):
        evaluate_sot({"x": PRED, "a": PRED}, {"a": GT})
    with pytest.raises(ValueError, match=r"no results for sequence\(s\) \['a'\]"):
        evaluate_sot({}, {"a": GT})
    with pytest.raises(ValueError, match="no frame to score"):
        evaluate_sot({"a": PRED}, {"a": GT}, valid={"a": np.zeros(4, bool)})


def test_failure_attributes_lists_the_window_and_a_recent_hiding():
    t = 20
    attrs = {"FM": np.zeros(t, bool), "OCC": np.zeros(t, bool), "FOC": np.zeros(t, bool), "SV": np.zeros(t, bool)}
    attrs["FM"][8] = True          # 2 frames before the failure at 10: inside the window of 3
    attrs["SV"][5] = True          # 5 frames before: outside it
    attrs["FOC"][12] = attrs["OCC"][12] = True  # after the failure: not a cause
    visible = ~attrs["FOC"]
    assert failure_attributes(attrs, visible, 10) == ["FM"]
    # hidden at frame 12, failure at 15: lost on the target's return (OCC is spelled out as FOC)
    assert failure_attributes(attrs, visible, 15) == ["FOC", HIDDEN]
    assert failure_attributes(attrs, visible, 15, lookback=2) == [HIDDEN]  # hidden 3 frames back, within 2 * 2
    assert failure_attributes(attrs, visible, 15, lookback=1) == []  # ... but not within 2 * 1
    with pytest.raises(ValueError, match="frame 20"):
        failure_attributes(attrs, visible, 20)
