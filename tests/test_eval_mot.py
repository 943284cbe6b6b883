"""MOT metrics: parity with motmetrics and trackeval on the real MOT15 files motmetrics ships."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from kdtrack_lite.eval._compat import import_motmetrics
from kdtrack_lite.eval.mot import COMBINED, evaluate_mot

mm = import_motmetrics()
DATA = os.path.join(os.path.dirname(mm.__file__), "data")
SEQS = ["TUD-Campus", "TUD-Stadtmitte"]


def _load(name):
    return {s: np.loadtxt(os.path.join(DATA, s, name), delimiter=",") for s in SEQS}


@pytest.fixture(scope="module")
def report():
    return evaluate_mot(_load("gt.txt"), _load("test.txt"))


def test_numpy2_shim_makes_motmetrics_iou_work():
    d = mm.distances.iou_matrix([[0, 0, 2, 2]], [[1, 0, 2, 2], [10, 10, 1, 1]], max_iou=0.9)
    assert d[0, 0] == pytest.approx(1 - 2 / 6) and np.isnan(d[0, 1])


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:Operation with tuple")
def test_clear_and_id_metrics_equal_motmetrics_own_pipeline(report):
    # exactly what motmetrics' own test_motchallenge_files does
    accs = [mm.utils.compare_to_groundtruth(mm.io.loadtxt(os.path.join(DATA, s, "gt.txt")),
                                            mm.io.loadtxt(os.path.join(DATA, s, "test.txt")), "iou", distth=0.5)
            for s in SEQS]
    mh = mm.metrics.create()
    ref = mh.compute_many(accs, metrics=mm.metrics.motchallenge_metrics, names=SEQS, generate_overall=True)
    table = report.table
    for ours_row, ref_row in zip(SEQS + [COMBINED], SEQS + ["OVERALL"]):
        r = ref.loc[ref_row]
        got = table.loc[ours_row]
        for ours, theirs, scale in [("MOTA", "mota", 100), ("IDF1", "idf1", 100), ("IDP", "idp", 100),
                                    ("IDR", "idr", 100)]:
            assert got[ours] == pytest.approx(scale * r[theirs], abs=1e-9), (ours_row, ours)
        assert got["MOTP"] == pytest.approx(100 * (1 - r["motp"]), abs=1e-9)
        for ours, theirs in [("IDSW", "num_switches"), ("MT", "mostly_tracked"), ("ML", "mostly_lost"),
                             ("FP", "num_false_positives"), ("FN", "num_misses")]:
            assert got[ours] == r[theirs], (ours_row, ours)
    # the values motmetrics' own test suite pins for TUD-Campus
    assert table.loc["TUD-Campus", "IDF1"] == pytest.approx(55.7659, abs=1e-3)
    assert table.loc["TUD-Campus", "MOTA"] == pytest.approx(52.6462, abs=1e-3)


def _trackeval_reference(tmp_path):
    """trackeval's own file-based MOT15 evaluation (MotChallenge2DBox + Evaluator)."""
    import trackeval

    lengths = {}
    for s in SEQS:
        seq_dir = tmp_path / "gt" / "MOT15-train" / s
        (seq_dir / "gt").mkdir(parents=True)
        shutil.copy(os.path.join(DATA, s, "gt.txt"), seq_dir / "gt" / "gt.txt")
        lengths[s] = int(np.loadtxt(os.path.join(DATA, s, "gt.txt"), delimiter=",")[:, 0].max())
        (seq_dir / "seqinfo.ini").write_text(f"[Sequence]\nname={s}\nseqLength={lengths[s]}\n")
        trk = tmp_path / "trackers" / "MOT15-train" / "test" / "data"
        trk.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(DATA, s, "test.txt"), trk / f"{s}.txt")
    quiet = {"PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False,
             "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "LOG_ON_ERROR": None, "DISPLAY_LESS_PROGRESS": True}
    evaluator = trackeval.Evaluator(quiet)
    dataset = trackeval.datasets.MotChallenge2DBox(
        {"GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "trackers"),
         "BENCHMARK": "MOT15", "SPLIT_TO_EVAL": "train", "SEQ_INFO": lengths, "PRINT_CONFIG": False,
         "TRACKERS_TO_EVAL": ["test"]})
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
    out, _ = evaluator.evaluate([dataset], metrics)
    return out["MotChallenge2DBox"]["test"]


def test_hota_equals_trackeval_file_based_evaluation(report, tmp_path, capsys):
    ref = _trackeval_reference(tmp_path)
    table = report.table
    for ours_row, ref_row in zip(SEQS + [COMBINED], SEQS + ["COMBINED_SEQ"]):
        r = ref[ref_row]["pedestrian"]
        for c in ["HOTA", "DetA", "AssA", "LocA"]:
            assert table.loc[ours_row, c] == pytest.approx(100 * np.mean(r["HOTA"][c]), abs=1e-9), (ours_row, c)
        # trackeval's CLEAR/Identity agree with motmetrics on these files too
        assert table.loc[ours_row, "MOTA"] == pytest.approx(100 * r["CLEAR"]["MOTA"], abs=1e-9)
        assert table.loc[ours_row, "IDF1"] == pytest.approx(100 * r["Identity"]["IDF1"], abs=1e-9)
        assert table.loc[ours_row, "MOTP"] == pytest.approx(100 * r["CLEAR"]["MOTP"], abs=1e-9)


def test_paths_give_same_numbers(report, tmp_path):
    gt_root, res_root = tmp_path / "gt", tmp_path / "res"
    for s in SEQS:
        (gt_root / s / "gt").mkdir(parents=True)
        shutil.copy(os.path.join(DATA, s, "gt.txt"), gt_root / s / "gt" / "gt.txt")
        res_root.mkdir(exist_ok=True)
        shutil.copy(os.path.join(DATA, s, "test.txt"), res_root / f"{s}.txt")
    from_files = evaluate_mot(gt_root, res_root)
    np.testing.assert_allclose(from_files.table.to_numpy(float), report.table.to_numpy(float))
    one = evaluate_mot(os.path.join(DATA, SEQS[0], "gt.txt"), os.path.join(DATA, SEQS[0], "test.txt"))
    np.testing.assert_allclose(one.per_sequence.to_numpy(float), report.per_sequence.iloc[:1].to_numpy(float))
    assert "| TUD-Campus" in report.to_markdown()


def test_gt_conf_zero_rows_are_ignored():
    gt = _load("gt.txt")["TUD-Campus"]
    res = _load("test.txt")["TUD-Campus"]
    extra = gt[:5].copy()
    extra[:, 1] += 1000  # new ids, conf 0 -> must not count as misses
    extra[:, 6] = 0
    a = evaluate_mot({"s": gt}, {"s": res}).per_sequence
    b = evaluate_mot({"s": np.vstack([gt, extra])}, {"s": res}).per_sequence
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float))


# ---- bad input -------------------------------------------------------------------------------

def _toy():
    gt = np.array([[1, 1, 0, 0, 10, 10, 1, 1, 1], [2, 1, 1, 0, 10, 10, 1, 1, 1],
                   [1, 2, 50, 50, 10, 10, 1, 1, 1], [2, 2, 51, 50, 10, 10, 1, 1, 1]], float)
    return gt, gt[:, :7].copy()


def test_empty_results_are_defined():
    gt, _ = _toy()
    row = evaluate_mot({"a": gt}, {"a": np.zeros((0, 7))}).per_sequence.loc["a"]
    assert row["FN"] == 4 and row["FP"] == 0 and row["IDSW"] == 0
    assert row["MOTA"] == pytest.approx(0.0)  # 1 - FN/GT
    assert row["HOTA"] == 0 and row["DetA"] == 0 and row["IDF1"] == 0
    assert np.isnan(row["MOTP"]) and np.isnan(row["LocA"])  # no matches: undefined, documented


def test_empty_ground_truth_is_an_error_not_silent():
    gt, res = _toy()
    gt[:, 6] = 0  # every gt row ignored: motmetrics alone would score MOTA -inf
    with pytest.raises(ValueError, match=r"ground-truth sequence 'a' has no box to evaluate against"):
        evaluate_mot({"a": gt}, {"a": res})


def test_perfect_results_score_100():
    gt, res = _toy()
    row = evaluate_mot({"a": gt}, {"a": res}).per_sequence.loc["a"]
    for c in ["HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1"]:
        assert row[c] == pytest.approx(100.0)


def test_frames_beyond_gt_raise():
    gt, res = _toy()
    res[0, 0] = 9
    with pytest.raises(ValueError, match=r"frame 9 is beyond the sequence \(frames 1..2\)"):
        evaluate_mot({"a": gt}, {"a": res})
    # allowed when the sequence is declared longer
    evaluate_mot({"a": gt}, {"a": res}, seq_lengths={"a": 10})


def test_nan_boxes_name_sequence_and_row():
    gt, res = _toy()
    res[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"results sequence 'a', row 2.*NaN"):
        evaluate_mot({"a": gt}, {"a": res})


def test_unknown_and_missing_sequences_listed():
    gt, res = _toy()
    with pytest.raises(ValueError, match=r"\['zz'\]"):
        evaluate_mot({"a": gt}, {"a": res, "zz": res})
    with pytest.raises(ValueError, match=r"no results for sequence\(s\) \['b'\]"):
        evaluate_mot({"a": gt, "b": gt}, {"a": res})


def test_negative_width_and_duplicates_raise():
    gt, res = _toy()
    bad = res.copy()
    bad[1, 4] = -3
    with pytest.raises(ValueError, match="negative width"):
        evaluate_mot({"a": gt}, {"a": bad})
    dup = np.vstack([res, res[:1]])
    with pytest.raises(ValueError, match=r"\(frame, id\) = \(1, 1\) appears more than once"):
        evaluate_mot({"a": gt}, {"a": dup})


def test_cli_eval_writes_table(tmp_path, capsys):
    from kdtrack_lite.cli import main

    out = tmp_path / "t.csv"
    assert main(["eval", "--gt", os.path.join(DATA, SEQS[0], "gt.txt"),
                 "--results", os.path.join(DATA, SEQS[0], "test.txt"), "--out", str(out)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("| TUD-Campus")][0]
    assert [c.strip() for c in line.split("|")[2:7]] == ["39.1", "41.8", "36.9", "77.0", "52.6"]
    assert out.read_text().startswith(",HOTA,DetA")
    assert main(["eval", "--gt", str(tmp_path / "nope"), "--results", str(out)]) == 2


@pytest.mark.filterwarnings("ignore:Operation with tuple")
def test_iou_threshold_maps_to_motmetrics_distance():
    # IoU >= 0.7 to match  <=>  motmetrics distance 1 - IoU <= 0.3
    s = SEQS[0]
    acc = mm.utils.compare_to_groundtruth(mm.io.loadtxt(os.path.join(DATA, s, "gt.txt")),
                                          mm.io.loadtxt(os.path.join(DATA, s, "test.txt")), "iou", distth=0.3)
    ref = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_misses"])
    got = evaluate_mot({s: _load("gt.txt")[s]}, {s: _load("test.txt")[s]}, iou_threshold=0.7).per_sequence.loc[s]
    assert got["MOTA"] == pytest.approx(100 * ref["mota"].iloc[0]) and got["FN"] == ref["num_misses"].iloc[0]
    assert got["IDF1"] == pytest.approx(100 * ref["idf1"].iloc[0])
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate_mot({s: _load("gt.txt")[s]}, {s: _load("test.txt")[s]}, iou_threshold=0)


def test_seqinfo_length_is_read(tmp_path):
    gt, res = _toy()
    seq = tmp_path / "gt" / "toy"
    (seq / "gt").mkdir(parents=True)
    np.savetxt(seq / "gt" / "gt.txt", gt, delimiter=",", fmt="%g")
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=toy\nseqLength=5\n")
    res[0, 0] = 5  # inside the declared length, beyond the last gt frame
    (tmp_path / "res").mkdir()
    np.savetxt(tmp_path / "res" / "toy.txt", res, delimiter=",", fmt="%g")
    row = evaluate_mot(tmp_path / "gt", tmp_path / "res").per_sequence.loc["toy"]
    assert row["FP"] == 1 and row["FN"] == 1
    res[0, 0] = 6
    np.savetxt(tmp_path / "res" / "toy.txt", res, delimiter=",", fmt="%g")
    with pytest.raises(ValueError, match=r"frames 1..5"):
        evaluate_mot(tmp_path / "gt", tmp_path / "res")
