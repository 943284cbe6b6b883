"""Numbered frame files (``000001.jpg`` ...): written deterministically, read with gap checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

from ..fileio import atomic_path

JPEG_QUALITY = 95


class DataFormatError(ValueError):
    """A dataset file or folder does not have the layout or content its format requires."""


def encode_frame(frame_rgb: np.ndarray, ext: str = ".jpg", quality: int = JPEG_QUALITY) -> bytes:
    """Encode one ``(H, W, 3)`` uint8 RGB frame (baseline JPEG at a fixed quality: the same
    OpenCV build gives the same bytes every run, which the sample manifest relies on)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, 0] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(frame_rgb[..., ::-1]), params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a frame as {ext}")
    return buf.tobytes()


def write_frames(frames: np.ndarray, folder: str | Path, digits: int, ext: str = ".jpg",
                 quality: int = JPEG_QUALITY) -> list[Path]:
    """Write ``(T, H, W, 3)`` RGB frames as ``folder/{t:0{digits}d}{ext}``, t = 1..T, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, frame in enumerate(frames, start=1):
        path = folder / f"{t:0{digits}d}{ext}"
        with atomic_path(path) as tmp:
            tmp.write_bytes(encode_frame(frame, ext, quality))
        paths.append(path)
    return paths


def list_frames(folder: str | Path, ext: str | None = None, expected: int | None = None) -> list[Path]:
    """Numbered frame files in ``folder``, checked to run 1..N without gaps.

    Raises:
        DataFormatError: no frames, a gap in the numbering, or fewer/more than ``expected``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFormatError(f"{folder}: frame folder not found")
    pat = re.compile(r"^(\d+)" + (re.escape(ext) if ext else r"\.(jpg|jpeg|png)") + "$", re.IGNORECASE)
    numbered = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := pat.match(p.name)))
    if not numbered:
        raise DataFormatError(f"{folder}: no numbered frame files ({ext or '.jpg/.png'}) found")
    numbers = [n for n, _ in numbered]
    want = expected if expected is not None else numbers[-1]
    missing = sorted(set(range(1, want + 1)) - set(numbers))
    if missing:
        digits = len(numbered[0][1].stem)
        shown = ", ".join(f"{n:0{digits}d}" for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DataFormatError(f"{folder}: frame index gap, missing frame file(s) {shown} "
                              f"(expected frames 1..{want} without gaps)")
    if numbers[0] != 1 or len(set(numbers)) != len(numbers):
        raise DataFormatError(f"{folder}: frame numbers must start at 1 and be unique, got {numbers[:5]} ...")
    if expected is not None and numbers[-1] > expected:
        raise DataFormatError(f"{folder}: {numbers[-1]} frames found but {expected} expected")
    return [p for _, p in numbered]


def read_frames(paths: list[Path]) -> np.ndarray:
    """Load frame files as ``(T, H, W, 3)`` uint8 RGB (all frames must have one size)."""
    frames = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise DataFormatError(f"{p}: not a readable image")
        if frames and img.shape != frames[0].shape:
            raise DataFormatError(f"{p}: size {img.shape[1]}x{img.shape[0]} differs from the first frame "
                                  f"{frames[0].shape[1]}x{frames[0].shape[0]}")
        frames.append(img[..., ::-1])
    return np.ascontiguousarray(np.stack(frames))


def placeholder_frames(num: int, width: int, height: int) -> np.ndarray:
    """A read-only ``(num, height, width, 3)`` zero array that takes no memory (``load_frames=False``)."""
    return np.broadcast_to(np.zeros((1, 1, 1, 3), np.uint8), (num, height, width, 3))


def read_text(path: str | Path, what: str) -> str:
    """The text of a UTF-8 file (dataset text files are UTF-8 whatever the machine's locale).

    Raises:
        DataFormatError: the file is missing, or naming ``path:line`` where it is not UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found (expected {what})")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise DataFormatError(f"{path}:{line}: byte {data[err.start]:#04x} is not valid UTF-8 "
                              f"(expected a UTF-8 text file: {what})") from None


def read_json_object(path: str | Path) -> dict:
    """A JSON file holding one object (``kdtrack_meta.json``).

    Raises:
        DataFormatError: naming ``path:line`` for invalid JSON or UTF-8, or the file when the
            JSON is not an object.
    """
    text = read_text(path, "a JSON object")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(value, dict):
        raise DataFormatError(f"{path}: expected a JSON object {{...}}, got a {type(value).__name__}")
    return value


def parse_numeric_lines(path: str | Path, allowed_columns: tuple[int, ...], what: str,
                        sep: str = ",") -> list[tuple[int, list[float]]]:
    """Parse a text table of numbers; returns ``[(line_number, values), ...]`` (blank lines skipped).

    Raises:
        DataFormatError: naming ``path:line``, when a row has a column count not in
            ``allowed_columns``, a field that is not a finite number (``nan``/``inf`` included),
            or a byte that is not UTF-8.
    """
    path = Path(path)
    out = []
    for lineno, line in enumerate(read_text(path, what).splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        fields = [f.strip() for f in (line.split(sep) if sep in line else line.split())]  # or whitespace
        if len(fields) not in allowed_columns:
            cols = " or ".join(str(c) for c in allowed_columns)
            raise DataFormatError(f"{path}:{lineno}: expected {cols} comma-separated columns ({what}), "
                                  f"got {len(fields)}: {line[:80]!r}")
        values = [finite_number(f) for f in fields]
        if None in values:
            bad = values.index(None)
            raise DataFormatError(f"{path}:{lineno}: column {bad + 1} is {fields[bad]!r}, expected a number "
                                  f"(finite: no nan or inf; {what})")
        out.append((lineno, values))
    return out


def finite_number(text: str) -> float | None:
    """``float(text)`` when it is a finite number, else None (``nan``/``inf`` are never valid data)."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if np.isfinite(v) else None


def format_number(v: float) -> str:
    """Shortest text that reads back as the same float64 (integers without a decimal point)."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))
