"""How a SiamFC tracker is evaluated: tracked over held-out sequences, then scored (OTB / LaSOT / VOT).

Two protocols (:data:`SOT_PROTOCOLS`): ``"ope"``, one pass from the first frame's true box (OTB,
LaSOT; every shipped table), and ``"reset"``, the VOT supervised protocol that re-initialises the
tracker after each failure. Scores come from :mod:`kdtrack_lite.eval.sot` (success AUC, precision,
per attribute; frames with the target fully occluded or out of view are not scored). Training
recipes validate with :func:`evaluate_siamfc`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from torch import nn

from ..data.sequence import SOTSequence
from ..runtime import progress
from ..track.sot_tracker import SiamFCTracker, SOTTrackerConfig
from .sot import SOTReport, evaluate_sot, failure_attributes, frame_iou, success_auc

SOT_PROTOCOLS = ("ope", "reset")  # one pass (LaSOT, the shipped tables) / VOT re-initialisation after failures


def track_sot(model: nn.Module, seq: SOTSequence, cfg: SOTTrackerConfig | None = None) -> np.ndarray:
    """Run :class:`SiamFCTracker` from the first frame's true box -> predicted ``(T, 4)`` tlwh."""
    tracker = SiamFCTracker(model, cfg)
    tracker.init(seq.frames[0], seq.boxes_tlwh[0])
    pred = np.empty_like(seq.boxes_tlwh)
    pred[0] = seq.boxes_tlwh[0]
    for t in range(1, seq.num_frames):
        pred[t], _ = tracker.update(seq.frames[t])
    return pred


def track_sot_resets(model: nn.Module, seq: SOTSequence, cfg: SOTTrackerConfig | None = None,
                     skip: int = 5) -> tuple[np.ndarray, list[int]]:
    """Run :class:`SiamFCTracker` under the VOT reset protocol -> ``(pred (T, 4) tlwh, failures)``.

    The VOT supervised protocol (Kristan et al., VOT 2013-2019) separates *accuracy* (overlap
    while tracking) from *robustness* (how often the target is lost): a frame where the target is
    visible and the predicted box does not overlap it (IoU 0) is a **failure**; the tracker is
    re-initialised from the true box ``skip`` frames later (the first visible frame from there).
    Predictions of the frames in between are NaN (not tracking). OUR USE: an analysis of what a
    SiamFC loses to failures vs to box accuracy on our sequences; the scores of the shipped
    tables use the no-reset OPE protocol (:func:`track_sot`).

    Returns:
        pred: ``(T, 4)`` tlwh, NaN on the frames skipped after a failure.
        failures: frame indices of the failures.
    """
    tracker = SiamFCTracker(model, cfg)
    visible, gt = seq.visible, seq.boxes_tlwh
    pred = np.full_like(gt, np.nan)
    failures: list[int] = []
    restart = 0  # next frame to (re-)initialise on: the first, or the first visible one `skip` after a failure
    for t in range(seq.num_frames):
        if t < restart:
            continue
        if t == restart:
            if visible[t]:
                tracker.init(seq.frames[t], gt[t])
                pred[t] = gt[t]
            else:
                restart += 1
            continue
        pred[t], _ = tracker.update(seq.frames[t])
        if visible[t] and frame_iou(pred[t:t + 1], gt[t:t + 1])[0] == 0.0:
            failures.append(t)
            restart = t + skip
    return pred, failures


def track_sequences(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                    protocol: str = "ope", desc: str = "SOT eval") -> dict[str, np.ndarray]:
    """Track every sequence -> ``{name: (T, 4) tlwh}``, under ``protocol``: ``"ope"`` one pass from
    the first frame's true box (:func:`track_sot`), ``"reset"`` re-initialised 5 frames after each
    failure (:func:`track_sot_resets`; the skipped frames are NaN and score IoU 0)."""
    if protocol not in SOT_PROTOCOLS:
        raise ValueError(f"protocol must be one of {SOT_PROTOCOLS}, got {protocol!r}")
    was_training = model.training
    model.eval()
    try:
        return {s.name: track_sot(model, s, cfg) if protocol == "ope" else track_sot_resets(model, s, cfg)[0]
                for s in progress(sequences, desc=desc)}
    finally:
        model.train(was_training)


def evaluate_siamfc(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                    protocol: str = "ope") -> SOTReport:
    """Success AUC / precision overall and per attribute on ``sequences`` (frames with the target
    fully occluded or out of view are not scored, as in LaSOT); ``protocol``: :func:`track_sequences`."""
    return score_sequences(track_sequences(model, sequences, cfg, protocol), sequences)


def score_sequences(results: dict[str, np.ndarray], sequences: list[SOTSequence]) -> SOTReport:
    """:func:`~kdtrack_lite.eval.sot.evaluate_sot` of ``{name: (T, 4) tlwh}`` against ``sequences``'
    boxes, frame attributes and visibility."""
    return evaluate_sot(results, {s.name: s.boxes_tlwh for s in sequences},
                        frame_attributes={s.name: s.frame_attributes for s in sequences},
                        valid={s.name: s.visible for s in sequences})


def accuracy_robustness(model: nn.Module, sequences: list[SOTSequence], cfg: SOTTrackerConfig | None = None,
                        skip: int = 5) -> dict:
    """What a SiamFC loses to failures vs to box accuracy on ``sequences`` (OUR analysis):
    each sequence tracked once in one pass (OPE, :func:`track_sot`) and once under the VOT reset
    protocol (:func:`track_sot_resets`).

    Returns:
        ``{"OPE AUC", "OPE: sequences never lost", "OPE AUC of those", "failures per sequence",
        "sequences without failure", "accuracy (AUC of tracked frames)", "accuracy, true box size",
        "failures by attribute", "per sequence"}``. AUCs in percent are means over sequences;
        "accuracy, true box size" scores each tracked frame's predicted centre with the true size
        (what the size estimate costs); "failures by attribute" counts, per
        :func:`~kdtrack_lite.eval.sot.failure_attributes` name (``"none"`` if a failure carries
        none), the failures whose frames carry it.
    """
    per_seq, by_attr = {}, Counter()
    for seq in progress(sequences, desc="OPE + resets"):
        gt, visible = seq.boxes_tlwh, seq.visible
        pred = track_sot(model, seq, cfg)
        reset_pred, fails = track_sot_resets(model, seq, cfg, skip=skip)
        tracking = visible & np.isfinite(reset_pred).all(axis=1)
        centred = np.c_[reset_pred[:, :2] + (reset_pred[:, 2:] - gt[:, 2:]) / 2, gt[:, 2:]]  # true size, same centre
        causes = [failure_attributes(seq.frame_attributes, visible, f) for f in fails]
        by_attr.update(a for c in causes for a in c or ["none"])
        per_seq[seq.name] = {"OPE AUC": 100 * success_auc(pred, gt, valid=visible),
                             "OPE lost": bool((frame_iou(pred, gt, valid=visible) == 0).any()),
                             "tracked AUC": 100 * success_auc(reset_pred, gt, valid=tracking),
                             "true size AUC": 100 * success_auc(centred, gt, valid=tracking),
                             "failures": [{"frame": f, "causes": c} for f, c in zip(fails, causes)]}
    rows = per_seq.values()
    never = [r["OPE AUC"] for r in rows if not r["OPE lost"]]
    return {"OPE AUC": float(np.mean([r["OPE AUC"] for r in rows])),
            "OPE: sequences never lost": len(never),
            "OPE AUC of those": float(np.mean(never)) if never else float("nan"),
            "failures per sequence": sum(len(r["failures"]) for r in rows) / len(per_seq),
            "sequences without failure": sum(not r["failures"] for r in rows),
            "accuracy (AUC of tracked frames)": float(np.mean([r["tracked AUC"] for r in rows])),
            "accuracy, true box size": float(np.mean([r["true size AUC"] for r in rows])),
            "failures by attribute": by_attr,
            "per sequence": per_seq}
