"""The one check that results and ground truth name the same sequences (MOT and SOT)."""

from __future__ import annotations

from collections.abc import Iterable


def check_sequence_names(results: Iterable[str], truth: Iterable[str], empty_hint: str = "") -> None:
    """Raise ``ValueError`` listing result sequences unknown to the ground truth, or ground-truth
    sequences without results (``empty_hint`` says how to score an empty tracker)."""
    results, truth = set(results), set(truth)
    unknown = sorted(results - truth)
    if unknown:
        raise ValueError(f"results for unknown sequence(s) {unknown}; known: {sorted(truth)}")
    missing = sorted(truth - results)
    if missing:
        raise ValueError(f"no results for sequence(s) {missing}{empty_hint}")
