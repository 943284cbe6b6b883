"""The capstone table, its findings, the tour's report folder and the README results block."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kdtrack_lite.capstone import COLUMNS, MOT_ROWS, SOT_ROWS, CapstoneConfig
from kdtrack_lite.config import ConfigError
from kdtrack_lite.tour import (README_BEGIN, README_END, findings, pareto_front, readme_block, readme_table,
                               rerender, to_markdown, update_readme, write_report)

ROOT = Path(__file__).resolve().parents[1]


def _table() -> pd.DataFrame:
    """A hand-made table with every section; the numbers are chosen to make each finding checkable."""
    rows = {
        "MOT teacher": dict(section="MOT", HOTA=60.0, IDF1=70.0, fps=20.0, params=1e6),
        "MOT student (shipped)": dict(section="MOT", HOTA=45.0, IDF1=60.0, fps=80.0, params=2e4),
        MOT_ROWS["none"]: dict(section="MOT", HOTA=44.0, IDF1=59.0, fps=80.0, train_s=10.0),
        MOT_ROWS["hint"]: dict(section="MOT", HOTA=43.0, IDF1=58.0, fps=80.0, train_s=12.0),
        MOT_ROWS["at"]: dict(section="MOT", HOTA=50.0, IDF1=62.0, fps=80.0, train_s=12.0),
        MOT_ROWS["hint,at"]: dict(section="MOT", HOTA=48.0, IDF1=61.0, fps=80.0, train_s=12.0),
        MOT_ROWS["kd"]: dict(section="MOT", HOTA=45.0, IDF1=60.0, fps=80.0, train_s=12.0),
        MOT_ROWS["hint,kd"]: dict(section="MOT", HOTA=46.0, IDF1=61.0, fps=80.0, train_s=13.0),
        "interleaved: teacher only": dict(section="MOT interleaved", HOTA=60.0, fps=20.0),
        "interleaved: k=4, teacher on 1 frame in 4, teacher priors": dict(section="MOT interleaved", HOTA=54.0,
                                                                          fps=50.0),
        "interleaved: adaptive schedule (budget 0.25)": dict(section="MOT interleaved", HOTA=55.0, fps=45.0),
        "interleaved: student only": dict(section="MOT interleaved", HOTA=45.0, fps=80.0),
        "SOT teacher (general)": dict(section="SOT", AUC=40.0, fps=100.0),
        "SOT student (shipped)": dict(section="SOT", AUC=43.0, fps=600.0),
        SOT_ROWS["alone"]: dict(section="SOT", AUC=42.0, fps=600.0),
        SOT_ROWS["general"]: dict(section="SOT", AUC=44.0, fps=600.0),
        SOT_ROWS["fixed"]: dict(section="SOT", AUC=41.0, fps=600.0),
        SOT_ROWS["adaptive"]: dict(section="SOT", AUC=45.5, fps=600.0),
        "low quality: no semantics": dict(section="MOT low quality", IDF1=30.0),
        "low quality: best fixed weight (a=0.5, oracle)": dict(section="MOT low quality", IDF1=31.0, fps=100.0),
        "low quality: DSWR fusion (DCSD student)": dict(section="MOT low quality", IDF1=32.0, fps=100.0),
        "clean: no semantics": dict(section="MOT low quality", IDF1=40.0),
        "clean: best fixed weight (a=0.5, oracle)": dict(section="MOT low quality", IDF1=39.0, fps=100.0),
        "clean: DSWR fusion (DCSD student)": dict(section="MOT low quality", IDF1=39.5, fps=100.0),
        "CLIP RN50 image encoder (frame + 8 crops)": dict(section="MOT low quality", fps=0.5),
    }
    notebooks = {"MOT": "01-02", "MOT interleaved": "06", "SOT": "03", "MOT low quality": "04-05"}
    for row in rows.values():
        row["notebook"] = notebooks[row["section"]]
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=COLUMNS)


def test_findings_follow_the_numbers():
    lines = findings(_table())
    text = "\n".join(lines)
    # gap to the teacher from the alone row: 60 - 44 = 16; +AT gains 6 -> 38 %
    assert "MOT student + AT: HOTA +6.0 against the student fine-tuned alone at the same budget, 38% of the gap" in text
    assert "MOT student + hint (FitNets): HOTA -1.0 against" in text and "-> within noise (|difference| <= 1.5)" in text
    assert "Best distilled MOT student (MOT student + AT): HOTA +5.0 against the shipped student" in text
    assert "MOT student + hint + heatmap KD: HOTA +2.0 against the student fine-tuned alone" in text  # 13% of 16
    # a report written before the KD rows existed still gives its findings (re-render of an old results.json)
    old = findings(_table().drop(index=[MOT_ROWS["kd"], MOT_ROWS["hint,kd"]]))
    assert not any("heatmap KD" in f for f in old) and any(f.startswith("Best distilled MOT student") for f in old)
    assert "runs at 4.0x the teacher tracker's FPS" in text
    assert "2.50x the teacher-only FPS, keeping 90% of its HOTA" in text
    assert "SOT student + SDST (fixed weights): success AUC -1.0 against the student fine-tuned alone -> within noise" \
        in text
    assert "SOT student + SDST (adaptive weights): success AUC +3.5 against the student fine-tuned alone -> helps" \
        in text
    assert "SDST (adaptive) against general KD only (what the specialised teachers add): AUC +1.5 -> within noise" \
        in text
    assert "general SOT teacher is -3.0 AUC" in text and "leaves KD little to transfer" in text
    assert "low quality video: DSWR IDF1 +2.0 vs no semantics and +1.0 vs the best fixed weight -> within noise" in text
    assert "clean video: DSWR IDF1 -0.5 vs no semantics and +0.5 vs the best fixed weight -> within noise" in text
    strict = "\n".join(findings(_table(), noise=0.0))
    assert "+1.0 vs the best fixed weight -> helps" in strict and "+0.5 vs the best fixed weight -> hurts" in strict
    assert "runs 200x faster than the CLIP image encoder" in text


def test_findings_of_a_partial_table_only_speak_of_its_sections():
    table = _table()
    sot_only = table[table["section"] == "SOT"]
    lines = findings(sot_only)
    assert lines and all("SOT" in line or "SDST" in line for line in lines)


def test_pareto_front_by_hand():
    df = pd.DataFrame({"fps": [10, 20, 20, 40, 5, np.nan], "HOTA": [60, 55, 50, 40, 70, 99]},
                      index=["a", "b", "c", "d", "e", "nan"])
    # c is beaten by b (same fps, more HOTA); the NaN row is ignored; fastest first
    assert pareto_front(df, "HOTA") == ["d", "b", "a", "e"]


def test_markdown_leaves_blanks_where_a_metric_does_not_apply():
    md = to_markdown(_table())
    row = next(line for line in md.splitlines() if line.startswith("| CLIP RN50"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = [c.strip() for c in md.splitlines()[0].strip("|").split("|")]
    assert cells[header.index("HOTA")] == "" and cells[header.index("FPS")] == "0.5"
    assert "1,000,000" in md  # params as counts


def test_profiles():
    fast, lite, full = (CapstoneConfig.profile(p) for p in ("fast", "lite", "full"))
    assert fast.mot_steps < lite.mot_steps < full.mot_steps
    assert lite == CapstoneConfig()  # the dataclass defaults are the README's profile
    assert CapstoneConfig.profile("lite", seed=3).seed == 3
    with pytest.raises(ConfigError, match="'fast', 'lite' or 'full'"):
        CapstoneConfig.profile("huge")


def test_report_folder(tmp_path):
    table = _table()
    table.attrs.update(seconds={"mot": 60.0, "sot": 30.0}, teacher="OFFLINE STAND-IN (test)")
    report = write_report(table, tmp_path / "r", CapstoneConfig.profile("fast"), "fast", "kdtrack tour --profile fast",
                          95.0)
    text = report.read_text()
    assert "Wall time: 1.6 min" in text and "OFFLINE STAND-IN (test)" in text
    assert (tmp_path / "r" / "speed_accuracy.png").stat().st_size > 10_000
    md = (tmp_path / "r" / "table.md").read_text()
    assert md.strip() in text  # the report shows exactly the table file
    payload = json.loads((tmp_path / "r" / "results.json").read_text())
    assert payload["table"]["MOT teacher"]["HOTA"] == 60.0 and payload["findings"] == findings(table)
    assert not list((tmp_path / "r").glob(".*.tmp"))  # atomic writes leave no temporary files
    # re-rendering from results.json gives the same report (numbers, command, machine, times)
    before = {f: (tmp_path / "r" / f).read_text() for f in ("report.md", "table.md", "results.json")}
    rerender(tmp_path / "r")
    assert {f: (tmp_path / "r" / f).read_text() for f in before} == before
    with pytest.raises(FileNotFoundError, match="no results.json"):
        rerender(tmp_path / "empty")


def test_readme_block_round_trip(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{README_BEGIN}\nold\n{README_END}\n\nafter\n")
    md = to_markdown(_table())
    machine = {"cpu": "cpu", "cores": 2, "torch": "2", "torch_threads": 1, "gpu": None}
    update_readme(readme, readme_block(md, "kdtrack tour --profile lite", machine, 600.0))
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "old" not in text
    assert readme_table(readme) == md.strip()
    assert "in 10.0 min on cpu (2 cores" in text
    bad = tmp_path / "BAD.md"
    bad.write_text("no markers")
    with pytest.raises(ValueError, match="BAD.md: no"):
        update_readme(bad, "x")


def test_readme_results_match_the_committed_tour_report():
    """The README's results table is the one `kdtrack tour --out benchmarks/tour` wrote."""
    committed = (ROOT / "benchmarks" / "tour" / "table.md").read_text().strip()
    assert readme_table(ROOT / "README.md") == committed
    report = (ROOT / "benchmarks" / "tour" / "report.md").read_text()
    assert committed in report


def test_tour_command_writes_a_report(tmp_path, monkeypatch):
    """`kdtrack tour` end to end on one quick section (FAST sizes)."""
    from kdtrack_lite.cli import main

    monkeypatch.setenv("KDTRACK_PROGRESS", "0")
    out = tmp_path / "tour"
    assert main(["tour", "--profile", "fast", "--sections", "interleaved", "--out", str(out), "--threads", "1"]) == 0
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["table"]) == {"interleaved: teacher only", "interleaved: k=4, teacher on 1 frame in 4, "
                                     "teacher priors", "interleaved: adaptive schedule (budget 0.25)",
                                     "interleaved: student only"}
    rows = payload["table"]
    assert rows["interleaved: teacher only"]["fps"] < rows["interleaved: student only"]["fps"]
    assert payload["profile"] == "fast" and set(payload["section_seconds"]) == {"interleaved"}
    assert (out / "speed_accuracy.png").exists() and (out / "table.md").read_text().count("\n| interleaved: ") == 4


def test_sot_findings_use_the_sot_students_own_seed_noise():
    """A +2.0 difference is beyond the MOT student's seed noise (1.5 HOTA) but within the SOT
    students' (3.3 AUC), so the same number gets a different verdict in the two sections."""
    from kdtrack_lite.tour import SOT_NOISE_POINTS

    table = _table()
    table.loc[SOT_ROWS["fixed"], "AUC"] = table.loc[SOT_ROWS["alone"], "AUC"] + 2.0
    text = "\n".join(findings(table))
    assert "MOT student + hint + heatmap KD: HOTA +2.0" in text and "+2.0 against the student fine-tuned alone" in text
    assert (f"SOT student + SDST (fixed weights): success AUC +2.0 against the student fine-tuned alone -> within noise "
            f"(|difference| <= {SOT_NOISE_POINTS:g})") in text
    assert "(one seed; the runs over many seeds are in benchmarks/RESULTS.md, SDST)" in text
    assert "SDST (fixed weights): success AUC +2.0 against the student fine-tuned alone -> helps" in \
        "\n".join(findings(table, sot_noise=1.5))
