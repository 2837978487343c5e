"""The ``layerwise`` command line: ``layerwise train``, ``layerwise evaluate``, ``layerwise graph``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from layerwise import __version__

__all__ = ["main", "build_parser"]

# Each module provides add_parser(subparsers); the order is the order in `layerwise --help`.
_COMMAND_MODULES: tuple[str, ...] = ("train", "evaluate", "graph")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description="Build, check and train neural networks made of explicit forward/backward layers.",
    )
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"layerwise.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
