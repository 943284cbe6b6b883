"""The standard opening of every notebook, kept in one place.

Every notebook in ``notebooks/`` starts with a markdown cell carrying the Colab badge and then
the code cell :data:`STANDARD_CELL`, word for word (``tests/test_notebooks.py`` checks both).
The cell installs kdtrack_lite only where it is missing (Colab), then calls :func:`setup`.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .config import current_profile, is_fast
from .paths import display_path, runs_dir, samples_dir
from .runtime import pick_device, seed_everything

REPO_URL = "https://github.com/kdtrack-lite/kdtrack_lite"
# Colab opens a GitHub notebook at colab.research.google.com/github/<owner>/<repo>/blob/...
COLAB_BADGE = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/" + REPO_URL.removeprefix("https://github.com/")
    + "/blob/main/notebooks/{name})"
)

STANDARD_CELL = f"""\
# kdtrack_lite standard setup: the same first cell in every notebook.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("kdtrack_lite") is None:  # install only what is missing
    if "google.colab" not in sys.modules:
        raise ModuleNotFoundError("kdtrack_lite is not installed: run `make lab` in the repository (README, Quickstart)")
    subprocess.run(["git", "clone", "-q", "--depth", "1", "{REPO_URL}", "/content/kdtrack_lite"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/kdtrack_lite"], check=True)
    sys.path.insert(0, "/content/kdtrack_lite")
    os.chdir("/content/kdtrack_lite/notebooks")
from kdtrack_lite.notebook import setup
ENV = setup(seed=0)  # seeds everything, picks the device, reads KDTRACK_FAST
FAST, DEVICE, SEED = ENV.fast, ENV.device, ENV.seed"""


@dataclass(frozen=True)
class NotebookEnv:
    fast: bool
    device: torch.device
    seed: int
    profile: str

    def summary(self) -> dict[str, str]:
        """Versions and places a student (or a bug report) needs, as a small dict."""
        try:
            samples = display_path(samples_dir())
        except FileNotFoundError as err:
            samples = f"(not found: {err})"
        return {
            "kdtrack_lite": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": str(self.device),
            "profile": self.profile + (" (KDTRACK_FAST=1)" if self.fast else ""),
            "seed": str(self.seed),
            "samples": samples,
            "runs": display_path(runs_dir()),
        }


FIGURE_DPI = 100  # PNG at 100 dpi: labels stay readable on a laptop screen


def _configure_matplotlib() -> None:
    import matplotlib

    matplotlib.rcParams["figure.dpi"] = FIGURE_DPI
    matplotlib.rcParams["savefig.dpi"] = FIGURE_DPI
    try:  # inside Jupyter: PNG figures (sharp lines and text; JPEG blurs labels)
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats("png")
    except ImportError:
        pass


def setup(seed: int = 0, device: str | None = None, quiet: bool = False) -> NotebookEnv:
    """Seed everything, pick the device, read the FAST flag and set plot defaults; print one line."""
    seed_everything(seed)
    _configure_matplotlib()
    env = NotebookEnv(fast=is_fast(), device=pick_device(device), seed=seed, profile=current_profile())
    if not quiet:
        s = env.summary()
        print(
            f"kdtrack_lite {s['kdtrack_lite']} | torch {s['torch']} | device {s['device']} | "
            f"profile {s['profile']} | seed {seed}",
            file=sys.stdout,
        )
    return env


def colab_badge(notebook_name: str) -> str:
    """The Colab badge markdown for ``notebooks/<notebook_name>``."""
    return COLAB_BADGE.format(name=Path(notebook_name).name)


def self_check(name: str, attempt: Callable[..., Any], reference: Callable[..., Any],
               make_inputs: Callable[[int], tuple], trials: int = 3, atol: float = 1e-5) -> Callable[..., Any]:
    """Check an exercise: compare the student's ``attempt`` with the library's ``reference``.

    Each trial draws fresh inputs ``make_inputs(trial)`` and compares the two results (tensors or
    numbers, to ``atol``). An attempt that still raises ``NotImplementedError`` (the untouched
    stub) is reported as "not attempted yet" and the reference is returned, so that a notebook
    run top to bottom (and nbval) still works; a wrong attempt raises ``AssertionError`` saying
    where it differs.

    Returns:
        the function later cells should use: the attempt once it passes, else the reference.
    """
    for trial in range(trials):
        inputs = make_inputs(trial)
        try:
            got = attempt(*inputs)
        except NotImplementedError:
            print(f"{name}: not attempted yet -- using the reference ({getattr(reference, '__name__', 'library')})")
            return reference
        want = reference(*inputs)
        got_t, want_t = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(want, dtype=torch.float64)
        if got_t.shape != want_t.shape or not torch.allclose(got_t, want_t, atol=atol, rtol=1e-4):
            raise AssertionError(f"{name}: trial {trial} gives {got_t.flatten()[:4].tolist()} (shape "
                                 f"{tuple(got_t.shape)}), the reference {want_t.flatten()[:4].tolist()} "
                                 f"(shape {tuple(want_t.shape)})")
    print(f"{name}: correct on {trials} fresh inputs")
    return attempt
