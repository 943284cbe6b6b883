from dataclasses import dataclass

import pytest
import torch
from torch import nn

from kdtrack_lite.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from kdtrack_lite.config import Config
from kdtrack_lite.registry import build, register_builder


@dataclass
class TinyCfg(Config):
    width: int = 4


@register_builder("test_tiny", TinyCfg)
def build_tiny(cfg: TinyCfg | None = None) -> nn.Module:
    cfg = cfg or TinyCfg()
    return nn.Sequential(nn.Conv2d(3, cfg.width, 3), nn.BatchNorm2d(cfg.width))


@register_builder("test_other", TinyCfg)
def build_other(cfg: TinyCfg | None = None) -> nn.Module:
    cfg = cfg or TinyCfg()
    return nn.Sequential(nn.Conv2d(3, cfg.width, 3), nn.BatchNorm2d(cfg.width))


def test_round_trip_restores_weights_config_seed_metrics(tmp_path):
    model = build("test_tiny", TinyCfg(width=6))
    path = save_checkpoint(tmp_path / "m.pt", model, seed=11, metrics={"hota": 61.5})
    ckpt = load_checkpoint(path)
    assert (ckpt.builder, ckpt.config, ckpt.seed, ckpt.metrics) == ("test_tiny", {"width": 6}, 11, {"hota": 61.5})
    rebuilt = ckpt.build()
    x = torch.randn(1, 3, 8, 8)
    model.eval(), rebuilt.eval()
    assert torch.equal(model(x), rebuilt(x))
    assert rebuilt.kdtrack_config == TinyCfg(width=6)


def test_wrong_builder_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build("test_tiny", TinyCfg()))
    with pytest.raises(CheckpointError, match="holds a 'test_tiny' model.*'test_other'"):
        load_weights(build("test_other", TinyCfg()), path)


def test_wrong_shape_names_the_tensor(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build("test_tiny", TinyCfg(width=4)))
    with pytest.raises(CheckpointError, match=r"(?s)m\.pt.*shape mismatches:.*0\.weight: checkpoint \(4, 3, 3, 3\) vs model \(8, 3, 3, 3\)"):
        load_weights(build("test_tiny", TinyCfg(width=8)), path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"weight": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a kdtrack_lite checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_unregistered_model_needs_builder(tmp_path):
    with pytest.raises(CheckpointError, match="needs builder="):
        save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))


def test_failed_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", build("test_tiny", TinyCfg()), metrics={"v": 1})

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, build("test_tiny", TinyCfg()), metrics={"v": 2})
    monkeypatch.undo()
    assert load_checkpoint(path).metrics == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


class _Planted:
    """Unpickling it runs ``open(marker, "w")``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_planted_pickle_checkpoint_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"format": "kdtrack_lite.checkpoint", "builder": _Planted(marker)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil\.pt is not a readable torch checkpoint: it holds objects other "
                                              r"than tensors and plain values, refused unread"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_truncated_checkpoint_and_unknown_builder(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build("test_tiny", TinyCfg()))
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:500])
    with pytest.raises(CheckpointError, match=r"cut\.pt is not a readable torch checkpoint \(truncated or corrupt\?\)"):
        load_checkpoint(tmp_path / "cut.pt")
    ckpt = load_checkpoint(path)
    ckpt.builder = "gone_builder"
    with pytest.raises(CheckpointError, match=r"m\.pt: unknown model builder 'gone_builder'"):
        ckpt.build()


def test_checkpoint_of_another_family_names_argument_file_and_both_families(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build("test_tiny", TinyCfg()))
    with pytest.raises(CheckpointError, match=r"--init .*m\.pt: expected a SOT tracker \(SiamFC\) checkpoint "
                                              r"\(builder 'siamfc'\), found a model checkpoint \(builder 'test_tiny'\)"):
        load_checkpoint(path, builder="siamfc", arg="--init")
    assert load_checkpoint(path, builder="test_tiny").builder == "test_tiny"
