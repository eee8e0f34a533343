"""Atomic file writes: a temp file in the target's folder, then a rename. Imports nothing of ours.

A reader never sees a half-written file (the rename is atomic on one file system), an error leaves
no temp file behind, and the new file gets the mode ``open()`` would give it (0o666 minus the
umask; ``tempfile.mkstemp`` alone would leave 0600). Temp files are named ``.NAME.XXXX.tmp``;
those of a killed process are removed by :func:`remove_orphans`.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Callable

__all__ = ["TMP_SUFFIX", "file_mode", "write_atomic", "write_text_atomic", "remove_orphans"]

TMP_SUFFIX = ".tmp"


def file_mode() -> int:
    """0o666 minus the process umask: the mode ``open()`` would give a new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it to ``path``.

    The folder must exist. On any error the temp file is removed and the error re-raised.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def remove_orphans(folder: str | Path, age_s: float) -> int:
    """Remove temp files (``.NAME.XXXX.tmp``) in ``folder`` older than ``age_s`` seconds: those a
    killed process left. Younger ones may belong to a save in progress and are kept. Returns how
    many were removed."""
    now, removed = time.time(), 0
    for p in Path(folder).glob(f".*{TMP_SUFFIX}"):
        try:
            if now - p.stat().st_mtime > age_s:
                p.unlink()
                removed += 1
        except OSError:
            pass  # another process's, or already gone
    return removed
