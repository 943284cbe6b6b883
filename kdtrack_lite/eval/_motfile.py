"""Minimal MOTChallenge txt reading for evaluation (TEMPORARY).

This small reader exists so that :func:`kdtrack_lite.eval.mot.evaluate_mot` can take paths. It
will be replaced by ``kdtrack_lite.data.motchallenge`` (the data layer's reader/writer) once that
lands on main; keep it minimal until then.

Layouts understood (MOTChallenge):

* ground truth: ``<root>/<seq>/gt/gt.txt`` (+ optional ``<root>/<seq>/seqinfo.ini`` giving
  ``seqLength``), or one sequence folder ``<seq>/gt/gt.txt``, or a single ``gt.txt`` file;
* tracker results: ``<root>/<seq>.txt`` (one file per sequence), or a single txt file.

Rows are comma-separated: ``frame,id,left,top,w,h,conf,class/x,visibility/y[,z]``.
"""

from __future__ import annotations

import configparser
import warnings
from pathlib import Path

import numpy as np


def read_mot_txt(path: str | Path) -> np.ndarray:
    """Read a MOTChallenge txt file into a float ``(N, C)`` array (``(0, 10)`` when empty).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a row cannot be parsed (message names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MOTChallenge file not found: {path}")
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.replace(" ", "").split(",") if v != ""])
        except ValueError as err:
            raise ValueError(f"{path}, line {lineno}: cannot parse {line!r} as comma-separated numbers") from err
        if len(rows[-1]) < 6:
            raise ValueError(f"{path}, line {lineno}: expected at least 6 columns (frame,id,left,top,w,h), got {len(rows[-1])}")
    if not rows:
        return np.zeros((0, 10))
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), -1.0)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _seq_length(seq_dir: Path) -> int | None:
    ini = seq_dir / "seqinfo.ini"
    if not ini.is_file():
        return None
    cp = configparser.ConfigParser()
    cp.read(ini)
    try:
        return int(cp["Sequence"]["seqLength"])
    except (KeyError, ValueError):
        warnings.warn(f"{ini}: no integer [Sequence] seqLength; using the last ground-truth frame")
        return None


def load_gt(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Ground truth from a file or folder -> (``{seq: rows}``, ``{seq: seqLength}`` where known)."""
    path = Path(path)
    if path.is_file():
        seq_dir = path.parent.parent if path.parent.name == "gt" else path.parent
        lengths = {seq_dir.name: n} if (n := _seq_length(seq_dir)) else {}
        return {seq_dir.name: read_mot_txt(path)}, lengths
    if (path / "gt" / "gt.txt").is_file():
        return load_gt(path / "gt" / "gt.txt")
    if not path.is_dir():
        raise FileNotFoundError(f"ground truth not found: {path}")
    gt, lengths = {}, {}
    for seq_dir in sorted(p for p in path.iterdir() if (p / "gt" / "gt.txt").is_file()):
        g, n = load_gt(seq_dir / "gt" / "gt.txt")
        gt.update(g)
        lengths.update(n)
    if not gt:
        raise FileNotFoundError(f"{path}: no <seq>/gt/gt.txt found (MOTChallenge layout expected)")
    return gt, lengths


def load_results(path: str | Path) -> dict[str, np.ndarray]:
    """Tracker results: a ``<seq>.txt`` file or a folder of them -> ``{seq: rows}``."""
    path = Path(path)
    if path.is_file():
        return {path.stem: read_mot_txt(path)}
    if not path.is_dir():
        raise FileNotFoundError(f"tracker results not found: {path}")
    files = sorted(path.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"{path}: no <seq>.txt result files found")
    return {f.stem: read_mot_txt(f) for f in files}
