"""The ``layerwise`` command line: ``train``, ``evaluate``, ``check``, ``exercises``, ``graph``,
``trace``, ``export``, ``playground``.

Exit codes, the same for every sub-command:

- 0: done;
- 1: the work could not be done: a data or model file is missing or corrupt, a write failed
  while working (disk full), training diverged;
- 2: a usage error: an unknown flag, a value out of range, flags that conflict, an output path
  that cannot be written (nothing was done);
- 130: interrupted by Ctrl-C (SIGINT), 143: terminated by SIGTERM; files already saved stay
  intact, and ``train`` says what its checkpoint holds and how to resume.

Every expected failure is one line on stderr, ``layerwise: error: ...``, naming the file or flag,
the expected and the actual value; a traceback means a bug in layerwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, NoReturn, TextIO

from layerwise.version import __version__

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED",
           "EXIT_TERMINATED", "Terminated"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM

# Each module provides add_parser(subparsers); the order is the order in `layerwise --help`.
_COMMAND_MODULES: tuple[str, ...] = (
    "train", "evaluate", "check", "exercises", "graph", "trace", "export", "playground",
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and atomic write cleans up."""


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors show a value's control characters escaped (a
    path holding an escape sequence must not recolour the user's terminal)."""

    def error(self, message: str) -> NoReturn:
        from layerwise.errors import printable

        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="layerwise",
        description="Build, check and train neural networks made of explicit forward/backward layers.",
        epilog="Exit codes: 0 done, 1 the work failed (data, files, divergence), 2 usage error, "
               "130 interrupted (Ctrl-C), 143 terminated.",
    )
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"layerwise.cli.commands.{name}").add_parser(subparsers)
    return parser


class _PipeSafe:
    """A text stream that stops writing, silently, once its reader has gone away.

    ``layerwise train | head -1`` closes the pipe after one line; the run itself (its model
    file, checkpoints, history) must not be lost for that, so later output goes nowhere.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def _drop(self) -> None:
        self.closed_by_reader = True
        try:  # the interpreter flushes stdout at exit: point the descriptor at /dev/null
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        if self.closed_by_reader:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        if self.closed_by_reader:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; returns its exit code (see the module docstring)."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _PipeSafe(stdout), _PipeSafe(stderr)
    previous = None
    try:
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread: leave signals alone
            previous = None
        return _run(argv)
    except Terminated:
        print("layerwise: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("layerwise: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = stdout, stderr


def _build_parser_deferring_ctrl_c() -> argparse.ArgumentParser:
    """``build_parser()``, which imports NumPy; a Ctrl-C meanwhile is held until it is done.

    A SIGINT that lands inside a C extension's initialisation does not always surface as
    KeyboardInterrupt: NumPy turns it into an ImportError ("could not import module
    datetime"). So the signal is only noted during the imports, and answered right after.
    """
    noted: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    except ValueError:  # not the main thread: signals are not ours to handle
        return build_parser()
    try:
        parser = build_parser()
    finally:
        signal.signal(signal.SIGINT, previous)
    if noted:
        raise KeyboardInterrupt()
    return parser


def _one_line_note(show: Callable[..., None], category: type[Warning]) -> Callable[..., None]:
    """``warnings.showwarning`` that prints warnings of ``category`` as ``layerwise: warning: ...``."""
    def showwarning(message: Warning | str, cat: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(cat, category):
            from layerwise.errors import printable

            print(f"layerwise: warning: {printable(str(message))}", file=sys.stderr)
        else:
            show(message, cat, *args, **kwargs)
    return showwarning


def _run(argv: Sequence[str] | None) -> int:
    from layerwise.errors import ConfigError, LayerwiseError, printable

    parser = _build_parser_deferring_ctrl_c()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or argparse's usage error (code 2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            # A model file or checkpoint loaded unverified (no digest) is one line, once.
            from layerwise.files.model_files import UnverifiedFileWarning

            warnings.simplefilter("once", UnverifiedFileWarning)
            warnings.showwarning = _one_line_note(warnings.showwarning, UnverifiedFileWarning)
            return int(func(args))
    except ConfigError as exc:
        print(f"layerwise: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except LayerwiseError as exc:
        print(f"layerwise: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
