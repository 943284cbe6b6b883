"""SDST recipe pieces: per-sample SiamFC loss, attribute splits, the student variants' loss terms."""

import numpy as np
import pytest
import torch

from kdtrack_lite.distill.attention import AttentionTransfer
from kdtrack_lite.distill.multi_teacher import SDSTKD
from kdtrack_lite.models.siamfc import SiamFCConfig, SiamFCLoss, build_siamfc
from kdtrack_lite.train.sdst import (SPECIALIST_ATTRIBUTES, attribute_sequences, sdst_terms, siamfc_sample_loss)
from kdtrack_lite.train.sot import SOTDataConfig, make_sot_split


def test_sample_loss_equals_balanced_loss_of_each_sample_alone():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 9, 9, generator=g)
    batch = {"target_offset": torch.tensor([[0.0, 0.0], [12.0, -8.0], [3.0, 5.0]]),
             "visible": torch.tensor([1.0, 1.0, 0.0])}
    per = siamfc_sample_loss(logits, batch)
    ref = SiamFCLoss()
    for b in range(3):
        one = {k: v[b:b + 1] for k, v in batch.items()}
        assert torch.allclose(per[b], ref(logits[b:b + 1], one)["loss_task"], atol=1e-6)


def test_attribute_sequences_are_the_split_sequences_carrying_the_attribute():
    cfg = SOTDataConfig.make(test_sequences=6, num_frames=12)
    split = {s.name: s for s in make_sot_split("test", cfg)}
    for attr in ("OCC", "IV"):
        seqs = attribute_sequences("test", attr, 1, 12)
        assert seqs[0].name in split
        assert np.array_equal(seqs[0].boxes_tlwh, split[seqs[0].name].boxes_tlwh)
    assert attribute_sequences("test", "IV", 1, 12)[0].name == "test-02"  # ATTRIBUTE_CYCLE slot 2 = (IV, MB)
    with pytest.raises(ValueError, match="no ATTRIBUTE_CYCLE slot"):
        attribute_sequences("test", "OCCX", 1, 12)


def test_variant_terms():
    assert sdst_terms("alone") == []
    general = sdst_terms("general")
    assert isinstance(general[0], SDSTKD) and general[0].teacher_names == ["general"]
    assert isinstance(general[1], AttentionTransfer)
    fixed = sdst_terms("fixed")[0]
    assert fixed.teacher_names == ["general", *SPECIALIST_ATTRIBUTES] and fixed.cfg.scheme == "fixed"
    assert sdst_terms("adaptive")[0].cfg.scheme == "loss"
    with pytest.raises(ValueError, match="variant"):
        sdst_terms("both")


def test_benchmark_paired_differences_and_target_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sdst.py"
    spec = importlib.util.spec_from_file_location("bench_sdst", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    def row(all_, occ, fm, iv, sv):
        return {"ALL": all_, "OCC": occ, "FM": fm, "IV": iv, "SV": sv}

    results = {"runs": {
        "general": {"0": row(40, 30, 20, 30, 40), "1": row(42, 32, 22, 32, 42)},
        "fixed": {"0": row(40, 33, 21, 33, 43), "1": row(41, 33, 24, 34, 45)},   # diffs: ALL 0/-1, OCC 3/1 ...
        "adaptive": {"0": row(30, 40, 30, 40, 50), "1": row(30, 40, 30, 40, 50)},
    }}
    d = bench.paired_differences(results, "fixed")
    assert d.loc["0", "OCC"] == 3 and d.loc["1", "ALL"] == -1
    check = bench.target_check(results, "fixed")
    # hand-computed means: ALL -0.5, OCC +2.0, FM +1.5, IV +2.5, SV +3.0 -> won OCC, IV, SV; ALL >= -1
    assert check["attributes_won"] == ["OCC", "IV", "SV"] and bool(check["met"])
    assert not bool(bench.target_check(results, "fixed", margin=2.6)["met"])  # only SV left
    assert not bool(bench.target_check(results, "adaptive")["met"])  # wins everywhere but loses 11 overall
    assert "NOT met" in bench.paired_markdown(results) and "2/2 > 0" in bench.paired_markdown(results)
    # the reset-protocol columns are read under their prefix, and the same rule applies to them
    for runs in results["runs"].values():
        for r in runs.values():
            r.update({f"reset {k}": v + 10 for k, v in list(r.items())})
    results["runs"]["fixed"]["0"]["reset OCC"] -= 4  # OCC reset diffs -1 / +1 -> mean 0: OCC no longer won
    reset = bench.target_check(results, "fixed", prefix="reset ")
    assert reset["attributes_won"] == ["IV", "SV"] and not bool(reset["met"])
    assert "reset protocol" in bench.markdown({**results, "speed": {}})


def test_sdst_check_command_scores_both_teachers(capsys):
    import json

    from kdtrack_lite.cli import main
    from kdtrack_lite.paths import samples_dir

    teacher = str(samples_dir() / "checkpoints" / "sot_teacher.pt")
    main(["sdst", "check", "--attribute", "OCC", "--general", teacher, "--specialist", teacher,
          "--split", "val", "--sequences", "1", "--frames", "20", "--threads", "1"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["split"] == "val" and out["frames"] > 0
    assert out["gain"] == 0.0 and out["general"] == out["specialist"]  # the same network on the same frames
    with pytest.raises(SystemExit, match="--sequences must be >= 1"):
        main(["sdst", "check", "--attribute", "OCC", "--general", teacher, "--specialist", teacher, "--sequences", "0"])
    main(["sdst", "check", "--attribute", "IV", "--general", teacher, "--specialist", teacher, "--protocol", "reset",
          "--split", "val", "--sequences", "2", "--frames", "30", "--threads", "1"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["protocol"] == "reset" and out["sequences"] == 2
    assert out["gain"] == out["ci_low"] == out["ci_high"] == 0.0


def _tiny_siamfc(seed: int):
    torch.manual_seed(seed)
    model = build_siamfc(SiamFCConfig.preset("student"))
    for p in model.state_dict().values():  # make BatchNorm statistics differ too
        if p.is_floating_point():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def test_interpolate_weights_is_linear_in_every_float_tensor():
    from kdtrack_lite.train.sdst import interpolate_weights

    a, b = _tiny_siamfc(0), _tiny_siamfc(1)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(v, sa[k]) for k, v in interpolate_weights(a, b, 0.0).state_dict().items())
    assert all(torch.equal(v, sb[k]) for k, v in interpolate_weights(a, b, 1.0).state_dict().items())
    mid = interpolate_weights(a, b, 0.25).state_dict()
    for k, v in mid.items():
        if v.is_floating_point():
            assert torch.allclose(v, 0.75 * sa[k] + 0.25 * sb[k], atol=1e-6), k
        else:  # integer buffers (BatchNorm's num_batches_tracked) are the tuned model's
            assert torch.equal(v, sb[k])
    assert all(torch.equal(v, sb[k]) for k, v in b.state_dict().items())  # inputs untouched
    with pytest.raises(ValueError, match="alpha must be in"):
        interpolate_weights(a, b, 1.5)
    with pytest.raises(ValueError, match="fine-tuned from the general teacher"):
        interpolate_weights(build_siamfc(SiamFCConfig.preset("teacher")), b, 0.5)


class _SpyPairs:
    """Stands in for SiamesePairs in train.sot and remembers the last one built."""

    last = None

    def __new__(cls, *args, **kwargs):
        from kdtrack_lite.data.datasets import SiamesePairs

        cls.last = SiamesePairs(*args, **kwargs)
        return cls.last


def test_specialist_command_applies_and_records_its_recipe(tmp_path, monkeypatch):
    """The recipe flags reach the fine-tune (its pairs and config) and the checkpoint records them;
    --wise 0 gives back the general teacher's weights."""
    import kdtrack_lite.train.sdst as sdst
    import kdtrack_lite.train.sot as sot
    from kdtrack_lite.checkpoint import load_checkpoint, save_checkpoint
    from kdtrack_lite.cli import main

    general_path = tmp_path / "general.pt"
    save_checkpoint(general_path, _tiny_siamfc(0), seed=0, metrics={})
    seen = {}
    real, real_boxes = sot.siam_pair_config, sot.tracker_search_boxes

    def spy(model_cfg, seed=0, shift_of_reach=sot.SOT_SHIFT_OF_REACH, **overrides):
        cfg = real(model_cfg, seed, shift_of_reach, **overrides)
        seen["pairs"] = cfg
        return cfg

    def spy_boxes(model, sequences, *args, **kwargs):
        seen["boxes"] = real_boxes(model, sequences, *args, **kwargs)
        return seen["boxes"]

    monkeypatch.setattr(sot, "siam_pair_config", spy)
    monkeypatch.setattr(sdst, "tracker_search_boxes", spy_boxes)
    monkeypatch.setattr(sot, "SiamesePairs", _SpyPairs)
    out = tmp_path / "iv.pt"
    main(["sdst", "specialist", "--attribute", "IV", "--general", str(general_path), "--out", str(out), "--fast",
          "--steps", "2", "--lr", "1e-3", "--brightness", "1.4", "--scale-jitter", "0.3", "--shift-of-reach", "0.75",
          "--wise", "0", "--on-policy", "0.5", "--search-size", "96", "--no-check", "--threads", "1"])
    pairs = seen["pairs"]
    assert pairs.brightness == 1.4 and pairs.scale_jitter == 0.3 and pairs.max_shift == 0.75 * 32
    assert pairs.on_policy_prob == 0.5 and pairs.search_size == 96
    # the general teacher tracked the training sequences, and the training pairs got its boxes
    assert _SpyPairs.last.search_boxes.keys() == seen["boxes"].keys() and len(seen["boxes"]) > 0
    for boxes in seen["boxes"].values():
        assert np.isnan(boxes[0]).all() and np.isfinite(boxes[1]).all()
    ck = load_checkpoint(out)
    recipe = ck.extra["specialist_config"]
    assert (recipe["steps"], recipe["lr"], recipe["brightness"], recipe["wise"]) == (2, 1e-3, 1.4, 0.0)
    assert (recipe["on_policy"], recipe["search_size"]) == (0.5, 96)
    general = load_checkpoint(general_path).build().state_dict()
    for k, v in ck.build().state_dict().items():  # alpha 0 = the general weights (stored in float16)
        if v.is_floating_point():
            assert torch.allclose(v, general[k].half().float(), atol=1e-3), k


def test_sdst_boost_draws_the_specialists_frames_more_often_in_every_variant(monkeypatch):
    """SDSTStudentConfig.boost: one attribute sampler over the teaching specialists' attributes,
    the same for every variant (so all see the same pairs); boost 1 keeps uniform sampling."""
    import kdtrack_lite.train.sdst as sdst
    from kdtrack_lite.distill.loop import TrainConfig

    seqs = attribute_sequences("train", "IV", 2, 12) + attribute_sequences("train", "FM", 2, 12)
    seen = {}
    monkeypatch.setattr(sdst, "train_siamfc", lambda *a, **k: seen.setdefault(len(seen), k["sampler"]))
    student = build_siamfc(SiamFCConfig.preset("student"))
    cfg = TrainConfig.make("fast", epochs=1, steps_per_epoch=3, seed=0)
    for variant in ("alone", "fixed"):
        sdst.train_sdst_student(variant, student, student, {"IV": student}, seqs, cfg, batch_size=4,
                                cfg=sdst.SDSTStudentConfig(boost=5.0))
    sdst.train_sdst_student("general", student, student, {"IV": student}, seqs, cfg, batch_size=4)
    boosted, same, uniform = seen[0], seen[1], seen[2]
    assert uniform is None and boosted.num_samples == 3 * 4
    assert torch.equal(boosted.weights, same.weights) and set(boosted.weights.tolist()) == {1.0, 5.0}
    iv = np.concatenate([s.frame_attributes["IV"] for s in seqs])
    assert iv.any() and not iv.all()


def test_paired_interval_brackets_the_mean_and_ignores_missing_sequences():
    from kdtrack_lite.train.sdst import paired_interval

    lo, hi = paired_interval(np.array([1.0, 2.0, 3.0, np.nan, 4.0]))
    assert lo < 2.5 < hi and 1.0 <= lo and hi <= 4.0
    lo, hi = paired_interval(np.array([-5.0, 5.0, -4.0, 4.0]))
    assert lo < 0 < hi  # a noisy zero-mean gain is not a gain
    assert paired_interval(np.full(6, 2.0)) == (2.0, 2.0)
    with pytest.raises(ValueError, match=">= 2 sequences"):
        paired_interval(np.array([1.0, np.nan]))


def test_check_specialist_reports_a_paired_interval_per_sequence():
    from kdtrack_lite.checkpoint import load_checkpoint
    from kdtrack_lite.paths import samples_dir
    from kdtrack_lite.train.sdst import attribute_auc, attribute_sequences, check_specialist, interpolate_weights

    general = load_checkpoint(samples_dir() / "checkpoints" / "sot_teacher.pt").build().eval()
    shipped = load_checkpoint(samples_dir() / "checkpoints" / "sot_specialist_IV.pt").build().float().eval()
    seqs = attribute_sequences("test", "IV", 3, 30)
    scores = attribute_auc(general, "IV", seqs)
    # the attribute AUC is the mean of the per-sequence AUCs on the attribute's frames
    assert np.nanmean(scores["per_sequence"]) == pytest.approx(scores["IV"], abs=1e-9)
    out = check_specialist(general, interpolate_weights(general, shipped, 0.5), "IV", seqs)
    assert out["sequences"] == np.isfinite(scores["per_sequence"]).sum() >= 2
    assert out["ci_low"] <= out["gain"] <= out["ci_high"]
    with pytest.raises(ValueError, match="protocol must be one of"):
        attribute_auc(general, "IV", seqs, protocol="vot")


def test_reset_protocol_scores_frames_after_a_failure_as_misses():
    """Under "reset" the tracker restarts after a failure, so it can only do better than a one-pass
    run that never recovers; the frames it skips count as IoU 0."""
    from kdtrack_lite.checkpoint import load_checkpoint
    from kdtrack_lite.eval.sot_protocol import track_sot_resets
    from kdtrack_lite.paths import samples_dir
    from kdtrack_lite.train.sdst import attribute_auc, attribute_sequences

    student = load_checkpoint(samples_dir() / "checkpoints" / "sot_student.pt").build().eval()
    seqs = attribute_sequences("val", "FM", 4, 60)
    ope, reset = (attribute_auc(student, "FM", seqs, p)["per_sequence"] for p in ("ope", "reset"))
    failed = [len(track_sot_resets(student, s)[1]) > 0 for s in seqs]
    assert any(failed), "the student should lose a fast-moving target at least once in 4 sequences"
    for o, r, f in zip(ope, reset, failed):
        if np.isfinite(o) and not f:
            assert r == pytest.approx(o)  # no failure: the same run


def test_sdst_student_bn_frozen_fine_tune_keeps_the_students_running_statistics():
    """SDSTStudentConfig(student_bn="frozen") reaches the training loop: after a distilled fine-tune the
    student's BN running statistics are the initial student's, its weights are not; "train" moves both."""
    from kdtrack_lite.distill.loop import TrainConfig
    from kdtrack_lite.train.sdst import SDSTStudentConfig, train_sdst_student

    torch.manual_seed(0)
    seqs = attribute_sequences("train", "FM", 2, 12)
    student, teacher = build_siamfc(SiamFCConfig.preset("student")), build_siamfc(SiamFCConfig.preset("student"))
    cfg = TrainConfig.make("fast", epochs=1, steps_per_epoch=2, seed=0, lr=1e-2)
    start = student.state_dict()
    tuned = {bn: train_sdst_student("general", student, teacher, {}, seqs, cfg, batch_size=4,
                                    cfg=SDSTStudentConfig(student_bn=bn))[0].state_dict() for bn in ("frozen", "train")}
    stats = [k for k in start if k.endswith(("running_mean", "running_var"))]
    weights = [k for k in start if k.endswith("weight")]
    assert stats and all(torch.equal(tuned["frozen"][k], start[k]) for k in stats)
    assert not all(torch.equal(tuned["train"][k], start[k]) for k in stats)
    assert not all(torch.equal(tuned["frozen"][k], start[k]) for k in weights)


def test_specialist_with_frozen_bn_keeps_the_general_teachers_statistics():
    """SpecialistConfig(student_bn="frozen") reaches the fine-tune: the specialist keeps the general teacher's
    BatchNorm statistics (the diagnosis script's ``--mode frozen``), and the config records it."""
    from kdtrack_lite.train.sdst import SpecialistConfig, train_specialist

    torch.manual_seed(0)
    general = build_siamfc(SiamFCConfig.preset("student")).eval()
    cfg = SpecialistConfig.make("fast", steps=2, train_sequences=2, student_bn="frozen")
    tuned, _ = train_specialist(general, "IV", cfg)
    start, end = general.state_dict(), tuned.state_dict()
    assert all(torch.equal(end[k], start[k]) for k in start if k.endswith(("running_mean", "running_var")))
    assert not all(torch.equal(end[k], start[k]) for k in start if k.endswith("weight"))
    assert cfg.to_dict()["student_bn"] == "frozen"
