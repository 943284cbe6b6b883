"""Atomic writes: results are either fully written or not there at all.

Also the one error class for mistakes in what a user gave: :class:`UserInputError`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class UserInputError(ValueError):
    """A mistake in what the user gave: an argument, a file or a folder.

    The message names the argument or file and what was expected; ``kdtrack`` prints it as one
    line without a traceback (:func:`kdtrack_lite.cli.main`). Lives here, at the bottom of the
    layers, so that any module can raise it without importing more than this file.
    """


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The rename is atomic on POSIX and Windows, so a reader never sees a half-written file and an
    interrupted write leaves the old file (if any) untouched. A process killed mid-write leaves
    its ``.<name>.*.tmp`` behind; :func:`remove_stale_temps` clears those.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give results the usual mode
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed writes of ``path`` (or of ``<path>.resume``) left.

    Call it once the run that owns ``path`` has finished: any ``.<name>.*.tmp`` beside ``path``
    is then a leftover, not a write in progress. Returns the files removed.
    """
    path = Path(path)
    stale = [Path(p) for p in glob.glob(str(path.parent / f".{glob.escape(path.name)}.*.tmp"))]
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def _nearest_existing(path: Path) -> Path:
    return next(p for p in (path, *path.parents) if p.exists())


def check_writable_file(path: str | os.PathLike, arg: str = "--out") -> Path:
    """Fail now, not after hours of training: make sure a file can be written at ``path``.

    Creates the missing parent folders and a (deleted) temporary file beside ``path``, as
    :func:`atomic_path` will. An existing file at ``path`` is fine (it is replaced atomically).

    Raises:
        UserInputError: naming ``arg``, the path and why it cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{arg} {path} is a folder; give the path of a file to write")
    _check_folder(path.parent, f"{arg} {path}")
    return path


def check_writable_folder(path: str | os.PathLike, arg: str = "--out") -> Path:
    """Make sure ``path`` is (or can be made) a folder that files can be written into.

    Raises:
        UserInputError: ``path`` is an existing file, or the folder cannot be created or written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{arg} {path} is an existing file; give a folder (results go to {arg}/<seq>.txt)")
    _check_folder(path, f"{arg} {path}")
    return path


def _check_folder(folder: Path, what: str) -> None:
    existing = _nearest_existing(folder.absolute())
    if not existing.is_dir():
        raise UserInputError(f"{what}: cannot write there, {existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kdtrack-write-check.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise UserInputError(f"{what}: cannot write into {folder} ({err.strerror or err})") from err
