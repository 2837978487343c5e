"""Write a file so that readers see either the old file, the whole new file, or nothing.

The data goes to a temporary file in the destination folder (same file system, so the final
``os.replace`` is atomic) and only replaces the destination once it is complete and flushed. On any
error, or an interrupt, the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "TEMP_SUFFIX"]

#: Suffix of the temporary files; a leftover one is never mistaken for a data file.
TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_write(dest: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``dest`` for binary writing; move it into place on success.

    Parameters
    ----------
    dest : path-like
        Final path. Its folder is created if missing.

    Yields
    ------
    BinaryIO
        The open temporary file. Leaving the ``with`` block normally flushes, fsyncs and
        ``os.replace``-s it onto ``dest``; leaving it by an exception deletes it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    # Not tempfile.mkstemp: its 0600 mode would stick to the final file. os.open with 0o666
    # lets the umask decide, as for any ordinary new file; O_EXCL still refuses to clobber.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        # BaseException: a KeyboardInterrupt mid-download must not leave a partial file either.
        tmp.unlink(missing_ok=True)
        raise
