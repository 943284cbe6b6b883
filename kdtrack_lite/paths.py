"""Where data, checkpoints and run outputs live.

==================  ===============================  =====================================
what                default                          override
==================  ===============================  =====================================
shipped samples     ``<repo>/data_samples``          ``KDTRACK_SAMPLES``
generated runs      ``<repo>/runs`` (git-ignored)    ``KDTRACK_RUNS``
==================  ===============================  =====================================

Outside a source checkout (a plain ``pip install``), runs go to ``~/.cache/kdtrack_lite/runs``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path | None:
    """The source checkout holding this package, or None for a plain install."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def samples_dir() -> Path:
    """The folder of shipped sample sequences and checkpoints (``data_samples/``)."""
    if "KDTRACK_SAMPLES" in os.environ:
        return Path(os.environ["KDTRACK_SAMPLES"]).expanduser()
    root = repo_root()
    if root is None:
        raise FileNotFoundError(
            "data_samples/ ships with the source checkout, not with the installed package: "
            "clone the repository (README, Quickstart) or set KDTRACK_SAMPLES to its folder"
        )
    return root / "data_samples"


def runs_dir() -> Path:
    """Where generated data, trained checkpoints and reports go (created on demand)."""
    if "KDTRACK_RUNS" in os.environ:
        path = Path(os.environ["KDTRACK_RUNS"]).expanduser()
    else:
        root = repo_root()
        path = root / "runs" if root is not None else Path.home() / ".cache" / "kdtrack_lite" / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a report or notebook shows it: relative to the checkout when inside it, so that
    saved outputs never carry the paths of the machine they ran on."""
    root = repo_root()
    resolved = Path(path).expanduser().resolve()
    if root is not None and (resolved == root or root in resolved.parents):
        return resolved.relative_to(root).as_posix()
    return str(path)
