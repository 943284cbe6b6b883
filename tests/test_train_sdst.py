"""SDST recipe pieces: per-sample SiamFC loss, attribute splits, the student variants' loss terms."""

import numpy as np
import pytest
import torch

from kdtrack_lite.distill.attention import AttentionTransfer
from kdtrack_lite.distill.multi_teacher import SDSTKD
from kdtrack_lite.models.siamfc import SiamFCLoss
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
