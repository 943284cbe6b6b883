"""Multi-object tracking metrics: CLEAR-MOT and ID metrics (motmetrics) and HOTA (trackeval).

Metrics (all from the field's reference implementations, not re-implemented here):

* **MOTA** = 1 - (FN + FP + IDSW) / GT  (Bernardin & Stiefelhagen 2008) -- dominated by detection.
* **MOTP** = mean IoU of matched pairs, reported as 0-100 like MOTChallenge/trackeval
  (motmetrics stores the mean *distance* 1 - IoU; we report ``(1 - motp) * 100``).
* **IDF1** = 2 IDTP / (2 IDTP + IDFP + IDFN), with IDP / IDR  (Ristani et al. 2016) -- one global
  identity assignment, so identity errors cost a lot.
* **HOTA** = sqrt(DetA * AssA), averaged over IoU thresholds alpha = 0.05..0.95; **LocA** = mean IoU
  of matches  (Luiten et al. 2021) -- balances detection and association.
* counts: **IDSW**, **MT** / **ML** (tracked >= 80 % / <= 20 % of its life), **FP**, **FN**.

Conventions (OUR DESIGN CHOICES, each mirrors the reference):

* Ground-truth rows with ``conf == 0`` (column 7) are ignored, as MOTChallenge does. We follow the
  **MOT15** protocol of trackeval (``BENCHMARK='MOT15'``): no class filtering and no removal of
  tracker boxes matched to distractor classes (that preprocessing is MOT16/17/20 only).
* Frames run from 1 to the sequence length (``seq_lengths``, a ``seqinfo.ini``, or else the last
  ground-truth frame). A result row outside that range is an **error** (trackeval raises too;
  motmetrics would silently count it as a false positive); so is a ground-truth row outside it
  (trackeval would leave it out of HOTA while motmetrics counts it as a miss). Read from disk,
  the error names the file and line (:func:`~kdtrack_lite.data.motchallenge.load_mot_gt`).
* The work is bounded by the data, not by the frame numbers: both libraries see only the frames
  that hold a ground-truth or result row (empty frames add nothing to either), so a long
  declared sequence with few boxes is cheap.
* A sequence in the results but not in the ground truth is an error listing the names; a ground
  truth sequence with no results is an error too -- pass an empty ``(0, 7)`` array to evaluate
  an empty tracker: then FN = GT, MOTA = 1 - FN/GT = 0, IDF1 = HOTA = DetA = AssA = 0, and the
  ratios with an empty denominator are NaN (MOTP, LocA, IDP: no match, no prediction).
* A sequence whose ground truth is empty (no ``conf != 0`` box) is an **error**: motmetrics
  would score it MOTA = -inf (NaN without false positives), and there is nothing to measure.
* NaN / inf box values, negative widths or heights, non-integer frames or ids and duplicate
  ``(frame, id)`` pairs are errors naming the sequence and row.
* ``combined`` is computed the proper way: motmetrics' ``generate_overall`` (events of all
  sequences pooled) and trackeval's ``combine_sequences`` (TP/FN/FP summed per alpha), not a mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..boxes import box_iou, tlwh_to_xyxy
from ..data.motchallenge import load_mot_gt, load_mot_results
from ._compat import import_motmetrics
from ._names import check_sequence_names

COLUMNS = ["HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR",
           "IDSW", "MT", "ML", "FP", "FN"]
PERCENT_COLUMNS = ["HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR"]
# motmetrics names -> our column names (fractions are scaled to 0-100 below)
_MM_NAMES = {"mota": "MOTA", "motp": "MOTP", "idf1": "IDF1", "idp": "IDP", "idr": "IDR",
             "num_switches": "IDSW", "mostly_tracked": "MT", "mostly_lost": "ML",
             "num_false_positives": "FP", "num_misses": "FN"}
COMBINED = "COMBINED"


@dataclass
class MOTReport:
    """Result of :func:`evaluate_mot`.

    Attributes:
        per_sequence: one row per sequence, columns :data:`COLUMNS` (percentages 0-100).
        combined: the combined row (pooled over sequences, not averaged).
        motmetrics_summary: motmetrics' own ``compute_many`` table (fractions, its names).
        hota_raw: trackeval's per-sequence HOTA result dicts (arrays over alpha), plus ``COMBINED``.
    """

    per_sequence: pd.DataFrame
    combined: pd.Series
    motmetrics_summary: pd.DataFrame
    hota_raw: dict

    @property
    def table(self) -> pd.DataFrame:
        """Per-sequence rows plus the ``COMBINED`` row."""
        return pd.concat([self.per_sequence, self.combined.to_frame().T])

    def to_markdown(self, digits: int = 1) -> str:
        """A MOTChallenge-style markdown table (percentages with ``digits`` decimals)."""
        t = self.table.copy()
        for c in COLUMNS:
            t[c] = [f"{v:.{digits}f}" if c in PERCENT_COLUMNS else f"{int(v)}" for v in t[c]]
        return t.to_markdown(disable_numparse=True, colalign=("left",) + ("right",) * len(COLUMNS))


def _check_rows(rows, seq: str, kind: str, min_cols: int) -> np.ndarray:
    """Validate one sequence's MOTChallenge rows; errors name the sequence and the row."""
    a = np.asarray(rows, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, max(min_cols, 7)))
    if a.ndim != 2 or a.shape[1] < min_cols:
        raise ValueError(f"{kind} sequence {seq!r}: expected an (N, >={min_cols}) array of MOTChallenge "
                         f"rows (frame,id,left,top,w,h,...), got shape {a.shape}")
    bad = ~np.isfinite(a[:, :6]).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{kind} sequence {seq!r}, row {i} (0-based): NaN/inf in frame,id,left,top,w,h: {a[i, :6]}")
    neg = (a[:, 4] < 0) | (a[:, 5] < 0)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ValueError(f"{kind} sequence {seq!r}, row {i}: negative width/height {a[i, 4:6]} (tlwh expected)")
    frac = (a[:, :2] != np.round(a[:, :2])).any(axis=1) | (a[:, 0] < 1)
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise ValueError(f"{kind} sequence {seq!r}, row {i}: frame and id must be integers, frames from 1; got {a[i, :2]}")
    keys = a[:, 0] * (a[:, 1].max() + 1 - a[:, 1].min()) + (a[:, 1] - a[:, 1].min())
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    if (counts > 1).any():
        i = int(first[np.argmax(counts > 1)])
        raise ValueError(f"{kind} sequence {seq!r}: (frame, id) = ({int(a[i, 0])}, {int(a[i, 1])}) appears more than once")
    return a


def _relabel(ids: np.ndarray) -> np.ndarray:
    """Map ids to 0..K-1 in sorted order (trackeval relabels ids to be contiguous)."""
    return np.unique(ids, return_inverse=True)[1].reshape(-1)


def _trackeval_data(gt: np.ndarray, res: np.ndarray, seq: str) -> dict:
    """The per-sequence dict trackeval metrics consume (what MotChallenge2DBox preprocessing yields),
    over the frames that hold a row: HOTA sums over frames and an empty frame adds nothing."""
    gt_ids, res_ids = _relabel(gt[:, 1]), _relabel(res[:, 1])
    gt_f, res_f = gt[:, 0].astype(int), res[:, 0].astype(int)
    frames = np.union1d(gt_f, res_f)
    data = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": len(frames),
            "num_gt_dets": len(gt), "num_tracker_dets": len(res), "seq": seq,
            "num_gt_ids": len(np.unique(gt[:, 1])), "num_tracker_ids": len(np.unique(res[:, 1]))}
    for f in frames:
        g, r = gt_f == f, res_f == f
        data["gt_ids"].append(gt_ids[g])
        data["tracker_ids"].append(res_ids[r])
        data["similarity_scores"].append(box_iou(tlwh_to_xyxy(gt[g, 2:6]), tlwh_to_xyxy(res[r, 2:6])))
    return data


def _hota_value(res: dict, field: str) -> float:
    """trackeval's reported number (mean over alpha, in %). LocA with no true positive at any
    alpha is NaN here: trackeval returns 1.0 (100 %) there, a number with no meaning."""
    if field == "LocA" and float(np.sum(res["HOTA_TP"])) == 0:
        return float("nan")
    return 100.0 * float(np.mean(res[field]))


def _accumulate(mm, gt: np.ndarray, res: np.ndarray, iou_threshold: float):
    """A motmetrics accumulator fed frame by frame, exactly as ``compare_to_groundtruth`` does."""
    acc = mm.MOTAccumulator(auto_id=False)
    frames = np.union1d(gt[:, 0], res[:, 0]).astype(int)
    for f in frames:
        g, r = gt[gt[:, 0] == f], res[res[:, 0] == f]
        dists = np.empty((0, 0))
        if len(g) and len(r):
            # motmetrics' own IoU distance: 1 - IoU, NaN (= may not pair) above 1 - iou_threshold
            dists = mm.distances.iou_matrix(g[:, 2:6], r[:, 2:6], max_iou=1.0 - iou_threshold)
        acc.update(g[:, 1].astype(int), r[:, 1].astype(int), dists, frameid=int(f))
    return acc


def _load(gt, results):
    lengths: dict[str, int] = {}
    gt_is_file = isinstance(gt, (str, Path)) and Path(gt).is_file()
    if isinstance(gt, (str, Path)):
        gt, lengths = load_mot_gt(gt)
    if isinstance(results, (str, Path)):
        res_is_file = Path(results).is_file()
        results = load_mot_results(results)
        if gt_is_file and res_is_file:  # one file each: they are the same sequence whatever the names
            results = {next(iter(gt)): next(iter(results.values()))}
    return dict(gt), dict(results), lengths


def evaluate_mot(gt: dict[str, np.ndarray] | str | Path, results: dict[str, np.ndarray] | str | Path,
                 iou_threshold: float = 0.5, seq_lengths: dict[str, int] | None = None) -> MOTReport:
    """Evaluate tracker results against ground truth with motmetrics and trackeval.

    Args:
        gt: ``{seq: (N, 9) rows frame,id,left,top,w,h,conf,class,visibility}`` (6 columns allowed:
            then every row counts), or a MOTChallenge gt file / sequence folder / benchmark folder.
        results: ``{seq: (M, >=6) rows frame,id,left,top,w,h,conf,...}``, or a ``<seq>.txt`` file
            or a folder of them.
        iou_threshold: IoU a match needs for CLEAR/ID metrics (MOTChallenge: 0.5). HOTA always
            sweeps its own thresholds 0.05..0.95.
        seq_lengths: frames per sequence (default: ``seqinfo.ini`` if read from disk, else the
            last ground-truth frame).

    Returns:
        :class:`MOTReport`.

    Raises:
        ValueError: unknown/missing sequences, frames outside the sequence, NaN or negative boxes,
            duplicate ``(frame, id)``, a sequence without a ground-truth box (see module docstring).
    """
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    gt, results, lengths = _load(gt, results)
    lengths.update(seq_lengths or {})
    check_sequence_names(results, gt, "; pass an empty (0, 7) array to score an empty tracker")
    if not gt:
        raise ValueError("no sequences to evaluate")

    mm = import_motmetrics()
    import trackeval

    hota = trackeval.metrics.HOTA()
    names, accs, hota_raw = [], [], {}
    for seq in sorted(gt):
        g = _check_rows(gt[seq], seq, "ground-truth", 6)
        r = _check_rows(results[seq], seq, "results", 6)
        n_frames = int(lengths.get(seq, g[:, 0].max() if len(g) else 0))
        if len(g) and g[:, 0].max() > n_frames:
            i = int(np.argmax(g[:, 0]))
            raise ValueError(f"ground-truth sequence {seq!r}, row {i}: frame {int(g[i, 0])} is beyond the sequence "
                             f"(frames 1..{n_frames}); fix the row or seq_lengths")
        if len(r) and r[:, 0].max() > n_frames:
            i = int(np.argmax(r[:, 0]))
            raise ValueError(f"results sequence {seq!r}, row {i}: frame {int(r[i, 0])} is beyond the sequence "
                             f"(frames 1..{n_frames}); trim the results or pass seq_lengths")
        if g.shape[1] >= 7:
            g = g[g[:, 6] != 0]  # conf == 0: ignored by MOTChallenge
        if not len(g):
            raise ValueError(f"ground-truth sequence {seq!r} has no box to evaluate against (no row with "
                             f"conf != 0): MOTA would be -inf; leave it out of the ground truth and the results")
        names.append(seq)
        accs.append(_accumulate(mm, g, r, iou_threshold))
        hota_raw[seq] = hota.eval_sequence(_trackeval_data(g, r, seq))
    hota_raw[COMBINED] = hota.combine_sequences({s: hota_raw[s] for s in names})

    mh = mm.metrics.create()
    summary = mh.compute_many(accs, metrics=mm.metrics.motchallenge_metrics, names=names,
                              generate_overall=True)
    table = summary.rename(columns=_MM_NAMES)[list(_MM_NAMES.values())].astype(float)
    table["MOTP"] = 1.0 - table["MOTP"]  # distance -> IoU
    for c in ["MOTA", "MOTP", "IDF1", "IDP", "IDR"]:
        table[c] *= 100.0
    for c in ["HOTA", "DetA", "AssA", "LocA"]:
        table[c] = [_hota_value(hota_raw[s], c) for s in names + [COMBINED]]
    table.index = names + [COMBINED]
    table = table[COLUMNS]
    return MOTReport(per_sequence=table.iloc[:-1].copy(), combined=table.iloc[-1].rename(COMBINED),
                     motmetrics_summary=summary, hota_raw=hota_raw)
