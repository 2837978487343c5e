"""Pieces shared by the sub-commands: the data flags, and loading data with an honest name."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerwise.errors import ConfigError, DataError

__all__ = ["DATA_CHOICES", "LoadedData", "add_data_arguments", "load_data", "load_model_test_data", "fail",
           "warn"]

DATA_CHOICES = ("auto", "mnist", "fashion-mnist", "kmnist", "mnist-sample")

Split = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


def add_data_arguments(parser: argparse.ArgumentParser, default: str | None = "auto",
                       default_help: str | None = None) -> None:
    parser.add_argument("--data", default=None, choices=DATA_CHOICES,
                        help=f"data set (default: {default_help or default}; auto = full MNIST if "
                             "cached or downloadable, else the bundled mnist-sample; with "
                             "--data-dir, whatever that folder holds)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="an existing folder holding the IDX files (searched alone when given: "
                             "a missing folder or file is an error, never a fallback)")


def fail(message: str, code: int = 1) -> int:
    print(f"layerwise: error: {message}", file=sys.stderr)
    return code


def warn(message: str) -> None:
    print(f"layerwise: warning: {message}", file=sys.stderr)


@dataclass
class LoadedData:
    """Data loaded for a command, with what it is.

    ``name`` is the catalog name when the files were verified to be that data set (None for
    other MNIST-format files); ``setting`` is the ``--data`` value that loads them again;
    ``record`` (JSON-able) is stored in model files and checkpoints so that later commands can
    tell whether they see the same data.
    """

    name: str | None
    setting: str
    description: str
    train: Split | None
    test: Split
    record: dict[str, Any]

    def check_same_as(self, record: dict[str, Any], where: str) -> None:
        """Raise DataError if ``record`` (from a checkpoint) describes other data than this."""
        mine, theirs = self.record.get("fingerprints", {}), (record or {}).get("fingerprints", {})
        if not isinstance(theirs, dict):
            return
        for split in ("train", "test"):
            if split in mine and split in theirs and mine[split] != theirs[split]:
                raise DataError(
                    f"{where} was trained on {record.get('description', 'other data')}, but the "
                    f"{split} files now found are {self.description}: resume on the same data")

    def differs_from(self, record: dict[str, Any]) -> bool:
        """True if ``record`` (from a model file) names other test data than this."""
        theirs = (record or {}).get("fingerprints", {})
        mine = self.record.get("fingerprints", {})
        if isinstance(theirs, dict) and "test" in theirs and "test" in mine:
            return bool(theirs["test"] != mine["test"])
        name = (record or {}).get("name")
        return name is not None and name != self.name


def load_data(
    name: str, data_dir: str | None, *, flatten: bool = True, quiet: bool = False,
    splits: tuple[str, ...] = ("train", "test"),
) -> LoadedData:
    """Resolve ``auto``, load ``splits`` (``train`` and/or ``test``) and say what they are.

    Raises :class:`~layerwise.errors.DataError` when the files cannot be had, and
    :class:`~layerwise.errors.ConfigError` for a contradiction such as ``--data mnist-sample
    --data-dir X``.
    """
    from layerwise.datasets import identify, load_mnist, load_split, locate, resolve_auto

    if name == "mnist-sample" and data_dir is not None:
        raise ConfigError(f"--data-dir {data_dir} does not apply to --data mnist-sample, which is "
                          "bundled with layerwise; leave out one of them")
    note = ""
    if name == "auto":
        # With --data-dir: what that folder holds, never anything else; without: full MNIST
        # if it can be had, else the bundled sample, and the reason why.
        load_as, reason = resolve_auto(data_dir, try_download=True, progress=not quiet, splits=splits)
        if load_as == "mnist-sample" and data_dir is None:
            note = f", because {reason.split('; using the bundled')[0]}"
    else:
        load_as = name
        if locate(name, data_dir, splits=splits) is None:
            note = " (just downloaded)"
    if tuple(splits) == ("train", "test"):  # one call, so that a missing file is named with all
        train, test = load_mnist(load_as, normalize=True, flatten=flatten, one_hot_label=False,
                                 data_dir=data_dir, progress=not quiet)
        loaded = {"train": train, "test": test}
    else:
        loaded = {split: load_split(load_as, split, normalize=True, flatten=flatten,
                                    one_hot_label=False, data_dir=data_dir, progress=not quiet)
                  for split in splits}
    folder = locate(load_as, data_dir, splits=splits)
    assert folder is not None  # load_split just found or fetched them
    source = identify(folder, splits=splits)
    if name != "auto" and source.name not in (None, name):
        raise DataError(f"--data {name}: the files in {folder} are {source.describe()}; "
                        f"give --data {source.name}, or the folder of {name}")
    description = source.describe() + note
    record = dict(source.record(), description=description)
    # A name the user gave and the files do not contradict stands (MNIST's decompressed files
    # cannot be verified offline); `auto` names only what was verified.
    known = source.name if source.name is not None else (None if name == "auto" else name)
    return LoadedData(name=known, setting=known or "auto", description=description,
                      train=loaded.get("train"), test=loaded["test"], record=record)


def _recorded_source(metadata: dict[str, str]) -> dict[str, Any]:
    """The data record a model file carries (empty for files from older versions)."""
    import json

    try:
        record = json.loads(metadata.get("data_source", "{}"))
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def load_model_test_data(model: str, metadata: dict[str, str], data: str | None,
                         data_dir: str | None) -> LoadedData:
    """The test images for a saved model: ``--data``/``--data-dir`` when given, else what the
    model file says it was trained on (the data set, or the folder it came from). Images are
    ``(N, 1, 28, 28)``: conv nets need them so, and Affine flattens them itself. Warns when
    the data differ from those the model was trained on."""
    recorded = _recorded_source(metadata)
    if data is None and data_dir is None:
        name = metadata.get("data")
        folder = recorded.get("folder")
        if name in DATA_CHOICES:
            data = name
        elif isinstance(folder, str) and Path(folder).is_dir():
            data, data_dir = "auto", folder
        else:
            raise ConfigError(f"{model} does not say which data it was trained on "
                              f"(data: {name!r}); give --data or --data-dir")
    loaded = load_data(data or "auto", data_dir, flatten=False, quiet=True, splits=("test",))
    if recorded and loaded.differs_from(recorded):
        trained_on = recorded.get("description") or recorded.get("name") or "other data"
        warn(f"{model} was trained on {trained_on}; this is {loaded.description}, so what follows "
             "is not on the data it was trained for")
    return loaded
