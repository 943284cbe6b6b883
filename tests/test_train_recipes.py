"""The training recipes: held-out splits, a tiny end-to-end run, self-describing checkpoints."""

import numpy as np
import pytest

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.distill.loop import TrainConfig
from kdtrack_lite.eval.mot_protocol import evaluate_detector
from kdtrack_lite.eval.sot_protocol import evaluate_siamfc
from kdtrack_lite.paths import samples_dir
from kdtrack_lite.train.mot import MOTDataConfig, make_mot_split, mot_train_config, train_mot_detector
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split, train_siamfc

TINY = TrainConfig.make("fast", epochs=1, steps_per_epoch=2, warmup_steps=1)


def test_mot_splits_are_deterministic_and_disjoint():
    cfg = MOTDataConfig.make("fast", train_sequences=2, val_sequences=1, test_sequences=1, num_frames=5)
    a, b = make_mot_split("train", cfg), make_mot_split("train", cfg)
    assert all(np.array_equal(x.frames, y.frames) for x, y in zip(a, b))
    test = make_mot_split("test", cfg)
    assert not any(np.array_equal(x.frames[0], test[0].frames[0]) for x in a)
    other_draw = make_mot_split("train", cfg.replace(seed=1))
    assert not np.array_equal(other_draw[0].frames, a[0].frames)
    with pytest.raises(ValueError, match="split must be one of"):
        make_mot_split("holdout", cfg)


def test_full_profile_budget():
    full = mot_train_config("full")
    assert (full.epochs, full.steps_per_epoch) == (15, 150)
    assert mot_train_config("fast").epochs == TrainConfig.make("fast").epochs


def test_tiny_mot_training_writes_a_rebuildable_checkpoint(tmp_path):
    cfg = MOTDataConfig.make("fast", train_sequences=1, val_sequences=1, num_frames=6, batch_size=2)
    model, hist = train_mot_detector("student", cfg, TINY, checkpoint_path=tmp_path / "s.pt")
    ckpt = load_checkpoint(tmp_path / "s.pt")
    assert ckpt.builder == "centertrack" and ckpt.extra["role"] == "student"
    assert ckpt.metrics["val"] == pytest.approx(hist.best_metric)
    rebuilt = ckpt.build()
    val = make_mot_split("val", cfg)
    assert evaluate_detector(rebuilt, val).combined["HOTA"] == pytest.approx(hist.best_metric)


def test_sot_splits_cover_the_attributes():
    seqs = make_sot_split("test", SOTDataConfig.make("fast", test_sequences=6, num_frames=40))
    covered = set().union(*(s.attributes for s in seqs))
    assert {"FOC", "POC", "FM", "SV", "IV", "MB", "BC", "DEF", "OV"} <= covered


def test_tiny_sot_training_and_evaluation(tmp_path):
    cfg = SOTDataConfig.make("fast", train_sequences=2, train_frames=12, val_sequences=1, num_frames=12, batch_size=4)
    model, hist = train_siamfc("student", cfg, TINY, checkpoint_path=tmp_path / "t.pt")
    report = evaluate_siamfc(load_checkpoint(tmp_path / "t.pt").build(), make_sot_split("val", cfg))
    assert report.overall.loc["ALL", "AUC"] == pytest.approx(hist.best_metric)


def test_train_command_overrides_reach_the_recipe(tmp_path, capsys):
    """``kdtrack train --val-sequences/--lr/--input-norm/--search-size/--shift-of-reach`` end up in the
    checkpoint's model, data and train configs."""
    from kdtrack_lite.cli import main

    out = tmp_path / "s.pt"
    assert main(["train", "sot", "--role", "student", "--fast", "--epochs", "1", "--steps", "2", "--threads", "1",
                 "--train-sequences", "4", "--val-sequences", "2", "--lr", "1e-3", "--input-norm", "crop",
                 "--search-size", "160", "--shift-of-reach", "1.0", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.config["input_norm"] == "crop" and ckpt.build().cfg.input_norm == "crop"
    model = ckpt.build()
    assert model.cfg.search_size == 160 and model.cfg.response_size == 13  # (160 - 64) / 8 + 1
    extra = ckpt.extra
    assert extra["data_config"]["val_sequences"] == 2 and extra["data_config"]["train_sequences"] == 4
    assert extra["train_config"]["lr"] == pytest.approx(1e-3) and extra["shift_of_reach"] == 1.0
    assert main(["train", "mot", "--role", "student", "--fast", "--input-norm", "crop", "--out", str(tmp_path / "m.pt")]) != 0
    assert "--input-norm, --shift-of-reach and --search-size are SiamFC (sot) options" in capsys.readouterr().err
    assert main(["train", "sot", "--role", "student", "--fast", "--search-size", "150", "--out", str(out)]) != 0
    assert "search_size - template_size = 86" in capsys.readouterr().err  # not a multiple of the stride


def test_train_mot_arch_builds_the_wide_student(tmp_path, capsys):
    """``kdtrack train mot --arch student_x2`` trains the capacity-gap student and records its shape."""
    from kdtrack_lite.cli import main
    from kdtrack_lite.models.backbone import count_parameters
    from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack

    out = tmp_path / "w.pt"
    assert main(["train", "mot", "--role", "student", "--arch", "student_x2", "--fast", "--epochs", "1",
                 "--steps", "1", "--threads", "1", "--train-sequences", "1", "--val-sequences", "1",
                 "--out", str(out)]) == 0
    model = load_checkpoint(out).build()
    assert model.cfg == DetectorConfig.preset("student_x2")
    assert model.cfg.backbone.widths == (32, 64, 128)
    sizes = {name: count_parameters(build_centertrack(DetectorConfig.preset(name)))
             for name in ("teacher", "student", "student_x2", "student_x3", "student_m")}
    assert sizes["student"] < sizes["student_x2"] < sizes["student_x3"] < sizes["teacher"] / 8
    assert sizes["student_x2"] < sizes["student_m"] < sizes["student_x3"]   # x3's backbone, x2's neck and head
    assert DetectorConfig.preset("student_m").backbone == DetectorConfig.preset("student_x3").backbone
    from kdtrack_lite.train.distill_mot import shipped_detector
    assert shipped_detector("mot_student_m").cfg == DetectorConfig.preset("student_m")   # the shipped student_m
    assert not shipped_detector("mot_student_m_kd_s0").training
    for name in ("mot_student_x2", "mot_student_x2_kd"):   # the distilled 21x student of notebook 07
        assert shipped_detector(name).cfg == DetectorConfig.preset("student_x2")
    assert load_checkpoint(samples_dir() / "checkpoints" / "mot_student_x2_kd.pt").extra["distill"]["losses"] == ["kd_det"]
    for bad, message in ((["train", "sot", "--arch", "student_m"], "--arch student_m is not a sot preset"),
                         (["train", "mot", "--arch", "student_x4"], "--arch student_x4 is not a mot preset"),
                         (["train", "mot", "--arch", "student", "--init", str(out)], "--arch and --init")):
        assert main([*bad[:2], "--role", "student", "--fast", *bad[2:], "--out", str(tmp_path / "x.pt")]) != 0
        assert message in capsys.readouterr().err



def test_train_sot_arch_builds_the_wider_students(tmp_path):
    """``kdtrack train sot --arch student_x4``: the student's depthwise-separable SiamFC at 4x its widths,
    still >= 8x smaller than the teacher (issue 7's floor), recorded in the checkpoint."""
    from kdtrack_lite.cli import main
    from kdtrack_lite.models.backbone import count_parameters
    from kdtrack_lite.models.siamfc import SiamFCConfig, build_siamfc

    out = tmp_path / "x4.pt"
    assert main(["train", "sot", "--role", "student", "--arch", "student_x4", "--fast", "--epochs", "1", "--steps", "1",
                 "--threads", "1", "--train-sequences", "2", "--val-sequences", "1", "--out", str(out)]) == 0
    model = load_checkpoint(out).build()
    assert model.cfg == SiamFCConfig.preset("student_x4")
    assert model.cfg.backbone.widths == (64, 192) and model.cfg.backbone.block == "dwsep"
    sizes = {n: count_parameters(build_siamfc(SiamFCConfig.preset(n))) for n in ("teacher", "student", "student_x2",
                                                                                  "student_x4")}
    assert sizes["student"] < sizes["student_x2"] < sizes["student_x4"] <= sizes["teacher"] / 8
    assert SiamFCConfig.preset("student").backbone.widths == (16, 48)   # the shipped presets did not move
    from kdtrack_lite.models.centertrack import DetectorConfig
    from kdtrack_lite.train.commands import MOT_ARCHS, SOT_ARCHS   # the CLI's copies of the preset names
    assert set(SOT_ARCHS) == set(SiamFCConfig.PRESETS) and set(MOT_ARCHS) == set(DetectorConfig.PRESETS)
    assert SiamFCConfig.preset("teacher").backbone.block == "residual"
