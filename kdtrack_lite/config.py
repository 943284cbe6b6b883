"""Typed configs with FAST and FULL profiles.

Every component keeps its hyper-parameters in a dataclass next to its code. A config
class may declare ``FAST`` overrides: the values that make a notebook or a test run in about a
minute on a 2-core CPU. ``Config.make()`` picks the profile from the ``KDTRACK_FAST``
environment variable (``1`` = FAST, anything else or unset = FULL), so one flag switches every
component at once.

Example:
    >>> @dataclass
    ... class TrainConfig(Config):
    ...     epochs: int = 30
    ...     FAST: ClassVar[dict] = {"epochs": 2}
    >>> TrainConfig.make(profile="fast").epochs
    2
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

Profile = Literal["fast", "full"]
PROFILES: tuple[str, ...] = ("fast", "full")
FAST_ENV = "KDTRACK_FAST"

C = TypeVar("C", bound="Config")


def is_fast() -> bool:
    """True when ``KDTRACK_FAST`` is set to 1/true/yes (case-insensitive)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def current_profile() -> Profile:
    """The profile the environment asks for: ``"fast"`` or ``"full"``."""
    return "fast" if is_fast() else "full"


class ConfigError(ValueError):
    """A config was given a field it does not have, or a value of the wrong kind."""


@dataclass
class Config:
    """Base of every kdtrack_lite config: profiles, dict round-trip, strict field names."""

    FAST: ClassVar[dict[str, Any]] = {}

    @classmethod
    def make(cls: type[C], profile: str | None = None, **overrides: Any) -> C:
        """Build the config for ``profile`` (default: from the environment), then ``overrides``.

        Args:
            profile: ``"fast"``, ``"full"`` or ``None`` (read ``KDTRACK_FAST``).
            **overrides: field values that win over both profiles.
        """
        profile = current_profile() if profile is None else profile
        if profile not in PROFILES:
            raise ConfigError(f"profile must be one of {PROFILES}, got {profile!r}")
        values = dict(cls.FAST) if profile == "fast" else {}
        values.update(overrides)
        return cls.from_dict(values)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], values: dict[str, Any]) -> C:
        """Inverse of :meth:`to_dict`; unknown keys are an error, nested configs are rebuilt."""
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no field(s) {unknown}; expected some of {cls.field_names()}"
            )
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for name, value in values.items():
            hint = hints.get(name)
            if isinstance(hint, type) and issubclass(hint, Config) and isinstance(value, dict):
                value = hint.from_dict(value)
            elif isinstance(value, list) and typing.get_origin(hint) is tuple:
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly dict of every field (nested configs become dicts)."""
        return dataclasses.asdict(self)

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (unknown names are an error)."""
        return self.from_dict({**self.to_dict(), **changes})
