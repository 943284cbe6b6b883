"""Room checks (``kdtrack room``) and the targets file (benchmarks/targets.json)."""

import json
import operator
from pathlib import Path

import pytest

from kdtrack_lite.cli import main
from kdtrack_lite.eval.room import CHECKS, room_table
from kdtrack_lite.eval.targets import check_targets, read_targets, target_entry, update_targets

ROOT = Path(__file__).resolve().parents[1]
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _agrees(row):
    return row["pass"] == (row["value"] >= row["threshold"]
                           and all(v >= t for v, t in row["detail"]["conditions"].values()))


def test_room_fast_writes_every_check_with_consistent_pass(tmp_path, capsys):
    out = tmp_path / "room.json"
    assert main(["room", "--fast", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads(out.read_text())
    assert set(rows) == set(CHECKS) | {"_run"} and rows["_run"]["profile"] == "fast"
    for cid in CHECKS:
        row = rows[cid]
        assert set(row) == {"phenomenon", "value", "threshold", "pass", "detail"}
        assert isinstance(row["value"], float) and _agrees(row), (cid, row)
        assert f"| {cid} |" in printed
    r1 = rows["R1"]["detail"]
    assert r1["compression"] > 1 and r1["teacher"]["HOTA"] >= 0 and set(r1["conditions"]) == {"compression", "speedup", "student_fps"}
    assert set(rows["R3"]["detail"]["hota"]) == {"replay-TUD-Campus", "replay-TUD-Stadtmitte"}
    r4 = rows["R4"]["detail"]
    assert rows["R4"]["value"] == pytest.approx(r4["iou_plus_embeddings"]["IDF1"] - r4["iou_only"]["IDF1"], abs=0.02)


def test_room_rejects_unknown_checks_and_wrong_family(tmp_path, capsys):
    assert main(["room", "--fast", "--only", "R9", "--out", str(tmp_path / "r.json")]) != 0
    assert "R9" in capsys.readouterr().err
    sot = ROOT / "data_samples" / "checkpoints" / "sot_student.pt"
    assert main(["room", "--fast", "--teacher", str(sot), "--out", str(tmp_path / "r.json")]) != 0
    err = capsys.readouterr().err
    assert "--teacher" in err and "centertrack" in err


def test_room_table_marks_failures():
    row = {"phenomenon": "p", "value": 3.0, "threshold": 10.0, "pass": False, "detail": {"conditions": {}}}
    assert "| R1 | p | 3.0 | 10 | NO |" in room_table({"R1": row})


def test_shipped_room_json_agrees_with_its_thresholds():
    path = ROOT / "benchmarks" / "room.json"
    rows = json.loads(path.read_text())
    assert rows["_run"]["profile"] == "full"
    for cid in CHECKS:
        assert _agrees(rows[cid]), cid


def test_targets_json_met_agrees_with_value_op_threshold():
    entries = read_targets(ROOT / "benchmarks" / "targets.json")
    assert entries and not check_targets(entries)
    for e in entries:
        assert e["met"] == OPS[e["op"]](e["value"], e["threshold"]), e["id"]
    ids = {e["id"] for e in entries}
    assert {f"world.{c}" for c in CHECKS} <= ids


def test_targets_checks_catch_a_wrong_met_and_merge_by_id(tmp_path):
    good = target_entry("kd.x", "words", 3.0, 2.0, ">=", 5, "cmd")
    assert good["met"] is True and not check_targets([good])
    bad = dict(good, met=False)
    assert "met=False" in check_targets([bad])[0]
    assert "id must start" in check_targets([dict(good, id="foo")])[0]
    path = tmp_path / "t.json"
    update_targets(path, [good, target_entry("world.R1", "w", 1.0, 10.0, ">=", 1, "c")])
    update_targets(path, [target_entry("kd.x", "words", 1.0, 2.0, ">=", 5, "cmd")])
    entries = read_targets(path)
    assert [e["id"] for e in entries] == ["kd.x", "world.R1"] and entries[0]["met"] is False
    path.write_text("{not json")
    with pytest.raises(ValueError, match="t.json"):
        read_targets(path)


def test_results_md_summarises_every_target():
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    summary = text[text.index("## Headline targets"):text.index("## ", text.index("## Headline targets") + 3)]
    for e in read_targets(ROOT / "benchmarks" / "targets.json"):
        assert f"| {e['id']} | {e['target']} | {e['value']:g} |" in summary, e["id"]
