"""The shared benchmark table: accuracy + speed rows for several trackers (tiny inputs)."""

from pathlib import Path

import pytest
import torch

from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.data.sot_synth import SOTConfig, generate_sot_sequence
from kdtrack_lite.eval.benchmark import MOT_COLUMNS, SPEED_COLUMNS, mot_benchmark, sot_benchmark
from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack
from kdtrack_lite.models.siamfc import SiamFCConfig, build_siamfc


def test_mot_and_sot_benchmark_tables(monkeypatch):
    monkeypatch.setenv("KDTRACK_FAST", "1")
    torch.manual_seed(0)
    seqs = [generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=4, width=128, height=96), seed=1)]
    models = {r: build_centertrack(DetectorConfig.preset(r)) for r in ("teacher", "student")}
    table = mot_benchmark(models, seqs)
    assert list(table.index) == ["teacher", "student"]
    assert set(MOT_COLUMNS + SPEED_COLUMNS + ["pipeline_fps"]) <= set(table.columns)
    assert table.loc["teacher", "speedup"] == 1.0 and table.loc["student", "compression"] > 8
    assert table.loc["student", "params"] < table.loc["teacher", "params"]
    sot = [generate_sot_sequence(SOTConfig.make("fast", num_frames=5, width=96, height=96, min_size=12, max_size=20),
                                 seed=2, attributes=["FM"])]
    siam = {r: build_siamfc(SiamFCConfig.preset(r)) for r in ("teacher", "student")}
    overall, per_attr = sot_benchmark(siam, sot)
    assert {"AUC", "P@20", "NPrec", "fps", "compression"} <= set(overall.columns)
    assert list(per_attr.columns) == ["teacher", "student"] and (overall["AUC"].between(0, 100)).all()


def test_baselines_script_scores_the_asked_test_sequences(monkeypatch):
    """benchmarks/baselines.py --sot-test-sequences N --sot-test-from F scores sequences F..N-1 only."""
    import pytest

    baselines = _script("baselines")
    seen = {}
    monkeypatch.setattr(baselines, "sot_benchmark", lambda models, seqs: seen.setdefault("names", [s.name for s in seqs]))
    baselines.sot_table(None, None, "fast", count=5, first=3)
    assert seen["names"] == ["test-03", "test-04"]
    with pytest.raises(ValueError, match="--sot-test-from 5"):
        baselines.sot_table(None, None, "fast", count=5, first=5)


def test_baselines_script_threads_option(monkeypatch, capsys, tmp_path):
    """--threads sets torch's threads for the run and is written to the JSON; a bad count is refused."""
    import json

    import pandas as pd

    baselines = _script("baselines")
    before = torch.get_num_threads()
    table = pd.DataFrame({"HOTA": [1.0]}, index=["teacher"])
    monkeypatch.setattr(baselines, "mot_table", lambda t, s, profile: (table, {"threads_seen": torch.get_num_threads()}))
    monkeypatch.setattr(baselines, "load_checkpoint", lambda path: type("C", (), {"build": lambda self: torch.nn.Identity()})())
    out = tmp_path / "b.json"
    try:
        monkeypatch.setattr("sys.argv", ["baselines.py", "--only", "mot", "--mot-teacher", "t", "--mot-student", "s",
                                         "--threads", "1", "--json", str(out)])
        baselines.main()
        written = json.loads(out.read_text())
        assert written["threads"] == 1 and written["mot_extra"]["threads_seen"] == 1
        assert "torch threads: 1" in capsys.readouterr().out
        monkeypatch.setattr("sys.argv", ["baselines.py", "--only", "mot", "--mot-teacher", "t", "--mot-student", "s",
                                         "--threads", "0"])
        with pytest.raises(SystemExit):
            baselines.main()
        assert "--threads must be >= 1" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)


def _script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_eval_script_scores_shipped_students(monkeypatch, capsys):
    """benchmarks/split_eval.py prints one JSON row per checkpoint, on the asked split size."""
    import json

    from kdtrack_lite.paths import samples_dir

    ckpt = samples_dir() / "checkpoints"
    split_eval = _script("split_eval")
    for family, metric in (("sot", "AUC"), ("mot", "HOTA")):
        monkeypatch.setattr("sys.argv", ["split_eval.py", family, "--split", "val", "--sequences", "1",
                                         str(ckpt / f"{family}_student.pt")])
        split_eval.main()
        row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert row["split"] == "val" and row["sequences"] == 1
        assert 0.0 < row[metric] <= 100.0
    # sot: one row per --tracker setting; --first skips the sequences already looked at
    monkeypatch.setattr("sys.argv", ["split_eval.py", "sot", "--split", "val", "--sequences", "2", "--first", "1",
                                     str(ckpt / "sot_student.pt"), "--tracker", "{}", '{"search_scale": 1.0}'])
    split_eval.main()
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["tracker"] for r in rows] == [{}, {"search_scale": 1.0}] and {r["sequences"] for r in rows} == {1}
    monkeypatch.setattr("sys.argv", ["split_eval.py", "mot", str(ckpt / "mot_student.pt"), "--tracker", "{}",
                                     '{"search_scale": 1.0}'])
    with pytest.raises(SystemExit):
        split_eval.main()  # --tracker is for sot only


def test_gpu_speed_script_times_every_family_and_refuses_a_missing_gpu(monkeypatch, tmp_path):
    """benchmarks/gpu_speed.py (run on the CPU here): three tables per family, ratios against the
    teacher, the student smaller; asking for CUDA without one is a clear exit, not a traceback."""
    import json

    out = tmp_path / "speed.json"
    monkeypatch.setattr("sys.argv", ["gpu_speed.py", "--device", "cpu", "--batch", "2", "--repeats", "2",
                                     "--warmup", "1", "--json", str(out)])
    _script("gpu_speed").main()
    tables = json.loads(out.read_text())["tables"]
    assert sorted(tables) == sorted(f"{f}, {r}" for f in ("MOT", "SOT") for r in
                                    ("batch 1, float32", "batch 1, bfloat16 autocast", "batch 2, float32"))
    sot = tables["SOT, batch 1, float32"]
    assert sot["speedup"]["sot_teacher"] == 1.0 and sot["compression"]["sot_student"] > 100
    if not torch.cuda.is_available():
        monkeypatch.setattr("sys.argv", ["gpu_speed.py", "--device", "cuda"])
        with pytest.raises(SystemExit, match="torch sees no CUDA device"):
            _script("gpu_speed").main()


def test_specialist_sweep_script_scores_each_candidate_on_both_sets(monkeypatch, capsys, tmp_path):
    """benchmarks/sdst_specialist_sweep.py: one row per interpolation weight, the attribute's AUC
    and the overall AUC on the select and confirm sets; alpha 0 is the general teacher itself."""
    import json

    monkeypatch.setattr("sys.argv", ["sdst_specialist_sweep.py", "--attribute", "IV", "--recipe", "mid", "--steps", "1",
                                     "--alphas", "0", "1", "--select", "1", "--confirm", "1", "--frames", "16",
                                     "--out", str(tmp_path)])
    _script("sdst_specialist_sweep").main()
    rows = json.loads((tmp_path / "IV_mid.json").read_text())["rows"]
    assert [r["candidate"] for r in rows] == ["mid a=0.0", "mid a=1.0"]
    assert all(0 <= r[k] <= 100 for r in rows for k in ("select IV", "select ALL", "confirm IV", "confirm ALL"))
    monkeypatch.setattr("sys.argv", ["sdst_specialist_sweep.py", "--attribute", "IV", "--recipe", "general",
                                     "--select", "1", "--confirm", "1", "--frames", "16", "--out", str(tmp_path)])
    _script("sdst_specialist_sweep").main()
    general = json.loads((tmp_path / "IV_general.json").read_text())["rows"][0]
    assert general["select IV"] == rows[0]["select IV"] and general["confirm ALL"] == rows[0]["confirm ALL"]
    # --general names the teacher to start from and compare with (here the shipped one, by path: the same row)
    teacher = Path(__file__).resolve().parents[1] / "data_samples" / "checkpoints" / "sot_teacher.pt"
    monkeypatch.setattr("sys.argv", ["sdst_specialist_sweep.py", "--attribute", "IV", "--recipe", "general",
                                     "--general", str(teacher), "--select", "1", "--confirm", "1", "--frames", "16",
                                     "--out", str(tmp_path / "by_path")])
    _script("sdst_specialist_sweep").main()
    assert json.loads((tmp_path / "by_path" / "IV_general.json").read_text())["rows"][0] == general
    monkeypatch.setattr("sys.argv", ["sdst_specialist_sweep.py", "--attribute", "IV", "--recipe", "shipped",
                                     "--general", str(teacher), "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        _script("sdst_specialist_sweep").main()
    assert "drop --general" in capsys.readouterr().err
    # --recipe base (the shipped OCC/FM recipe) scored under the reset protocol, written beside the one-pass files
    monkeypatch.setattr("sys.argv", ["sdst_specialist_sweep.py", "--attribute", "IV", "--recipe", "base", "--steps", "1",
                                     "--alphas", "1", "--select", "1", "--frames", "16", "--protocol", "reset",
                                     "--out", str(tmp_path)])
    _script("sdst_specialist_sweep").main()
    reset = json.loads((tmp_path / "IV_base_reset.json").read_text())
    assert reset["args"]["protocol"] == "reset" and [r["candidate"] for r in reset["rows"]] == ["base a=1.0"]
    assert 0 <= reset["rows"][0]["select IV"] <= 100


def test_sdst_script_trains_the_asked_variants_and_scores_both_protocols(monkeypatch, capsys, tmp_path):
    """benchmarks/sdst.py --variants general fixed --reset-eval: only those two are trained, each row
    has the reset-protocol columns, and the printed tables pair them under both protocols."""
    import json
    import shutil

    out = tmp_path / "sdst.json"
    ck = Path(__file__).resolve().parents[1] / "data_samples" / "checkpoints"
    shutil.copy(ck / "sot_specialist_IV.pt", tmp_path / "sot_specialist_IV.pt")  # --specialist-dir: another folder
    monkeypatch.setattr("sys.argv", ["sdst.py", "--seeds", "0", "--steps", "1", "--batch", "2", "--test-sequences", "3",
                                     "--specialists", "IV", "--variants", "general", "fixed", "--reset-eval",
                                     "--general", str(ck / "sot_teacher.pt"), "--specialist-dir", str(tmp_path),
                                     "--student", str(ck / "sot_student.pt"),
                                     "--out", str(out)])
    _script("sdst").main()
    runs = json.loads(out.read_text())["runs"]
    assert sorted(runs) == ["fixed", "general"]
    row = runs["fixed"]["0"]
    assert all(0 <= row[k] <= 100 for k in ("ALL", "IV", "reset ALL", "reset IV"))
    printed = capsys.readouterr().out
    assert "reset protocol" in printed and "**fixed**" in printed and "**adaptive**" not in printed
    monkeypatch.setattr("sys.argv", ["sdst.py", "--specialists", "SV", "--specialist-dir", str(tmp_path),
                                     "--out", str(out)])
    with pytest.raises(Exception, match="sot_specialist_SV.pt"):  # a missing specialist is named
        _script("sdst").main()


def test_student_bn_script_fine_tunes_each_way_in_both_bn_modes(tmp_path, capsys, monkeypatch):
    """benchmarks/sdst_student_bn.py: the start row, then one row per (BN mode, way), all scored."""
    import json
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    out = tmp_path / "bn.json"
    _script("sdst_student_bn").main(["--steps", "1", "--batch", "2", "--test-sequences", "1", "--train-sequences", "2",
                                     "--frames", "16", "--ways", "alone", "self KD", "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["way"], r["bn"]) for r in rows] == [("start", "-"), ("alone", "train"), ("self KD", "train"),
                                                   ("alone", "frozen"), ("self KD", "frozen")]
    assert all(0 <= r["ALL"] <= 100 for r in rows)
    assert len(capsys.readouterr().out.strip().splitlines()) == 5
    _script("sdst_student_bn").main(["--test-sequences", "1", "--frames", "16", "--ways", "--reset-eval",
                                     "--out", str(out)])   # only the checkpoint as it is, both protocols
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 1 and rows[0]["way"] == "start" and 0 <= rows[0]["reset ALL"] <= 100
