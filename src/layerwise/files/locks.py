"""One run per file: an operating-system lock on ``FILE.lock``, beside the file it guards.

``layerwise train --checkpoint run.ckpt`` holds ``run.ckpt.lock`` from before it checks the
checkpoint until it exits, so a second run started at the same instant on the same checkpoint
stops before it trains, naming the first one's process id. The lock is the kernel's
(``flock`` on POSIX, ``msvcrt.locking`` on Windows): a run that dies, even by SIGKILL, lets go
of it; a run that ends normally removes the lock file too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from layerwise.errors import ConfigError

__all__ = ["FileLock", "LOCK_SUFFIX"]

#: Suffix of a lock file: ``run.ckpt`` is guarded by ``run.ckpt.lock``.
LOCK_SUFFIX = ".lock"


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False if another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FileLock:
    """An exclusive lock on ``path + ".lock"``, taken at once or not at all.

    ``FileLock(path, what).acquire()`` raises :class:`~layerwise.errors.ConfigError` naming
    ``what`` (a flag such as ``--checkpoint``), the file, the lock file and the process id of
    the run that holds it. Use it as a context manager, or call :meth:`release`.
    """

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        self.target = Path(path)
        self.path = self.target.with_name(self.target.name + LOCK_SUFFIX)
        self.what = what
        self._fd: int | None = None

    def __repr__(self) -> str:
        state = "held" if self._fd is not None else "not held"
        return f"FileLock({str(self.path)!r}, {state})"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> FileLock:
        if self._fd is not None:
            return self
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise ConfigError(f"{self.what} {self.target}: cannot create its lock file "
                                  f"{self.path}: {exc.strerror or exc}") from None
            if not _try_lock(fd):
                os.close(fd)
                raise ConfigError(
                    f"{self.what} {self.target} is in use by another run (pid {self._holder()}, "
                    f"which holds {self.path}); one run per checkpoint at a time: wait for it "
                    "to end, or give another path")
            # The holder we waited on may have removed the file as we opened it: then our lock
            # is on a name-less file, and a third run could lock a new one. Lock the file
            # that bears the name, or try again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def _holder(self) -> str:
        """The pid written in the lock file; the holder writes it just after locking."""
        for _ in range(50):
            with contextlib.suppress(OSError, ValueError):
                text = self.path.read_text(encoding="ascii").strip()
                if text:
                    return str(int(text))
            time.sleep(0.01)
        return "unknown"

    def release(self) -> None:
        """Remove the lock file, then let go of the lock (the order matters: see acquire)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(fd)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
