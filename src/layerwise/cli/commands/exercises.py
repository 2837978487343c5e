"""``layerwise exercises init DIR``: chapter 5's starter files, one per stage, to fill in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from layerwise.errors import ConfigError
from layerwise.workbench.catalogue import LANGUAGES, language

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "exercises", help="write chapter 5's starter files (class stubs to fill in and check)",
        description="Write chapter 5's exercises: one file of class stubs per stage (5.4 Mul/Add, "
                    "5.5 Relu/Sigmoid, 5.6 Affine/SoftmaxWithLoss, 5.7 the network), each saying what "
                    "to implement and the command that checks it.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = sub.add_parser("init", help="write the starter files into DIR",
                          description="Write the starter files into DIR (created if missing; its parent "
                                      "must exist). An existing file is never replaced.")
    init.add_argument("dir", metavar="DIR", help="the folder for the exercises")
    init.add_argument("--lang", choices=LANGUAGES, default=None,
                      help="language of the files' text (default: $LAYERWISE_LANG, else en)")
    init.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from layerwise.files.fileio import atomic_write_all
    from layerwise.workbench.exercises import starter_files

    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: expected a folder for the exercises, found a file")
    if not folder.exists():
        if not folder.parent.is_dir():
            raise ConfigError(f"{folder}: its parent folder {folder.parent} does not exist")
        folder.mkdir()
    files = starter_files(language(args.lang))
    taken = [name for name in files if (folder / name).exists() or (folder / name).is_symlink()]
    if taken:
        raise ConfigError(f"{folder}: already holds {', '.join(taken)}; never replaced "
                          "(choose another folder)")
    written = atomic_write_all((folder / name, text.encode()) for name, text in files.items())
    for path in written:
        print(path)
    first = folder / next(iter(files))
    print(f"next: open {first} and check it with: layerwise check {first}", file=sys.stderr)
    return 0
