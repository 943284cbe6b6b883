"""Single-object tracking metrics: success (AUC), precision, normalised precision (OTB / LaSOT).

Definitions (the OTB protocol of Wu et al. 2013/2015, extended by LaSOT, Fan et al. 2019):

* **Success curve**: ``S(t) = |{f : IoU(pred_f, gt_f) > t}| / |F|`` for overlap thresholds
  ``t`` in ``linspace(0, 1, 21)``; **AUC** = mean of ``S`` over those thresholds (the "success
  score" of OTB and LaSOT).
* **Precision curve**: ``P(d) = |{f : ||c(pred_f) - c(gt_f)||_2 <= d}| / |F|`` for centre errors
  ``d = 0..50`` px; **precision** = ``P(20 px)``.
* **Normalised precision** (LaSOT): centre error divided by the ground-truth size per axis,
  ``||(c_p - c_g) / (w_g, h_g)||_2``, thresholds ``0..0.5`` (step 0.01); the LaSOT paper ranks by
  the **area under this curve** on [0, 0.5] -- that is what :func:`normalized_precision` returns
  (pytracking prints the curve's value at 0.2 instead: ``normalized_precision(..., at=0.2)``).

OUR DESIGN CHOICES (stated because toolkits differ):

* Frames where the target is **absent** (fully occluded or out of view) are **not evaluated**, as
  in LaSOT: ``valid`` marks the frames to score; by default a frame is valid when its
  ground-truth box is finite with ``w > 0`` and ``h > 0``. All other frames, including the first,
  are scored (OTB includes the initialisation frame).
* A prediction that is NaN/inf or has a non-positive size on a valid frame (the tracker reported
  "lost") counts as a **failure**: IoU 0 and infinite centre error.
* A ground-truth box that is NaN on a frame marked valid is an error (the protocol is ambiguous).
* Tables report percentages 0-100; the curve functions return fractions 0-1. The overall row
  and every attribute row average **per-sequence** curves (LaSOT/OTB), not pooled frames; an
  attribute row uses, per sequence, only the frames carrying that attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..boxes import box_iou, tlwh_to_cxcywh, tlwh_to_xyxy
from ._names import check_sequence_names

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # pixels
NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 51)
PRECISION_AT_PX = 20.0
ALL = "ALL"


def _pair(pred_tlwh, gt_tlwh, valid=None, name: str = "sequence"):
    """Checked ``(T, 4)`` float arrays restricted to valid frames, and a pred-is-usable mask."""
    pred = np.asarray(pred_tlwh, dtype=np.float64).reshape(-1, 4) if np.size(pred_tlwh) else np.zeros((0, 4))
    gt = np.asarray(gt_tlwh, dtype=np.float64).reshape(-1, 4) if np.size(gt_tlwh) else np.zeros((0, 4))
    if pred.shape != gt.shape:
        raise ValueError(f"{name}: predictions {pred.shape} and ground truth {gt.shape} must have the same "
                         "(T, 4) shape (one tlwh box per frame)")
    gt_ok = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if valid is None:
        valid = gt_ok
    else:
        valid = np.asarray(valid, dtype=bool).reshape(-1)
        if valid.shape != (len(gt),):
            raise ValueError(f"{name}: valid mask has shape {valid.shape}, expected ({len(gt)},)")
        bad = valid & ~np.isfinite(gt).all(axis=1)
        if bad.any():
            raise ValueError(f"{name}: ground-truth box of frame {int(np.flatnonzero(bad)[0])} is NaN/inf "
                             "but the frame is marked valid")
    pred, gt = pred[valid], gt[valid]
    usable = np.isfinite(pred).all(axis=1) & (pred[:, 2] > 0) & (pred[:, 3] > 0)
    return pred, gt, usable


def frame_iou(pred_tlwh, gt_tlwh, valid=None) -> np.ndarray:
    """IoU per scored frame ``(T_valid,)``; failed predictions get 0."""
    pred, gt, usable = _pair(pred_tlwh, gt_tlwh, valid)
    iou = np.zeros(len(gt))
    if usable.any():
        p, g = tlwh_to_xyxy(pred[usable]), tlwh_to_xyxy(gt[usable])
        # paired IoU = diagonal of the pairwise matrix, in chunks so memory stays O(T)
        iou[usable] = np.concatenate([np.diag(box_iou(p[i:i + 256], g[i:i + 256])) for i in range(0, len(p), 256)])
    return iou


def centre_error(pred_tlwh, gt_tlwh, valid=None, normalized: bool = False) -> np.ndarray:
    """Centre distance per scored frame ``(T_valid,)`` in px (or in gt sizes); failures are inf."""
    pred, gt, usable = _pair(pred_tlwh, gt_tlwh, valid)
    err = np.full(len(gt), np.inf)
    d = tlwh_to_cxcywh(pred[usable])[:, :2] - tlwh_to_cxcywh(gt[usable])[:, :2]
    if normalized:
        d = d / gt[usable, 2:4]
    err[usable] = np.linalg.norm(d, axis=1)
    return err


def _rate(values: np.ndarray, thresholds: np.ndarray, above: bool) -> np.ndarray:
    if len(values) == 0:
        return np.full(len(thresholds), np.nan)  # no scored frame: undefined, not 0
    hit = values[None, :] > thresholds[:, None] if above else values[None, :] <= thresholds[:, None]
    return hit.mean(axis=1)


def success_curve(pred_tlwh, gt_tlwh, thresholds=SUCCESS_THRESHOLDS, valid=None):
    """Success rate vs IoU threshold.

    Args:
        pred_tlwh, gt_tlwh: ``(T, 4)`` boxes ``[left, top, w, h]``.
        thresholds: IoU thresholds ``(K,)``.
        valid: ``(T,)`` bool, frames to score (default: gt box finite and non-empty).

    Returns:
        ``(thresholds (K,), rates (K,))``, rates = fraction of scored frames with IoU > threshold
        (NaN when no frame is scored).
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return thresholds, _rate(frame_iou(pred_tlwh, gt_tlwh, valid), thresholds, above=True)


def success_auc(pred_tlwh, gt_tlwh, thresholds=SUCCESS_THRESHOLDS, valid=None) -> float:
    """Area under the success curve = mean success rate over ``thresholds`` (0-1)."""
    return float(np.mean(success_curve(pred_tlwh, gt_tlwh, thresholds, valid)[1]))


def precision_curve(pred_tlwh, gt_tlwh, thresholds=PRECISION_THRESHOLDS, valid=None):
    """Fraction of scored frames with centre error <= each threshold in px: ``(thresholds, rates)``."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return thresholds, _rate(centre_error(pred_tlwh, gt_tlwh, valid), thresholds, above=False)


def precision_at(pred_tlwh, gt_tlwh, px: float = PRECISION_AT_PX, valid=None) -> float:
    """Precision at ``px`` pixels (OTB: 20 px), 0-1."""
    return float(precision_curve(pred_tlwh, gt_tlwh, np.array([px]), valid)[1][0])


def normalized_precision_curve(pred_tlwh, gt_tlwh, thresholds=NORM_PRECISION_THRESHOLDS, valid=None):
    """LaSOT normalised-precision curve: ``(thresholds, rates)`` on size-normalised centre error."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return thresholds, _rate(centre_error(pred_tlwh, gt_tlwh, valid, normalized=True), thresholds, above=False)


def normalized_precision(pred_tlwh, gt_tlwh, valid=None, at: float | None = None) -> float:
    """LaSOT normalised precision: AUC of the curve on [0, 0.5] (default) or its value ``at`` a threshold."""
    if at is not None:
        return float(normalized_precision_curve(pred_tlwh, gt_tlwh, np.array([at]), valid)[1][0])
    return float(np.mean(normalized_precision_curve(pred_tlwh, gt_tlwh, valid=valid)[1]))


HIDDEN = "after hidden"  # failure_attributes: the target was invisible just before the failure


def failure_attributes(frame_attributes: dict[str, np.ndarray], visible: np.ndarray, frame: int,
                       lookback: int = 3, union: tuple[str, ...] = ("OCC",)) -> list[str]:
    """What the frames leading to a tracking failure carry (OUR analysis helper).

    Args:
        frame_attributes: ``{attribute: (T,) bool}`` per-frame labels of the sequence.
        visible: ``(T,)`` bool, the target can be seen (neither fully occluded nor out of view).
        frame: index of the failure.
        lookback: the attributes of frames ``[frame - lookback, frame]`` are listed.
        union: labels left out because other labels spell them out (OCC = POC or FOC).

    Returns:
        sorted attribute names, plus ``HIDDEN`` when the target was invisible within the
        ``2 * lookback`` frames before ``frame`` (it was lost while hidden or on its return).
    """
    if not 0 <= frame < len(visible):
        raise ValueError(f"failure_attributes: frame {frame} outside the sequence's {len(visible)} frames")
    window = slice(max(0, frame - lookback), frame + 1)
    found = sorted(a for a, flags in frame_attributes.items() if a not in union and np.asarray(flags)[window].any())
    if not np.asarray(visible, bool)[max(0, frame - 2 * lookback):frame].all():
        found.append(HIDDEN)
    return found


@dataclass
class SOTReport:
    """Result of :func:`evaluate_sot`.

    Attributes:
        overall: rows = sequences + ``ALL``; columns AUC, P@20, NPrec (0-100), frames.
        per_attribute: rows = attributes; same columns plus ``sequences``.
        curves: ``{row name: {"success": (K,), "precision": (51,), "norm_precision": (51,)}}`` for
            every row of both tables (attribute rows keyed ``"attr:<name>"``), for plotting.
    """

    overall: pd.DataFrame
    per_attribute: pd.DataFrame
    curves: dict = field(default_factory=dict)


def _curves(pred, gt, valid):
    return {"success": success_curve(pred, gt, valid=valid)[1],
            "precision": precision_curve(pred, gt, valid=valid)[1],
            "norm_precision": normalized_precision_curve(pred, gt, valid=valid)[1]}


def _row(curves: list[dict], frames: int, **extra) -> dict:
    mean = {k: np.mean([c[k] for c in curves], axis=0) for k in curves[0]}
    p20 = mean["precision"][int(np.flatnonzero(PRECISION_THRESHOLDS == PRECISION_AT_PX)[0])]
    return {"AUC": 100 * mean["success"].mean(), "P@20": 100 * p20,
            "NPrec": 100 * mean["norm_precision"].mean(), "frames": frames, **extra}, mean


def evaluate_sot(results: dict[str, np.ndarray], sequences: dict[str, np.ndarray],
                 frame_attributes: dict[str, dict[str, np.ndarray | bool]] | None = None,
                 valid: dict[str, np.ndarray] | None = None) -> SOTReport:
    """Score SOT results per sequence, overall and per attribute.

    Args:
        results: ``{name: (T, 4) predicted tlwh}``.
        sequences: ``{name: (T, 4) ground-truth tlwh}``.
        frame_attributes: ``{name: {attr: (T,) bool or a bool for the whole sequence}}``.
        valid: ``{name: (T,) bool}`` frames to score (default: from the ground truth, see module).

    Raises:
        ValueError: results for unknown sequences, missing results, shape mismatches, or a sequence
            with no scored frame.
    """
    check_sequence_names(results, sequences)
    frame_attributes, valid = frame_attributes or {}, valid or {}
    rows, curves, per_seq = {}, {}, {}
    for name in sorted(sequences):
        pred, gt, ok = results[name], sequences[name], valid.get(name)
        n = len(_pair(pred, gt, ok, name)[1])
        if n == 0:
            raise ValueError(f"{name}: no frame to score (target never visible / all frames invalid)")
        per_seq[name] = _curves(pred, gt, ok)
        rows[name], curves[name] = _row([per_seq[name]], n)
    rows[ALL], curves[ALL] = _row(list(per_seq.values()), int(sum(r["frames"] for r in rows.values())))
    attr_rows = {}
    names = sorted({a for d in frame_attributes.values() for a in d})
    for attr in names:
        seq_curves, frames = [], 0
        for name, attrs in frame_attributes.items():
            if name not in sequences:
                raise ValueError(f"frame_attributes names unknown sequence {name!r}")
            if attr not in attrs:
                continue
            t = len(np.asarray(sequences[name]).reshape(-1, 4))
            flag = np.broadcast_to(np.asarray(attrs[attr], dtype=bool), (t,)) if np.ndim(attrs[attr]) == 0 \
                else np.asarray(attrs[attr], dtype=bool)
            if flag.shape != (t,):
                raise ValueError(f"{name}: attribute {attr!r} has shape {flag.shape}, expected ({t},)")
            base = valid.get(name)
            base = _default_valid(sequences[name]) if base is None else np.asarray(base, dtype=bool)
            mask = flag & base
            if mask.any():
                seq_curves.append(_curves(results[name], sequences[name], mask))
                frames += int(mask.sum())
        if seq_curves:
            attr_rows[attr], curves[f"attr:{attr}"] = _row(seq_curves, frames, sequences=len(seq_curves))
    per_attr = pd.DataFrame.from_dict(attr_rows, orient="index",
                                      columns=["AUC", "P@20", "NPrec", "frames", "sequences"])
    return SOTReport(overall=pd.DataFrame.from_dict(rows, orient="index"), per_attribute=per_attr, curves=curves)


def _default_valid(gt_tlwh) -> np.ndarray:
    gt = np.asarray(gt_tlwh, dtype=np.float64).reshape(-1, 4)
    return np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
