from dataclasses import dataclass
from typing import ClassVar

import pytest

from kdtrack_lite.config import Config, ConfigError, current_profile, is_fast


@dataclass
class Inner(Config):
    width: int = 32


@dataclass
class TrainCfg(Config):
    epochs: int = 30
    lr: float = 1e-3
    sizes: tuple[int, int] = (64, 64)
    inner: Inner = None  # type: ignore[assignment]
    FAST: ClassVar[dict] = {"epochs": 2, "sizes": (32, 32)}

    def __post_init__(self):
        if self.inner is None:
            self.inner = Inner()


def test_profiles_differ_only_in_fast_fields():
    fast, full = TrainCfg.make(profile="fast"), TrainCfg.make(profile="full")
    assert (fast.epochs, fast.sizes) == (2, (32, 32))
    assert (full.epochs, full.sizes) == (30, (64, 64))
    assert fast.lr == full.lr


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("KDTRACK_FAST", "1")
    assert is_fast() and current_profile() == "fast" and TrainCfg.make().epochs == 2
    monkeypatch.setenv("KDTRACK_FAST", "0")
    assert not is_fast() and TrainCfg.make().epochs == 30
    monkeypatch.delenv("KDTRACK_FAST")
    assert current_profile() == "full"


def test_overrides_win_over_profile():
    assert TrainCfg.make(profile="fast", epochs=5).epochs == 5


def test_dict_round_trip_rebuilds_nested_and_tuples():
    cfg = TrainCfg.make(profile="full", inner=Inner(width=8))
    d = cfg.to_dict()
    d["sizes"] = list(d["sizes"])  # as after a JSON round trip
    back = TrainCfg.from_dict(d)
    assert back == cfg and isinstance(back.inner, Inner) and back.sizes == (64, 64)


def test_unknown_field_and_profile_are_clear_errors():
    with pytest.raises(ConfigError, match="no field.*'epoch'"):
        TrainCfg.make(epoch=3)
    with pytest.raises(ConfigError, match="profile must be one of"):
        TrainCfg.make(profile="medium")
    with pytest.raises(ConfigError):
        TrainCfg.make().replace(nope=1)
