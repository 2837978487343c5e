"""Pieces shared by the sub-commands: loading a data set with a clear message."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["DATA_CHOICES", "add_data_arguments", "load_data", "fail"]

DATA_CHOICES = ("auto", "mnist", "fashion-mnist", "kmnist", "mnist-sample")


def add_data_arguments(parser: argparse.ArgumentParser, default: str | None = "auto",
                       default_help: str | None = None) -> None:
    parser.add_argument("--data", default=default, choices=DATA_CHOICES,
                        help=f"data set (default: {default_help or default}; auto = full MNIST if "
                             "cached or downloadable, else the bundled mnist-sample)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder holding the four IDX files (searched alone when given)")


def fail(message: str, code: int = 1) -> int:
    print(f"layerwise: error: {message}", file=sys.stderr)
    return code


def load_data(
    name: str, data_dir: str | None, *, flatten: bool = True, quiet: bool = False
) -> tuple[str, str, Any]:
    """Resolve ``auto`` and load; returns ``(name, reason, ((x_train, t_train), (x_test, t_test)))``.

    Raises :class:`~layerwise.errors.DataError` with the loader's explanation when the files
    cannot be had.
    """
    from layerwise.datasets import load_mnist, locate, resolve_auto

    if name == "auto":
        name, reason = resolve_auto(data_dir, try_download=True, progress=not quiet)
    else:
        folder = locate(name, data_dir)
        reason = f"found in {folder}" if folder is not None else "downloading it"
    data = load_mnist(name, normalize=True, flatten=flatten, one_hot_label=False,
                      data_dir=data_dir, progress=not quiet)
    return name, reason, data

