"""Atomic file writing: write to a temporary file in the target folder, then rename.

An interrupted run never leaves a half-written file under the final name, and a file saved
earlier stays intact until the new one is complete. Every file layerwise writes (models,
checkpoints, downloads, histories, figures) goes through here.

The rules, the same for every writer:

- the target's folder must exist: a missing folder is far more often a typo than a wish, so
  it is an :class:`~layerwise.errors.OutputError`, as ``cp`` says "No such file or directory"
  (layerwise's own cache folder is the one exception, made by the downloader);
- the new file gets the mode an ordinary new file gets under the user's umask (0644 under
  umask 022), whatever the writer did to the temporary file;
- a temporary file left by a write that was killed (SIGKILL, power loss) is removed by the
  next write to the same target, or by :func:`remove_stale_parts`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from layerwise.errors import OutputError

__all__ = [
    "atomic_write",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_all",
    "check_writable",
    "probe_writable",
    "remove_stale_parts",
    "TEMP_SUFFIX",
]

#: Suffix of the temporary files; a leftover one is never mistaken for a data file.
TEMP_SUFFIX = ".part"


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def _is_temp_of(name: str, target: Path) -> bool:
    pattern = rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}{re.escape(TEMP_SUFFIX)}"
    return re.fullmatch(pattern, name) is not None


def check_writable(dest: str | os.PathLike[str], what: str | None = None) -> Path:
    """Check that a file can be written at ``dest``, without writing anything.

    Raises :class:`~layerwise.errors.OutputError` naming ``what`` (a flag such as ``--save``,
    or the path itself) when ``dest`` is a folder, its parent folder is missing or is a file,
    or the folder is not writable. Returns ``dest`` as a :class:`~pathlib.Path`.
    """
    target = Path(dest)
    label = f"{what} {target}" if what else str(target)
    if "\x00" in str(target):
        raise OutputError(f"{label!r}: not a usable file name (it holds a NUL byte)")
    if target.name in ("", ".", ".."):
        raise OutputError(f"{label}: expected a file name, got a folder")
    if target.is_dir():
        raise OutputError(f"{label}: is a folder, expected a file name to write")
    if target.exists() and not target.is_file():
        raise OutputError(f"{label}: exists and is not a regular file")
    parent = target.parent
    if not parent.exists():
        # Name the first missing folder on the way, as a typo is usually there.
        missing = parent
        while not missing.parent.exists():
            missing = missing.parent
        raise OutputError(f"{label}: folder {missing} does not exist (create it first)")
    if not parent.is_dir():
        raise OutputError(f"{label}: {parent} is a file, expected a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: folder {parent} is not writable")
    return target


def remove_stale_parts(dest: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files that killed writes of ``dest`` left beside it; return them."""
    target = Path(dest)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        if _is_temp_of(entry.name, target) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def probe_writable(dest: str | os.PathLike[str], what: str | None = None) -> Path:
    """:func:`check_writable`, then really create and remove a temporary file beside ``dest``.

    Permission bits do not tell everything (``/proc``, a full or read-only file system, root
    who may "write" anywhere): a run checks its outputs this way before it starts, so that a
    file it cannot write is found in a second, not after hours of training.
    """
    target = _through_links(check_writable(dest, what))
    tmp = _temp_name(target)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    except OSError as exc:
        label = f"{what} {dest}" if what else str(dest)
        raise OutputError(f"{label}: cannot create a file in {target.parent}: "
                          f"{exc.strerror or exc}") from None
    # Another run's remove_stale_parts may take it first (two runs started on one target).
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    return target


def _through_links(target: Path) -> Path:
    """Where writing ``target`` lands: a symbolic link is written through, as ``cp`` does, so
    the file it points at gets the new contents and the link stays a link."""
    if target.is_symlink():
        real = Path(os.path.realpath(target))
        check_writable(real, f"{target} (a link to)")
        return real
    return target


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty temporary path beside ``dest``; on success rename it onto ``dest``.

    For writers that take a file name (safetensors, matplotlib). On any exception, a
    ``KeyboardInterrupt`` included, the temporary file is removed and ``dest`` is untouched.
    Raises :class:`~layerwise.errors.OutputError` before creating anything if ``dest``
    cannot be written (see :func:`check_writable`), and also when writing fails on the way
    (a full disk): the message names the file and the system's reason.
    """
    target = _through_links(check_writable(dest))
    tmp = _temp_name(target)
    try:
        # Created inside the try: a signal (KeyboardInterrupt) the instant after the file
        # appears still removes it, as one during the writing does.
        mode = _create(tmp, dest)
        yield tmp
        # A writer may have replaced the file with one of its own making (safetensors writes
        # 0600 files): give it back the mode the umask chose.
        if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
            os.chmod(tmp, mode)
        _fsync_file(tmp)  # the data is on disk before the name points at it
        os.replace(tmp, target)
        _fsync_dir(target.parent)  # and the rename itself survives a crash
    except OutputError:
        _discard(tmp)
        raise
    except OSError as exc:  # ENOSPC, EIO...: the earlier file, if any, is intact
        _discard(tmp)
        raise OutputError(f"{dest}: could not be written ({exc.strerror or exc}); "
                          "any earlier version of it is intact") from exc
    except BaseException:
        _discard(tmp)
        raise
    remove_stale_parts(target)


def _create(tmp: Path, dest: str | os.PathLike[str]) -> int:
    """Create the empty temporary file ``tmp``; return the mode the umask gave it.

    Not tempfile.mkstemp: its 0600 mode would stick to the final file. os.open with 0o666
    lets the umask decide, as for any ordinary new file; O_EXCL still refuses to clobber.
    """
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666))
    except OSError as exc:
        raise OutputError(f"{dest}: cannot create a file in {Path(tmp).parent}: "
                          f"{exc.strerror or exc}") from None
    return stat.S_IMODE(os.stat(tmp).st_mode)


def atomic_write_all(files: Iterable[tuple[str | os.PathLike[str], bytes]]) -> list[Path]:
    """Write several new files as one: every one of them appears, or none does.

    Each ``(path, data)`` is written to a temporary file beside ``path`` and synced; only when
    all are on disk are they renamed into place. On any failure (a full disk, a signal) the
    temporary files are removed, and so are the files already renamed, which is why this is
    for files that do not exist yet (frames of a figure). Returns the paths written; raises
    :class:`~layerwise.errors.OutputError` naming the file that failed.
    """
    staged: list[tuple[Path, Path]] = []  # (temporary file, target)
    placed: list[Path] = []
    current: str | os.PathLike[str] = ""
    try:
        for dest, data in files:
            current = dest
            target = _through_links(check_writable(dest))
            tmp = _temp_name(target)
            staged.append((tmp, target))
            mode = _create(tmp, dest)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
                os.chmod(tmp, mode)
        for tmp, target in staged:
            current = target
            os.replace(tmp, target)
            placed.append(target)
        for folder in {target.parent for _, target in staged}:
            _fsync_dir(folder)
    except BaseException as exc:
        for tmp, _ in staged:
            _discard(tmp)
        for target in placed:
            _discard(target)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"{current}: could not be written ({exc.strerror or exc}); none of the "
                              f"{len(staged)} file(s) of this write was kept") from exc
        raise
    return placed


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


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
    ``dest`` (whose folder must exist); leaving it by an exception deletes it.
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
