"""Seeds, devices and progress bars: what every script and notebook sets up first."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .fileio import UserInputError

DEVICE_ENV = "KDTRACK_DEVICE"


class DeviceError(UserInputError, RuntimeError):
    """The asked-for device (``--device``, ``$KDTRACK_DEVICE``) is not a device name, or not here."""


def seed_everything(seed: int, deterministic: bool = True) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA) so that a run can be repeated.

    With ``deterministic=True`` torch is asked for deterministic kernels where it has them
    (``warn_only``, so an op without one still runs). The same seed then gives the same data,
    training and metrics on the same machine; across machines, floating-point order may differ.

    Returns:
        The seed, for logging and checkpoints.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return seed


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to run on: ``prefer``, else ``$KDTRACK_DEVICE``, else cuda > mps > cpu.

    Raises:
        DeviceError: (a ``RuntimeError``) when the asked-for device is not a device name or not
            available here.
    """
    name = prefer or os.environ.get(DEVICE_ENV) or None
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    asked = f"device {name!r}" if prefer else f"${DEVICE_ENV}={name!r}"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise DeviceError(f"{asked} is not a device name; expected cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"{asked} was asked for, but torch sees no CUDA GPU here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"{asked} was asked for, but torch sees {torch.cuda.device_count()} CUDA GPU(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"{asked} was asked for, but MPS is not available here")
    return device


def progress(iterable=None, desc: str | None = None, total: int | None = None,
             disable: bool = False, **kwargs):
    """A ``tqdm.auto`` bar (a widget in notebooks, text in a terminal).

    Set ``KDTRACK_PROGRESS=0`` to silence every bar (the test suite does not need them).
    """
    disable = disable or os.environ.get("KDTRACK_PROGRESS", "1") == "0"
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False, **kwargs)


def machine_summary() -> dict:
    """Where the numbers were measured: OS, CPU, cores, torch version and threads, device."""
    cpu = platform.processor() or platform.machine()
    try:  # the model name is more useful than "x86_64" where /proc/cpuinfo exists
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"os": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
