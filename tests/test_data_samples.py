"""data_samples/: the manifest matches the files, and regeneration reproduces the checksums."""

import json
import shutil

import pytest

from kdtrack_lite.cli import main
from kdtrack_lite.data.motchallenge import read_mot_sequence
from kdtrack_lite.data.lasot import read_sot_sequence
from kdtrack_lite.data.samples import SAMPLES, check_samples, file_digests, regenerate_sample
from kdtrack_lite.paths import samples_dir

ROOT = samples_dir()
MANIFEST = json.loads((ROOT / "MANIFEST.json").read_text())


def test_manifest_lists_every_sample_and_matches_the_files():
    assert [s["path"] for s in MANIFEST["samples"]] == [rel for rel, _ in SAMPLES]
    assert check_samples(ROOT) == []
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert total < 40e6


def test_regenerating_a_sample_reproduces_its_checksums(tmp_path):
    import cv2
    if MANIFEST["opencv"] != cv2.__version__:
        pytest.skip(f"samples encoded with OpenCV {MANIFEST['opencv']}, this is {cv2.__version__}")
    sample = MANIFEST["samples"][0]
    regenerate_sample(sample["path"], sample["command"], tmp_path)
    assert file_digests(tmp_path / sample["path"], tmp_path) == sample["files"]


def test_check_reports_a_changed_file(tmp_path):
    shutil.copytree(ROOT, tmp_path / "ds")
    frame = next((tmp_path / "ds" / "mot" / "mot-clean" / "img1").iterdir())
    frame.write_bytes(frame.read_bytes()[:-10])
    problems = check_samples(tmp_path / "ds")
    assert len(problems) == 1 and frame.name in problems[0] and "differs" in problems[0]
    assert main(["data", "check", "--root", str(tmp_path / "ds")]) == 2


def test_samples_read_back_with_the_standard_readers():
    clean = read_mot_sequence(ROOT / "mot" / "mot-clean")
    lowq = read_mot_sequence(ROOT / "mot" / "mot-lowq")
    assert clean.num_frames == 60 and clean.size == (256, 192) and len(clean.gt) > 100
    assert clean.det is not None and clean.det.shape[1] == 10 and set(clean.det[:, 1]) == {-1}
    assert lowq.degradation and all(v.shape == (60,) for v in lowq.degradation.values())
    sot = read_sot_sequence(ROOT / "sot" / "sot-attr")
    assert {"FOC", "FM", "MB", "SV", "BC"} <= set(sot.attributes) and sot.num_frames == 80


def test_cli_generates_a_sequence(tmp_path, capsys):
    assert main(["data", "sot", "--seed", "1", "--name", "s", "--frames", "12", "--layout", "got10k",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "s" / "absence.label").is_file() and read_sot_sequence(tmp_path / "s").num_frames == 12
    assert main(["data", "mot", "--seed", "1", "--name", "m", "--fast", "--degrade", "nonsense:const:1",
                 "--out", str(tmp_path)]) == 2
    assert "degradation spec" in capsys.readouterr().err


def test_registered_checkpoint_is_checked(tmp_path):
    import json
    import shutil

    from kdtrack_lite.data.samples import check_samples, register_checkpoint
    from kdtrack_lite.paths import samples_dir

    root = tmp_path / "samples"
    shutil.copytree(samples_dir(), root, ignore=shutil.ignore_patterns("checkpoints"))
    manifest = json.loads((root / "MANIFEST.json").read_text())
    manifest["checkpoints"] = []
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    ckpt = root / "checkpoints" / "m.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights")
    register_checkpoint(ckpt, "kdtrack train mot --role student --out data_samples/checkpoints/m.pt", root)
    written = json.loads((root / "MANIFEST.json").read_text())
    entry = written["checkpoints"][0]
    assert entry["path"] == "checkpoints/m.pt" and entry["bytes"] == 7 and "kdtrack train" in entry["command"]
    assert written["total_bytes"] == sum(s["bytes"] for s in written["samples"]) + 7   # samples + checkpoints
    assert check_samples(root) == []
    ckpt.write_bytes(b"other weights")
    assert any("checkpoints/m.pt: sha256" in p for p in check_samples(root))
    ckpt.unlink()
    assert any("missing (regenerate: kdtrack train" in p for p in check_samples(root))


def test_register_if_shipped_writes_the_regeneration_command(tmp_path, monkeypatch):
    import json

    from kdtrack_lite.data.samples import register_if_shipped

    root = tmp_path / "samples"
    (root / "checkpoints").mkdir(parents=True)
    (root / "MANIFEST.json").write_text(json.dumps({"samples": [], "checkpoints": []}))
    monkeypatch.setenv("KDTRACK_SAMPLES", str(root))
    ckpt = root / "checkpoints" / "t.pt"
    ckpt.write_bytes(b"w")
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(b"w")
    assert not register_if_shipped(outside, ["kdtrack", "train", "mot"], [])
    assert register_if_shipped(ckpt, ["kdtrack", "train", "mot", "--role", "teacher"],
                               [("--seed", 0), ("--epochs", 3), ("--steps", None), ("--threads", 1)], fast=True)
    entry = json.loads((root / "MANIFEST.json").read_text())["checkpoints"][0]
    assert entry["command"] == ("kdtrack train mot --role teacher --out data_samples/checkpoints/t.pt "
                                "--epochs 3 --threads 1 --fast")
