"""Real benchmark folders: the README's "train on MOT17 / LaSOT" commands on tiny folders in the
real layouts (MOTChallenge; LaSOT class/sequence nesting; GOT-10k), at a tiny budget."""

from __future__ import annotations

import numpy as np
import pytest

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.cli import main
from kdtrack_lite.data import real
from kdtrack_lite.data.lasot import write_sot_sequence
from kdtrack_lite.data.motchallenge import read_mot_txt, write_mot_sequence
from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence
from kdtrack_lite.data.sot_synth import SOTConfig, generate_sot_sequence


@pytest.fixture(scope="module")
def mot_root(tmp_path_factory):
    """MOT17-like ``train/`` with two sequences at 320 x 240, a gt row to ignore and a non-pedestrian."""
    root = tmp_path_factory.mktemp("MOT17") / "train"
    cfg = MOTSceneConfig.make("fast", width=320, height=240, num_frames=8)
    for i in range(2):
        seq = generate_mot_sequence(cfg, seed=i, name=f"MOT17-0{i + 2}-FRCNN")
        extra = np.array([[1, 90, 5, 5, 20, 40, 0, 1, 1.0], [1, 91, 50, 50, 30, 30, 1, 7, 1.0]])
        seq.gt = np.concatenate([seq.gt, extra])
        write_mot_sequence(seq, root)
    return root


@pytest.fixture(scope="module")
def sot_root(tmp_path_factory):
    """LaSOT-like ``<class>/<class>-<n>`` folders plus one GOT-10k folder."""
    root = tmp_path_factory.mktemp("LaSOT")
    cfg = SOTConfig.make("fast", num_frames=10, width=160, height=120)
    for i, (cls, layout) in enumerate([("bird", "lasot"), ("bird", "lasot"), ("car", "got10k")]):
        seq = generate_sot_sequence(cfg, seed=i, name=f"{cls}-{i + 1}", attributes=["FM"])
        write_sot_sequence(seq, root / cls, layout=layout)
    return root


def test_mot_folder_is_resized_with_its_boxes(mot_root):
    seqs = real.load_mot_folder(mot_root, "synthetic")
    assert [s.name for s in seqs] == ["MOT17-02-FRCNN", "MOT17-03-FRCNN"]
    raw = read_mot_txt(mot_root / "MOT17-02-FRCNN" / "gt" / "gt.txt")
    seq = seqs[0]
    assert seq.size == (256, 192) and seq.meta["original_size"] == [320, 240]
    np.testing.assert_allclose(seq.gt[:, 2:6], raw[:, 2:6] * [0.8, 0.8, 0.8, 0.8])
    view = real.training_view(seq)
    assert len(view.gt) == len(seq.gt) - 2 and not np.isin([90, 91], view.gt[:, 1]).any()
    back = real.to_original_resolution(np.c_[seq.gt[:, :6], np.ones((len(seq.gt), 4))], seq)
    np.testing.assert_allclose(back[:, 2:6], raw[:, 2:6], atol=1e-3)


def test_missing_or_empty_root_names_the_expected_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        real.load_mot_folder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="seqinfo.ini"):
        real.load_mot_folder(tmp_path)
    with pytest.raises(ValueError, match="unknown MOT preset"):
        real.load_mot_folder(tmp_path, preset="mot99")


def test_readme_mot_commands_on_a_tiny_motchallenge_folder(mot_root, tmp_path, capsys):
    ckpt, results = tmp_path / "mot17_student.pt", tmp_path / "results"
    # README "Scale up": train (last sequence held out for validation), track, evaluate
    assert main(["train", "mot", "--role", "student", "--data-root", str(mot_root), "--preset", "synthetic",
                 "--fast", "--epochs", "1", "--steps", "2", "--threads", "1", "--out", str(ckpt)]) == 0
    assert load_checkpoint(ckpt).builder == "centertrack"
    distilled = tmp_path / "mot17_student_hint.pt"  # the same folder through kdtrack distill
    assert main(["distill", "mot", "--losses", "hint", "--teacher", str(ckpt), "--student", str(ckpt),
                 "--data-root", str(mot_root), "--preset", "synthetic", "--fast", "--epochs", "1", "--steps", "1",
                 "--threads", "1", "--out", str(distilled)]) == 0
    assert load_checkpoint(distilled).builder == "centertrack"
    assert main(["track", "mot", "--checkpoint", str(ckpt), "--data-root", str(mot_root), "--preset", "synthetic",
                 "--out", str(results)]) == 0
    assert sorted(p.name for p in results.iterdir()) == ["MOT17-02-FRCNN.txt", "MOT17-03-FRCNN.txt"]
    assert main(["eval", "--gt", str(mot_root), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "MOT17-02-FRCNN" in out and "HOTA" in out


def test_sot_folder_finds_lasot_and_got10k_sequences(sot_root):
    seqs = real.load_sot_folder(sot_root, max_side=80)
    assert [s.name for s in seqs] == ["bird-1", "bird-2", "car-3"]
    assert seqs[0].size == (80, 60)  # longer side 160 -> 80, boxes halved with it


def test_readme_sot_commands_on_a_tiny_lasot_folder(sot_root, tmp_path, capsys):
    ckpt, results = tmp_path / "lasot_student.pt", tmp_path / "results"
    assert main(["train", "sot", "--role", "student", "--data-root", str(sot_root), "--fast", "--epochs", "1",
                 "--steps", "2", "--threads", "1", "--out", str(ckpt)]) == 0
    assert main(["track", "sot", "--checkpoint", str(ckpt), "--data-root", str(sot_root), "--out", str(results)]) == 0
    rows = np.loadtxt(results / "bird-1.txt", delimiter=",")
    assert rows.shape == (10, 4)
    assert "AUC" in capsys.readouterr().out
