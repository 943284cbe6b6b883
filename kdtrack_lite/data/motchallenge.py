"""MOTChallenge layout, read and written: the same code reads real MOT15/16/17/20 folders.

Layout::

    <seq>/seqinfo.ini        [Sequence] name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    <seq>/img1/000001.jpg    frames, 1-based, six digits
    <seq>/gt/gt.txt          frame,id,left,top,w,h,conf,class,visibility         (MOT16/17/20: 9 cols)
                             frame,id,left,top,w,h,conf,x,y,z                    (MOT15: 10 cols)
    <seq>/det/det.txt        frame,-1,left,top,w,h,score,x,y,z  (10 cols; 7 cols also accepted)

Tracker results use the 10-column form ``frame,id,left,top,w,h,conf,-1,-1,-1``. MOT15 ground
truth has no class or visibility columns: it is read as class 1 (pedestrian), visibility 1.
Extras that other tools ignore: ``degradation.csv`` (per-frame levels) and ``kdtrack_meta.json``.

OUR DESIGN CHOICE: a frame number above :data:`MAX_FRAME` is read as a typo and is an error
naming its line (the longest MOTChallenge sequences have a few thousand frames; 10^6 frames are
nine hours at 30 fps), so one mistyped row cannot make evaluation walk through 10^8 empty frames.
Text files are read as UTF-8; every error names the file, and the line where there is one.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import numpy as np

from ..fileio import write_text_atomic
from .framesio import (DataFormatError, finite_number, format_number, list_frames, parse_numeric_lines,
                       placeholder_frames, read_frames, read_json_object, read_text, write_frames)
from .sequence import MOTSequence

MAX_FRAME = 1_000_000
_LAYOUTS = {
    "gt": ((9, 10), "MOTChallenge gt: frame,id,left,top,w,h,conf,class,visibility (MOT15: ...,conf,x,y,z)"),
    "det": ((10, 7), "MOTChallenge det: frame,id,left,top,w,h,score[,x,y,z]"),
    "results": ((10, 7), "MOTChallenge results: frame,id,left,top,w,h,conf,-1,-1,-1"),
}


def read_mot_txt(path: str | Path, kind: str = "gt", seq_length: int | None = None,
                 length_source: str = "seqinfo.ini") -> np.ndarray:
    """Read a MOTChallenge text file, checked line by line.

    Args:
        kind: ``"gt"`` -> ``(N, 9)`` (MOT15's 10 columns become class 1, visibility 1);
            ``"det"`` / ``"results"`` -> ``(N, 10)`` (7-column files padded with -1).
        seq_length: the sequence's frame count, when known; a row beyond it is an error.
        length_source: the file ``seq_length`` comes from, for that error.

    Returns:
        float64 rows sorted by frame, then id.

    Raises:
        DataFormatError: naming ``path:line`` for a wrong column count, a field that is not a
            finite number, a frame below 1, above ``seq_length`` or :data:`MAX_FRAME`, or not an
            integer, or a negative width/height.
    """
    if kind not in _LAYOUTS:
        raise ValueError(f"read_mot_txt: kind must be one of {sorted(_LAYOUTS)}, got {kind!r}")
    allowed, what = _LAYOUTS[kind]
    rows = []
    for lineno, v in parse_numeric_lines(path, allowed, what):
        if v[0] < 1 or not float(v[0]).is_integer():
            raise DataFormatError(f"{path}:{lineno}: frame is {v[0]:g}, expected an integer >= 1 ({what})")
        if seq_length is not None and v[0] > seq_length:
            raise DataFormatError(f"{path}:{lineno}: frame {int(v[0])} is beyond seqLength={seq_length} in "
                                  f"{length_source}")
        if v[0] > MAX_FRAME:
            raise DataFormatError(f"{path}:{lineno}: frame {int(v[0])} is above {MAX_FRAME}, taken as a typo "
                                  f"(MOTChallenge sequences have at most a few thousand frames)")
        if v[4] < 0 or v[5] < 0:
            raise DataFormatError(f"{path}:{lineno}: box size w={v[4]:g}, h={v[5]:g}, expected w >= 0 and h >= 0 "
                                  f"({what})")
        if kind == "gt" and len(v) == 10:
            v = v[:7] + [1.0, 1.0]
        elif kind != "gt" and len(v) == 7:
            v = v + [-1.0, -1.0, -1.0]
        if kind == "gt" and not 0 <= v[8] <= 1:
            raise DataFormatError(f"{path}:{lineno}: visibility is {v[8]:g}, expected a value in [0, 1] ({what})")
        rows.append(v)
    arr = np.array(rows, np.float64).reshape(-1, 9 if kind == "gt" else 10)
    return arr[np.lexsort((arr[:, 1], arr[:, 0]))]


def write_mot_txt(path: str | Path, rows: np.ndarray) -> Path:
    """Write rows (any column count) as comma-separated MOTChallenge text, atomically."""
    rows = np.asarray(rows, np.float64)
    text = "".join(",".join(format_number(v) for v in r) + "\n" for r in rows)
    return write_text_atomic(path, text)


def write_mot_results(path: str | Path, rows: np.ndarray) -> Path:
    """Write tracker output ``(N, 10)`` = frame,id,left,top,w,h,conf,-1,-1,-1 (atomic).

    Raises:
        ValueError: rows not of shape ``(N, 10)``.
    """
    rows = np.asarray(rows, np.float64)
    if rows.ndim != 2 or rows.shape[1] != 10:
        if rows.size == 0:
            rows = rows.reshape(0, 10)
        else:
            raise ValueError(f"write_mot_results({path}): rows must be (N, 10), got {rows.shape}")
    return write_mot_txt(path, rows[np.lexsort((rows[:, 1], rows[:, 0]))])


def read_seqinfo(seq_dir: str | Path) -> dict:
    """Parse ``seqinfo.ini``; returns name, imDir, frameRate, seqLength, imWidth, imHeight, imExt."""
    path = Path(seq_dir) / "seqinfo.ini"
    if not path.is_file():
        raise DataFormatError(f"{path}: missing; a MOTChallenge sequence folder needs seqinfo.ini "
                              f"([Sequence] name, imDir, frameRate, seqLength, imWidth, imHeight, imExt)")
    sec = _sequence_section(path)
    info = {}
    for key, cast in (("name", str), ("imDir", str), ("frameRate", float), ("seqLength", int),
                      ("imWidth", int), ("imHeight", int), ("imExt", str)):
        if key not in sec:
            raise DataFormatError(f"{path}: key {key!r} missing from [Sequence]")
        try:
            info[key] = cast(sec[key])
        except ValueError:
            raise DataFormatError(f"{path}: {key} = {sec[key]!r}, expected {cast.__name__}") from None
    return info


def _sequence_section(path: Path) -> configparser.SectionProxy:
    """The ``[Sequence]`` section of a ``seqinfo.ini`` (UTF-8, INI syntax), errors naming the file."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    try:
        parser.read_string(read_text(path, "seqinfo.ini: [Sequence] name, seqLength, ..."), source=str(path))
    except configparser.MissingSectionHeaderError as err:
        raise DataFormatError(f"{path}:{err.lineno}: no section header before {err.line.strip()!r}; "
                              f"seqinfo.ini starts with a [Sequence] line") from None
    except configparser.Error as err:
        raise DataFormatError(f"{path}: not a valid INI file ({err.message.splitlines()[0]})") from None
    if "Sequence" not in parser:
        raise DataFormatError(f"{path}: no [Sequence] section")
    return parser["Sequence"]


def _seq_length(seq_dir: Path) -> int | None:
    """``seqLength`` from ``seq_dir/seqinfo.ini`` (only that key is needed to evaluate), or None."""
    path = seq_dir / "seqinfo.ini"
    if not path.is_file():
        return None
    sec = _sequence_section(path)
    try:
        return int(sec["seqLength"])
    except (KeyError, ValueError):
        raise DataFormatError(f"{path}: expected an integer seqLength in its [Sequence] section") from None


def load_mot_gt(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Ground truth for evaluation from a ``gt.txt`` file, a sequence folder or a split folder.

    Layouts: ``<root>/<seq>/gt/gt.txt`` (a split such as ``MOT17/train``), ``<seq>/gt/gt.txt``, or
    a single gt file. ``seqinfo.ini`` beside ``gt/`` gives the sequence length when present.

    Returns:
        ``({seq: (N, 9) rows}, {seq: seqLength})`` (lengths only where a ``seqinfo.ini`` exists).

    Raises:
        DataFormatError: a gt row beyond ``seqLength`` (file:line), a gt file without a box to
            evaluate against (no row, or every row with ``conf == 0``), and the errors of
            :func:`read_mot_txt`.
        FileNotFoundError: ``path`` missing; in a split folder, a sequence folder (one with a
            ``seqinfo.ini``, ``img1/`` or ``gt/``) without ``gt/gt.txt``.
    """
    path = Path(path)
    if path.is_file():
        seq_dir = path.parent.parent if path.parent.name == "gt" else path.parent
        n = _seq_length(seq_dir)
        rows = read_mot_txt(path, "gt", n, str(seq_dir / "seqinfo.ini"))
        if not (rows[:, 6] != 0).any():
            got = "has no rows" if not len(rows) else f"has {len(rows)} row(s), all with conf = 0 (ignored)"
            raise DataFormatError(f"{path}: {got}: no ground-truth box to evaluate against (MOTA would be -inf); "
                                  f"leave this sequence out of the ground truth and the results")
        return {seq_dir.name: rows}, ({seq_dir.name: n} if n is not None else {})
    if (path / "gt" / "gt.txt").is_file():
        return load_mot_gt(path / "gt" / "gt.txt")
    if not path.is_dir():
        raise FileNotFoundError(f"ground truth not found: {path}")
    seq_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and any(
        (p / marker).exists() for marker in ("gt", "seqinfo.ini", "img1")))
    missing = [p for p in seq_dirs if not (p / "gt" / "gt.txt").is_file()]
    if missing:
        names = ", ".join(p.name for p in missing)
        raise FileNotFoundError(f"{missing[0] / 'gt' / 'gt.txt'}: missing; sequence folder {missing[0].name!r} has no "
                                f"ground truth (folders without gt/gt.txt: {names})")
    gt, lengths = {}, {}
    for seq_dir in seq_dirs:
        g, n = load_mot_gt(seq_dir / "gt" / "gt.txt")
        gt.update(g)
        lengths.update(n)
    if not gt:
        raise FileNotFoundError(f"{path}: no <seq>/gt/gt.txt found (MOTChallenge layout expected)")
    return gt, lengths


def load_mot_results(path: str | Path) -> dict[str, np.ndarray]:
    """Tracker results from a ``<seq>.txt`` file or a folder of them -> ``{seq: (N, 10) rows}``."""
    path = Path(path)
    if path.is_file():
        return {path.stem: read_mot_txt(path, "results")}
    if not path.is_dir():
        raise FileNotFoundError(f"tracker results not found: {path}")
    files = sorted(path.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"{path}: no <seq>.txt result files found")
    return {f.stem: read_mot_txt(f, "results") for f in files}


def write_mot_sequence(seq: MOTSequence, root: str | Path, ext: str = ".jpg", quality: int = 95) -> Path:
    """Write ``seq`` as ``root/<seq.name>/`` in MOTChallenge layout; returns that folder."""
    seq_dir = Path(root) / seq.name
    W, H = seq.size
    write_frames(seq.frames, seq_dir / "img1", 6, ext, quality)
    write_mot_txt(seq_dir / "gt" / "gt.txt", seq.gt)
    if seq.det is not None:
        write_mot_txt(seq_dir / "det" / "det.txt", seq.det)
    write_text_atomic(seq_dir / "seqinfo.ini", (
        f"[Sequence]\nname={seq.name}\nimDir=img1\nframeRate={format_number(seq.fps)}\n"
        f"seqLength={seq.num_frames}\nimWidth={W}\nimHeight={H}\nimExt={ext}\n"))
    if seq.degradation:
        write_degradation_csv(seq_dir / "degradation.csv", seq.degradation)
    if seq.meta:
        write_text_atomic(seq_dir / "kdtrack_meta.json", json.dumps(seq.meta, indent=1, sort_keys=True) + "\n")
    return seq_dir


def read_mot_sequence(seq_dir: str | Path, load_frames: bool = True) -> MOTSequence:
    """Read a MOTChallenge sequence folder (synthetic or real MOT17/MOT20).

    Args:
        load_frames: False gives a zero placeholder of the right shape (fast, for gt only).

    Raises:
        DataFormatError: missing ``seqinfo.ini``, missing frame files or index gaps,
            malformed ``gt.txt``/``det.txt`` (file:line), gt frames beyond ``seqLength``.
    """
    seq_dir = Path(seq_dir)
    info = read_seqinfo(seq_dir)
    paths = list_frames(seq_dir / info["imDir"], info["imExt"], expected=info["seqLength"])
    T = info["seqLength"]
    frames = read_frames(paths) if load_frames else placeholder_frames(T, info["imWidth"], info["imHeight"])
    length_source = str(seq_dir / "seqinfo.ini")
    gt_path = seq_dir / "gt" / "gt.txt"
    gt = read_mot_txt(gt_path, "gt", T, length_source) if gt_path.is_file() else np.zeros((0, 9))
    det_path = seq_dir / "det" / "det.txt"
    det = read_mot_txt(det_path, "det", T, length_source) if det_path.is_file() else None
    deg_path = seq_dir / "degradation.csv"
    degradation = read_degradation_csv(deg_path, T) if deg_path.is_file() else {}
    meta_path = seq_dir / "kdtrack_meta.json"
    meta = read_json_object(meta_path) if meta_path.is_file() else {"source": str(seq_dir)}
    return MOTSequence(info["name"], frames, gt, info["frameRate"], degradation, meta, det)


def write_degradation_csv(path: str | Path, levels: dict[str, np.ndarray]) -> Path:
    """Per-frame degradation levels: a header of op names, then one row per frame."""
    names = sorted(levels)
    rows = np.stack([np.asarray(levels[n], np.float64) for n in names], 1)
    text = "frame," + ",".join(names) + "\n" + "".join(
        f"{t + 1}," + ",".join(format_number(v) for v in r) + "\n" for t, r in enumerate(rows))
    return write_text_atomic(path, text)


def read_degradation_csv(path: str | Path, num_frames: int) -> dict[str, np.ndarray]:
    """Per-frame levels ``{op: (num_frames,)}`` from :func:`write_degradation_csv`'s file."""
    path = Path(path)
    names, lines = read_csv_header(path, "a header frame,<op>,... and one row of levels per frame")
    names = names[1:]
    rows = parse_numeric_lines_from(path, lines, len(names) + 1)
    if len(rows) != num_frames:
        raise DataFormatError(f"{path}: {len(rows)} rows, expected one per frame ({num_frames})")
    arr = np.array(rows).reshape(-1, len(names) + 1)
    return {n: arr[:, i + 1] for i, n in enumerate(names)}


def read_csv_header(path: Path, what: str) -> tuple[list[str], list[str]]:
    """``(header names, data lines)`` of a small comma-separated file with a header line.

    Raises:
        DataFormatError: the file is empty or not UTF-8 (naming the file, and the line).
    """
    lines = read_text(path, what).splitlines()
    if not lines or not lines[0].strip():
        raise DataFormatError(f"{path}:1: empty, expected {what}")
    return [n.strip() for n in lines[0].split(",")], lines[1:]


def parse_numeric_lines_from(path: Path, lines: list[str], columns: int, first_line: int = 2) -> list[list[float]]:
    """Comma-separated rows of ``columns`` finite numbers; errors name ``path:line``."""
    out = []
    for i, line in enumerate(lines):
        fields = line.split(",")
        if len(fields) != columns:
            raise DataFormatError(f"{path}:{i + first_line}: expected {columns} columns, got {len(fields)}")
        values = [finite_number(f) for f in fields]
        if None in values:
            raise DataFormatError(f"{path}:{i + first_line}: field {values.index(None) + 1} is "
                                  f"{fields[values.index(None)].strip()!r}, expected a finite number")
        out.append(values)
    return out
