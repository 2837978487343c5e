"""Atomic file writing: write to a temporary file in the target folder, then rename.

An interrupted run never leaves a half-written file under the final name, and a file saved
earlier stays intact until the new one is complete. Every file layerwise writes (models,
checkpoints, downloads, histories, figures) goes through here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_path", "atomic_write_bytes", "atomic_write_text", "TEMP_SUFFIX"]

#: Suffix of the temporary files; a leftover one is never mistaken for a data file.
TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty temporary path beside ``dest``; on success rename it onto ``dest``.

    For writers that take a file name (safetensors, matplotlib). On any exception, a
    ``KeyboardInterrupt`` included, the temporary file is removed and ``dest`` is untouched.
    """
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    # Not tempfile.mkstemp: its 0600 mode would stick to the final file. os.open with 0o666
    # lets the umask decide, as for any ordinary new file; O_EXCL still refuses to clobber.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    try:
        yield tmp
        _fsync_file(tmp)  # the data is on disk before the name points at it
        os.replace(tmp, target)
        _fsync_dir(target.parent)  # and the rename itself survives a crash
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms (Windows) cannot open a folder; the rename still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(dest: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``dest`` for binary writing; move it into place on success.

    Leaving the ``with`` block normally flushes, fsyncs and ``os.replace``-s the file onto
    ``dest`` (its folder is created if missing); leaving it by an exception deletes it.
    """
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        yield f
        f.flush()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
