"""The MOT distillation recipe: loss names, tap pairing, an equal-budget tiny run and the CLI."""

import json

import pytest
import torch

from kdtrack_lite.checkpoint import load_checkpoint
from kdtrack_lite.cli import main
from kdtrack_lite.distill import AttentionTransfer, HintLoss, ResponseKD, TrainConfig
from kdtrack_lite.models.centertrack import DetectorConfig, build_centertrack
from kdtrack_lite.train.distill_mot import (MOTDistillConfig, build_mot_losses, distill_mot_student, loss_label,
                                           parse_losses)
from kdtrack_lite.train.mot import MOTDataConfig, detector_forward, make_mot_split

TINY_DATA = MOTDataConfig.make("fast", train_sequences=1, val_sequences=1, num_frames=6, batch_size=2)
TINY = TrainConfig.make("fast", epochs=1, steps_per_epoch=2, warmup_steps=1)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    return build_centertrack(DetectorConfig.preset("teacher")).eval(), build_centertrack(DetectorConfig.preset("student")).eval()


def test_parse_losses_is_canonical_and_strict():
    assert parse_losses("at, hint") == ("hint", "at")
    assert parse_losses(["kd", "hint", "at"]) == ("hint", "at", "kd")
    assert parse_losses("none") == () == parse_losses("") == parse_losses(None)
    assert loss_label(()) == "student" and loss_label(("hint", "at")) == "+hint+at"
    with pytest.raises(ValueError, match="unknown name"):
        parse_losses("hint,fitnet")
    with pytest.raises(ValueError, match="repeated"):
        parse_losses("at,at")


def test_hint_regressors_bridge_the_tapped_channels(pair):
    teacher, student = pair
    cfg = MOTDistillConfig(hint_taps=("s8", "s16", "neck"))
    terms = build_mot_losses("hint,at,kd", student, teacher, cfg)
    assert [type(t) for t in terms] == [HintLoss, AttentionTransfer, ResponseKD]
    hint = terms[0]
    # reference: the channel counts of the taps, read from one real forward of each model
    x = {"image": torch.rand(1, 3, 32, 48), "prev_image": torch.rand(1, 3, 32, 48), "prior_hm": torch.zeros(1, 1, 32, 48)}
    feats = {}
    for role, model in (("s", student), ("t", teacher)):
        hooks = [m.register_forward_hook(lambda mod, i, o, k=(role, name): feats.__setitem__(k, o))
                 for name, m in model.taps().items()]
        with torch.no_grad():
            detector_forward(model, x)
        for h in hooks:
            h.remove()
    for tap in cfg.hint_taps:
        out = hint.regressors[tap](feats[("s", tap)])
        assert out.shape == feats[("t", tap)].shape, tap
    assert terms[1].cfg.beta == cfg.at_beta and terms[1].cfg.taps == cfg.at_taps
    assert terms[2].cfg.temperature == cfg.kd_temperature
    assert terms[2].cfg.hm_weight == cfg.kd_weight and terms[2].cfg.reg_weight == cfg.kd_reg_weight
    tuned = build_mot_losses("kd", student, teacher, cfg.replace(kd_weight=5.0, kd_reg_weight=1.0))[0]
    assert (tuned.cfg.hm_weight, tuned.cfg.reg_weight) == (5.0, 1.0)


def test_equal_budget_runs_start_from_the_same_student_and_leave_it_untouched(pair):
    teacher, student = pair
    before = {k: v.clone() for k, v in student.state_dict().items()}
    seqs = {s: make_mot_split(s, TINY_DATA) for s in ("train", "val")}
    alone, h_alone = distill_mot_student("none", teacher, student, TINY_DATA, TINY,
                                         train_sequences=seqs["train"], val_sequences=seqs["val"])
    both, h_both = distill_mot_student("hint,at", teacher, student, TINY_DATA, TINY,
                                       train_sequences=seqs["train"], val_sequences=seqs["val"])
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())
    assert len(h_alone.epochs) == len(h_both.epochs) == 1
    assert "loss_hint" in h_both.epochs[0] and "loss_at" in h_both.epochs[0]
    assert "loss_hint" not in h_alone.epochs[0]
    # the objective the loop logs is the task loss plus the two terms, nothing counted twice
    rec = h_both.epochs[0]
    assert rec["loss"] == pytest.approx(rec["loss_task"] + rec["loss_hint"] + rec["loss_at"], rel=1e-5)
    # the same seed and budget reproduce the same weights
    again, _ = distill_mot_student("none", teacher, student, TINY_DATA, TINY,
                                   train_sequences=seqs["train"], val_sequences=seqs["val"])
    assert all(torch.equal(a, b) for a, b in zip(alone.state_dict().values(), again.state_dict().values()))


def test_cli_distill_writes_a_student_checkpoint(tmp_path, pair, capsys, monkeypatch):
    teacher, student = pair
    from kdtrack_lite.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "t.pt", teacher)
    save_checkpoint(tmp_path / "s.pt", student)
    monkeypatch.setenv("KDTRACK_FAST", "1")
    monkeypatch.setattr("kdtrack_lite.train.mot.MOTDataConfig.FAST", {**MOTDataConfig.FAST, "train_sequences": 1,
                                                                    "val_sequences": 1, "num_frames": 6,
                                                                    "batch_size": 2})
    code = main(["distill", "mot", "--losses", "at", "--out", str(tmp_path / "d.pt"), "--teacher", str(tmp_path / "t.pt"),
                 "--student", str(tmp_path / "s.pt"), "--epochs", "1", "--steps", "1", "--threads", "1"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["losses"] == "+at" and printed["best_epoch"] == 1
    ckpt = load_checkpoint(tmp_path / "d.pt")
    assert ckpt.builder == "centertrack" and ckpt.build().cfg == student.cfg
    assert main(["distill", "mot", "--losses", "hint,bogus", "--out", str(tmp_path / "x.pt"),
                 "--teacher", str(tmp_path / "t.pt"), "--student", str(tmp_path / "s.pt")]) == 2
    # the response-KD settings, budget and split sizes reach the run and are recorded in the checkpoint
    assert main(["distill", "mot", "--losses", "kd", "--out", str(tmp_path / "k.pt"),
                 "--teacher", str(tmp_path / "t.pt"), "--student", str(tmp_path / "s.pt"), "--epochs", "1", "--steps", "1", "--threads", "1",
                 "--kd-weight", "3", "--kd-temperature", "1", "--kd-reg-weight", "0.5", "--lr", "1e-3",
                 "--train-sequences", "2", "--val-sequences", "2"]) == 0
    extra = load_checkpoint(tmp_path / "k.pt").extra
    assert extra["distill"]["losses"] == ["kd_det"]
    assert (extra["distill"]["kd_weight"], extra["distill"]["kd_temperature"], extra["distill"]["kd_reg_weight"]) == (
        3.0, 1.0, 0.5)
    assert extra["train_config"]["lr"] == 1e-3
    assert (extra["data_config"]["train_sequences"], extra["data_config"]["val_sequences"]) == (2, 2)


def test_benchmark_summary_mean_std_and_gap_closed():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "distill_mot.py"
    spec = importlib.util.spec_from_file_location("bench_distill_mot", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    other = {"DetA": 1.0, "AssA": 1.0, "MOTA": 1.0, "IDF1": 1.0}
    runs = [{"row": "student", "seed": 0, "HOTA": 10.0, **other}, {"row": "student", "seed": 1, "HOTA": 14.0, **other},
            {"row": "+at", "seed": 0, "HOTA": 20.0, **other}, {"row": "+at", "seed": 1, "HOTA": 24.0, **other}]
    table = bench.summarize(runs, {"HOTA": 32.0, **other})
    # hand-computed: student mean 12, std (sample) 2.83; +at mean 22; gap 32 - 12 = 20 -> (22 - 12) / 20 = 0.5
    assert table.loc["student", "HOTA"] == "12.00 ± 2.83" and table.loc["+at", "HOTA"] == "22.00 ± 2.83"
    assert table.loc["+at", "gap_closed"] == "0.50" and table.loc["student", "gap_closed"] == "0.00"
    assert list(table.index) == ["student", "+at", "teacher"] and table.loc["+at", "seeds"] == 2
    # a teacher assistant (HOTA 22) distilled from, the gap measured to the real teacher (HOTA 32)
    takd = bench.summarize(runs, {"HOTA": 22.0, **other}, reference={"HOTA": 32.0, **other})
    assert list(takd.index) == ["student", "+at", "teacher", "reference teacher"]
    assert takd.loc["+at", "gap_closed"] == "0.50" and takd.loc["teacher", "gap_closed"] == "0.50"
    assert takd.loc["reference teacher", "gap_closed"] == "1.00"


def test_head_swap_replaces_only_the_named_heads(pair):
    from kdtrack_lite.eval.head_swap import HeadSwap

    teacher, student = pair
    x = (torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48), torch.zeros(1, 1, 32, 48))
    with torch.no_grad():
        out_t, out_s = teacher(*x), student(*x)
        swapped = HeadSwap(student, teacher, ("logits_hm", "wh"))(*x)
    assert set(swapped) == set(out_s)
    for key, value in swapped.items():
        assert torch.equal(value, (out_t if key in ("logits_hm", "wh") else out_s)[key]), key
    with pytest.raises(ValueError, match="unknown head"):
        HeadSwap(student, teacher, ("heatmap",))


def test_head_swap_table_rows_and_the_plain_rows_equal_their_models():
    from kdtrack_lite.eval.head_swap import Swap, head_swap_table
    from kdtrack_lite.eval.mot_protocol import evaluate_detector
    from kdtrack_lite.track.mot_tracker import TrackerConfig

    torch.manual_seed(0)
    teacher, student = (build_centertrack(DetectorConfig.preset(r)) for r in ("teacher", "student"))
    seqs = make_mot_split("test", TINY_DATA)
    tracker = TrackerConfig()
    swaps = {"student": Swap("student"), "student + teacher hm": Swap("student", ("logits_hm",)),
             "teacher, no emb": Swap("teacher", embeddings=False)}
    table = head_swap_table(teacher, student, seqs, tracker, swaps)
    assert list(table.index) == list(swaps) and table.loc["student", "HOTA vs student"] == 0
    # the plain row is exactly the student's own tracking result
    assert table.loc["student", "HOTA"] == float(evaluate_detector(student, seqs, tracker).combined["HOTA"])
    with pytest.raises(ValueError, match="base"):
        head_swap_table(teacher, student, seqs, tracker, {"x": Swap("other")})


def test_cli_distill_from_scratch_trains_a_fresh_student_of_the_preset(tmp_path, pair, capsys, monkeypatch):
    teacher, _ = pair
    from kdtrack_lite.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "t.pt", teacher)
    monkeypatch.setenv("KDTRACK_FAST", "1")
    monkeypatch.setattr("kdtrack_lite.train.mot.MOTDataConfig.FAST", {**MOTDataConfig.FAST, "train_sequences": 1,
                                                                    "val_sequences": 1, "num_frames": 6,
                                                                    "batch_size": 2})
    args = ["distill", "mot", "--losses", "at", "--teacher", str(tmp_path / "t.pt"), "--from-scratch", "student",
            "--epochs", "1", "--steps", "1", "--threads", "1", "--at-region", "objects", "--seed", "3"]
    assert main(args + ["--out", str(tmp_path / "a.pt")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.pt")]) == 0
    a, b = load_checkpoint(tmp_path / "a.pt"), load_checkpoint(tmp_path / "b.pt")
    assert a.extra["distill"]["at_region"] == "objects"
    assert a.build().cfg == DetectorConfig.preset("student")
    for key, value in a.state_dict.items():  # the same seed gives the same fresh student and run
        assert torch.equal(value, b.state_dict[key]), key
    capsys.readouterr()
    assert main(args + ["--out", str(tmp_path / "c.pt"), "--student", str(tmp_path / "t.pt")]) == 2
    assert "not both" in capsys.readouterr().err


def test_load_or_distill_prefers_the_shipped_file_and_names_what_it_trains(tmp_path, pair, capsys, monkeypatch):
    from kdtrack_lite.checkpoint import save_checkpoint
    from kdtrack_lite.train import distill_mot

    teacher, student = pair
    assert distill_mot.distilled_name("kd", 1) == "mot_student_kd_s1"
    assert distill_mot.distilled_name("none", 0, "student_x2") == "mot_student_x2_alone_s0"
    save_checkpoint(tmp_path / "mot_student_x2_kd_s0.pt", student)
    loaded = distill_mot.load_or_distill("kd", 0, teacher, None, arch="student_x2", root=tmp_path)
    assert loaded.cfg == student.cfg and not loaded.training
    monkeypatch.setattr(distill_mot, "MOT_FINETUNE_FAST", {**distill_mot.MOT_FINETUNE_FAST, "epochs": 1,
                                                           "steps_per_epoch": 1})
    monkeypatch.setattr("kdtrack_lite.train.mot.MOTDataConfig.FAST", {**MOTDataConfig.FAST, "train_sequences": 1,
                                                                    "val_sequences": 1, "num_frames": 6,
                                                                    "batch_size": 2})
    trained = distill_mot.load_or_distill("none", 0, teacher, student, root=tmp_path)
    assert "mot_student_alone_s0.pt does not ship" in capsys.readouterr().out
    assert trained.cfg == student.cfg


def test_students_benchmark_pairs_each_row_with_alone_by_seed():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "mot_students.py"
    spec = importlib.util.spec_from_file_location("bench_mot_students", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    other = {"DetA": 1.0, "AssA": 1.0, "IDF1": 1.0}
    import pandas as pd

    runs = pd.DataFrame([{"row": "alone", "seed": 0, "HOTA": 10.0, **other}, {"row": "alone", "seed": 1, "HOTA": 14.0, **other},
                         {"row": "kd", "seed": 1, "HOTA": 17.0, **other}, {"row": "kd", "seed": 0, "HOTA": 12.0, **other}])
    table = bench.summarize(runs, {"HOTA": 32.0, **other})
    # paired by seed: (12 - 10, 17 - 14) = (2, 3): mean 2.5, SE 0.5; gap 32 - 12 = 20 -> 0.125
    assert table.loc["kd", "vs alone"] == "+2.50" and table.loc["kd", "SE"] == "0.50"
    assert table.loc["kd", "gap closed"] == "0.12" and table.loc["alone", "vs alone"] == "+0.00"
    assert list(table.index) == ["alone", "kd", "teacher"]
