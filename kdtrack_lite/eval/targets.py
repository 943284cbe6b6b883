"""Headline targets in machine-readable form: ``benchmarks/targets.json``.

A list, one entry per target::

    {"id": "world.R1", "target": "in words", "value": 16.4, "threshold": 10, "op": ">=",
     "met": true, "n_seeds": 1, "command": "kdtrack room"}

``id`` starts with its method (``world.``, ``kd.``, ``interleave.``, ``sdst.``, ``vsd.``); ``met``
always equals ``value op threshold`` (:func:`check_targets` says where it does not). The benchmark
scripts write their own entries with :func:`update_targets`; entries of other methods are kept.
"""

from __future__ import annotations

import json
import operator
from pathlib import Path
from typing import Any

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
METHODS = ("world.", "kd.", "interleave.", "sdst.", "vsd.")
FIELDS = ("id", "target", "value", "threshold", "op", "met", "n_seeds", "command")


def target_entry(target_id: str, target: str, value: float, threshold: float, op: str, n_seeds: int,
                 command: str) -> dict:
    """One entry, ``met`` computed from ``value op threshold``."""
    if op not in OPS:
        raise ValueError(f"target {target_id}: op must be one of {sorted(OPS)}, got {op!r}")
    return {"id": target_id, "target": target, "value": round(float(value), 3), "threshold": threshold, "op": op,
            "met": bool(OPS[op](float(value), threshold)), "n_seeds": int(n_seeds), "command": command}


def check_targets(entries: Any, where: str = "targets.json") -> list[str]:
    """Problems of a targets list (empty when every entry is well formed and ``met`` agrees)."""
    if not isinstance(entries, list):
        return [f"{where}: expected a JSON list of targets, got {type(entries).__name__}"]
    problems, seen = [], set()
    for k, e in enumerate(entries):
        name = e.get("id", f"#{k}") if isinstance(e, dict) else f"#{k}"
        if not isinstance(e, dict) or sorted(e) != sorted(FIELDS):
            problems.append(f"{where} entry {name}: expected exactly the fields {list(FIELDS)}")
            continue
        if not str(e["id"]).startswith(METHODS):
            problems.append(f"{where} entry {name}: id must start with one of {METHODS}")
        if e["id"] in seen:
            problems.append(f"{where} entry {name}: id repeated")
        seen.add(e["id"])
        if e["op"] not in OPS:
            problems.append(f"{where} entry {name}: op {e['op']!r} is not one of {sorted(OPS)}")
        elif bool(OPS[e["op"]](float(e["value"]), float(e["threshold"]))) != e["met"]:
            problems.append(f"{where} entry {name}: met={e['met']} but {e['value']} {e['op']} {e['threshold']} "
                            f"is {not e['met']}")
    return problems


def read_targets(path: str | Path) -> list[dict]:
    """The entries of ``path`` ([] when it does not exist); a malformed file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a JSON targets list ({err})") from None
    problems = check_targets(entries, str(path))
    if problems:
        raise ValueError("; ".join(problems))
    return entries


def update_targets(path: str | Path, entries: list[dict]) -> list[dict]:
    """Replace the entries with the same ids (others kept, order by id) and write ``path`` atomically."""
    from ..fileio import write_text_atomic

    problems = check_targets(entries, "update_targets")
    if problems:
        raise ValueError("; ".join(problems))
    new = {e["id"]: e for e in entries}
    merged = [e for e in read_targets(path) if e["id"] not in new] + list(new.values())
    merged.sort(key=lambda e: e["id"])
    write_text_atomic(Path(path), json.dumps(merged, indent=1) + "\n")
    return merged
