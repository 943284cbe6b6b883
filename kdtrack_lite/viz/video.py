"""Export frame sequences to MP4 and GIF, and show them inline in a notebook.

Both writers are atomic (``kdtrack_lite.fileio``): frames go to a temporary file in the target
folder, which is renamed onto ``path`` only when the file is complete.

MP4 uses ``cv2.VideoWriter`` with the ``mp4v`` (MPEG-4 Part 2) codec: it is the one the
OpenCV 5 wheels here can encode (``avc1``/H.264 needs an encoder they do not ship), and the
written file is checked by decoding it back. Many browsers do not play ``mp4v`` inside a
``<video>`` tag, so for notebooks a GIF (:func:`write_gif`, Pillow) is the portable choice;
:func:`show_video` shows either.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ..fileio import atomic_path
from .draw import as_rgb_uint8

MP4_FOURCC = "mp4v"


def _frames(frames) -> list[np.ndarray]:
    out = [as_rgb_uint8(f) for f in frames]
    if not out:
        raise ValueError("no frames to write")
    shapes = {f.shape for f in out}
    if len(shapes) > 1:
        raise ValueError(f"all frames must have the same size, got {sorted(shapes)}")
    return out


def _check_fps(fps: float) -> None:
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")


def count_video_frames(path: str | os.PathLike) -> int:
    """Decode ``path`` with ``cv2.VideoCapture`` and count its frames (0 when it cannot be read)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened():
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def write_mp4(frames, path: str | os.PathLike, fps: float = 10.0) -> Path:
    """Write ``(H, W, 3)`` RGB frames to an MP4 file (``mp4v``), atomically; returns ``path``.

    Raises:
        ValueError: no frames, frames of different sizes, fps <= 0.
        RuntimeError: OpenCV cannot open the writer, or the written file does not decode back
            to the same number of frames.
    """
    frames = _frames(frames)
    _check_fps(fps)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    # VideoWriter picks the container from the extension, so the temp file must end in .mp4
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*MP4_FOURCC), float(fps), (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"cv2.VideoWriter could not open {path} with fourcc {MP4_FOURCC!r}")
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        n = count_video_frames(tmp)
        if n != len(frames):
            raise RuntimeError(f"{path}: wrote {len(frames)} frames but {n} decode back")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_gif(frames, path: str | os.PathLike, fps: float = 10.0, loop: int = 0) -> Path:
    """Write ``(H, W, 3)`` RGB frames to an animated GIF with Pillow, atomically; returns ``path``."""
    from PIL import Image

    frames = _frames(frames)
    _check_fps(fps)
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000 / fps)), loop=loop)
    return Path(path)


def show_video(path: str | os.PathLike, width: int | None = None):
    """An ``IPython.display.HTML`` object showing an MP4 (``<video>``) or GIF (``<img>``) inline.

    The file is embedded as base64, so the notebook shows it on GitHub/Colab without the file.
    """
    from IPython.display import HTML

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no video at {path}")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return HTML(f'<img src="data:image/gif;base64,{data}"{size}/>')
    if suffix == ".mp4":
        return HTML(f'<video controls loop autoplay muted{size}><source src="data:video/mp4;base64,{data}" '
                    f'type="video/mp4">(this browser cannot play mp4v; use write_gif)</video>')
    raise ValueError(f"show_video: {path} must be .mp4 or .gif")
