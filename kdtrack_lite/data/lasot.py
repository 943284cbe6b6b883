"""LaSOT and GOT-10k sequence layouts, read and written (the reader detects which).

LaSOT (Fan et al. 2019)::

    <seq>/img/00000001.jpg
    <seq>/groundtruth.txt       x,y,w,h per frame (top-left, comma separated)
    <seq>/full_occlusion.txt    one line: 0/1 per frame, comma separated
    <seq>/out_of_view.txt       one line: 0/1 per frame, comma separated

GOT-10k (Huang et al. 2019)::

    <seq>/00000001.jpg
    <seq>/groundtruth.txt       x,y,w,h per frame
    <seq>/absence.label         0/1 per line (target absent)
    <seq>/cover.label           0..8 per line (visible share in eighths)
    <seq>/cut_by_image.label    0/1 per line (box cut by the image border)

Both layouts also get ``attributes.txt`` (LaSOT toolkit style: one line of 0/1 in ``ATTRIBUTES``
order) and ``frame_attributes.csv`` (header of names, one 0/1 row per frame). A real GOT-10k
folder has no per-frame attributes: ``absence`` becomes ``full_occlusion`` (GOT-10k does not
tell occlusion from out-of-view), the other attributes are all False.

Flags read back (``full_occlusion.txt``, ``out_of_view.txt``, ``absence.label``, ``attributes.txt``,
``frame_attributes.csv``) must be 0 or 1: any other value is an error naming
the file and line. A LaSOT folder without ``full_occlusion.txt`` / ``out_of_view.txt`` (and no
``FOC`` / ``OV`` column in ``frame_attributes.csv``) is read with every frame visible, with a
warning naming the missing file, since a tracker is then scored on frames it could not see.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..fileio import write_text_atomic
from .framesio import (DataFormatError, format_number, list_frames, parse_numeric_lines, placeholder_frames,
                       read_frames, read_json_object, write_frames)
from .motchallenge import parse_numeric_lines_from, read_csv_header, read_degradation_csv, write_degradation_csv
from .sequence import SOTSequence
from .sot_synth import ATTRIBUTES

LAYOUTS = ("lasot", "got10k")


def _flags_line(flags: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in flags) + "\n"


def write_sot_sequence(seq: SOTSequence, root: str | Path, layout: str = "lasot", ext: str = ".jpg",
                       quality: int = 95) -> Path:
    """Write ``seq`` as ``root/<seq.name>/`` in the LaSOT or GOT-10k layout; returns the folder."""
    if layout not in LAYOUTS:
        raise ValueError(f"write_sot_sequence: layout must be one of {LAYOUTS}, got {layout!r}")
    d = Path(root) / seq.name
    write_frames(seq.frames, d / "img" if layout == "lasot" else d, 8, ext, quality)
    write_text_atomic(d / "groundtruth.txt", "".join(",".join(format_number(v) for v in b) + "\n"
                                                     for b in seq.boxes_tlwh))
    if layout == "lasot":
        write_text_atomic(d / "full_occlusion.txt", _flags_line(seq.full_occlusion))
        write_text_atomic(d / "out_of_view.txt", _flags_line(seq.out_of_view))
    else:
        absent = seq.full_occlusion | seq.out_of_view
        W, H = seq.size
        b = seq.boxes_tlwh
        cut = (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 0] + b[:, 2] > W) | (b[:, 1] + b[:, 3] > H)
        occ = seq.frame_attributes.get("POC", np.zeros(seq.num_frames, bool))
        cover = np.where(absent, 0, np.where(occ, 4, 8))  # eighths visible (coarse: we keep flags only)
        write_text_atomic(d / "absence.label", "".join(f"{int(v)}\n" for v in absent))
        write_text_atomic(d / "cover.label", "".join(f"{int(v)}\n" for v in cover))
        write_text_atomic(d / "cut_by_image.label", "".join(f"{int(v)}\n" for v in cut))
        write_text_atomic(d / "meta_info.ini", f"[METAINFO]\nobject_class: synthetic\nseq_name: {seq.name}\n")
    write_text_atomic(d / "attributes.txt", _flags_line(np.array([a in seq.attributes for a in ATTRIBUTES])))
    fa = seq.frame_attributes
    write_text_atomic(d / "frame_attributes.csv", ",".join(ATTRIBUTES) + "\n" + "".join(
        ",".join(str(int(fa[a][t])) if a in fa else "0" for a in ATTRIBUTES) + "\n" for t in range(seq.num_frames)))
    if seq.degradation:
        write_degradation_csv(d / "degradation.csv", seq.degradation)
    if seq.meta:
        write_text_atomic(d / "kdtrack_meta.json", json.dumps(seq.meta, indent=1, sort_keys=True) + "\n")
    return d


def detect_layout(seq_dir: str | Path) -> str:
    """``"lasot"`` if ``seq_dir/img/`` exists, ``"got10k"`` if frames lie in ``seq_dir`` itself."""
    d = Path(seq_dir)
    if not (d / "groundtruth.txt").is_file():
        raise DataFormatError(f"{d / 'groundtruth.txt'}: missing; a LaSOT/GOT-10k sequence folder needs it")
    if (d / "img").is_dir():
        return "lasot"
    if any(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in d.iterdir()):
        return "got10k"
    raise DataFormatError(f"{d}: neither img/ (LaSOT) nor frame files (GOT-10k) found")


def _read_flags(path: Path, T: int, one_line: bool) -> np.ndarray:
    """0/1 flags ``(T,)`` bool: one comma-separated line (LaSOT) or one flag per line (GOT-10k)."""
    if one_line:
        what = f"{T} comma-separated 0/1 flags, one per frame"
        rows = parse_numeric_lines(path, (T,), what)
        if len(rows) != 1:
            raise DataFormatError(f"{path}: {len(rows)} non-empty lines, expected one line of {what}")
        rows = [(rows[0][0], [v]) for v in rows[0][1]]
    else:
        rows = parse_numeric_lines(path, (1,), "one 0/1 flag per line")
        if len(rows) != T:
            raise DataFormatError(f"{path}: {len(rows)} lines, expected one per frame ({T})")
    for i, (lineno, (v,)) in enumerate(rows):
        if v not in (0.0, 1.0):
            where = f"{path}:{lineno}" + (f", value {i + 1}" if one_line else "")
            raise DataFormatError(f"{where}: flag is {v:g}, expected 0 or 1")
    return np.array([v for _, (v,) in rows], np.float64).astype(bool)


def _missing_flags(path: Path, T: int) -> np.ndarray:
    """No flag file and no column to fall back on: every frame unflagged, said out loud."""
    warnings.warn(f"{path}: missing; every frame is read as 0 (target visible)", UserWarning, stacklevel=3)
    return np.zeros(T, bool)


def read_sot_sequence(seq_dir: str | Path, load_frames: bool = True) -> SOTSequence:
    """Read a LaSOT or GOT-10k sequence folder (layout detected).

    Raises:
        DataFormatError: missing groundtruth/frames, frame gaps, malformed lines (file:line),
            negative sizes, a frame count that differs from the groundtruth line count.
    """
    d = Path(seq_dir)
    layout = detect_layout(d)
    gt_path = d / "groundtruth.txt"
    rows = parse_numeric_lines(gt_path, (4,), "x,y,w,h")
    for lineno, v in rows:
        if v[2] < 0 or v[3] < 0:
            raise DataFormatError(f"{gt_path}:{lineno}: box size w={v[2]:g}, h={v[3]:g}, expected w >= 0 and h >= 0")
    boxes = np.array([v for _, v in rows], np.float64).reshape(-1, 4)
    T = len(boxes)
    paths = list_frames(d / "img" if layout == "lasot" else d, None, expected=T)
    if load_frames:
        frames = read_frames(paths)
    else:
        h, w = cv2.imread(str(paths[0])).shape[:2]
        frames = placeholder_frames(T, w, h)
    fa_path = d / "frame_attributes.csv"
    fa: dict[str, np.ndarray] = {}
    if fa_path.is_file():
        names, lines = read_csv_header(fa_path, "a header of attribute names and one 0/1 row per frame")
        vals = np.array(parse_numeric_lines_from(fa_path, lines, len(names))).reshape(-1, len(names))
        if len(vals) != T:
            raise DataFormatError(f"{fa_path}: {len(vals)} rows, expected one per frame ({T})")
        bad = np.argwhere((vals != 0) & (vals != 1))
        if len(bad):
            (r, c) = bad[0]
            raise DataFormatError(f"{fa_path}:{r + 2}: {names[c]} is {vals[r, c]:g}, expected 0 or 1")
        fa = {n: vals[:, i].astype(bool) for i, n in enumerate(names)}
    if layout == "lasot":
        foc_path, ov_path = d / "full_occlusion.txt", d / "out_of_view.txt"
        foc = _read_flags(foc_path, T, True) if foc_path.is_file() else \
            fa["FOC"] if "FOC" in fa else _missing_flags(foc_path, T)
        ov = _read_flags(ov_path, T, True) if ov_path.is_file() else \
            fa["OV"] if "OV" in fa else _missing_flags(ov_path, T)
    else:
        absent = _read_flags(d / "absence.label", T, False) if (d / "absence.label").is_file() \
            else np.zeros(T, bool)
        foc = fa.get("FOC", absent)
        ov = fa.get("OV", np.zeros(T, bool))
    for a in ATTRIBUTES:
        fa.setdefault(a, {"FOC": foc, "OV": ov, "OCC": foc}.get(a, np.zeros(T, bool)))
    attributes = [a for a in ATTRIBUTES if fa[a].any()]
    att_path = d / "attributes.txt"
    if att_path.is_file():
        flags = _read_flags(att_path, len(ATTRIBUTES), True)  # (A,) bool
        attributes = [a for a, f in zip(ATTRIBUTES, flags) if f]
    deg_path = d / "degradation.csv"
    degradation = {}
    if deg_path.is_file():
        degradation = read_degradation_csv(deg_path, T)
    meta_path = d / "kdtrack_meta.json"
    meta = read_json_object(meta_path) if meta_path.is_file() else {"source": str(d), "layout": layout}
    return SOTSequence(d.name, frames, boxes, foc, ov, fa, attributes, degradation, meta)
