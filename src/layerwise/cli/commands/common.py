"""Pieces shared by the sub-commands: the data flags, and loading data with an honest name."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerwise.errors import ConfigError, DataError, printable

__all__ = ["DATA_CHOICES", "LoadedData", "add_data_arguments", "load_data", "load_model_test_data", "fail",
           "warn", "parse_int", "OUTPUT_KINDS", "PLOT_SOFTWARE", "check_not_link", "check_replaceable",
           "written_by_layerwise"]

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


#: What each kind of output file is, as the error says it.
OUTPUT_KINDS = {"model": "a layerwise model file", "history": "a layerwise training history",
                "plot": "a layerwise plot"}
#: The PNG ``Software`` text a layerwise plot carries, by which a later run knows it.
PLOT_SOFTWARE = "layerwise"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_not_link(path: str | Path, flag: str) -> None:
    """:class:`ConfigError` if ``path`` is a symbolic link: an output is never written through
    one, which would replace the file it points at, somewhere else."""
    p = Path(path)
    if p.is_symlink():
        try:
            to = os.readlink(p)
        except OSError:
            to = "?"
        raise ConfigError(f"{flag} {p} is a symbolic link (to {to}): an output is never written "
                          "through a link; give the path of a file itself")


def written_by_layerwise(path: str | Path, kind: str) -> bool:
    """True if the file at ``path`` is one layerwise writes as ``kind`` (see OUTPUT_KINDS):
    a model file (safetensors whose header says ``layerwise-model``), a history (the exact
    CSV header line, or a JSON list of epoch records) or a plot (a PNG marked PLOT_SOFTWARE).
    Only the file's beginning is read; any doubt is False."""
    from layerwise.training.history import EpochRecord

    fields = list(EpochRecord.__dataclass_fields__)
    required = [name for name, f in EpochRecord.__dataclass_fields__.items()
                if f.default is dataclasses.MISSING]
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
            if kind == "model":
                size = int.from_bytes(head[:8], "little")
                if not 2 <= size <= 100_000_000:
                    return False
                f.seek(8)
                header = json.loads(f.read(size))
                meta = header.get("__metadata__") if isinstance(header, dict) else None
                from layerwise.files.model_files import MODEL_FORMAT

                return isinstance(meta, dict) and meta.get("format") == MODEL_FORMAT
            if kind == "plot":
                return head.startswith(_PNG_SIGNATURE) and (
                    b"tEXtSoftware\x00" + PLOT_SOFTWARE.encode()) in head
            if kind == "history" and Path(path).suffix.lower() == ".csv":  # today's columns, or
                columns = head.split(b"\n", 1)[0].rstrip(b"\r").decode().split(",")  # an older run's
                return len(columns) >= len(required) and columns == fields[:len(columns)]
            if kind == "history":
                if os.fstat(f.fileno()).st_size > 100_000_000:
                    return False
                f.seek(0)
                rows = json.loads(f.read())
                return isinstance(rows, list) and all(
                    isinstance(r, dict) and set(required) <= set(r) <= set(fields) for r in rows)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return False


def check_replaceable(path: str | Path, flag: str, kind: str) -> None:
    """:class:`ConfigError` unless writing ``path`` as ``kind`` replaces nothing the user made:
    it is not a link, and it is new or a file layerwise wrote as the same kind."""
    check_not_link(path, flag)
    p = Path(path)
    if p.is_file() and not written_by_layerwise(p, kind):
        raise ConfigError(f"{flag} {p} exists and is not {OUTPUT_KINDS[kind]}: only a file layerwise "
                          f"wrote as {OUTPUT_KINDS[kind]} is written over; give another path, or "
                          "remove the file")


def fail(message: object, code: int = 1) -> int:
    """Print the one-line error (control characters shown escaped) and return ``code``."""
    print(f"layerwise: error: {printable(str(message))}", file=sys.stderr)
    return code


def parse_int(flag: str, text: str | None, what: str = "an integer") -> int | None:
    """The value of ``flag`` as an int (None when not given); :class:`ConfigError` naming the
    flag otherwise, so that a bad value is one line like every other error."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected {what}, got {text!r}") from None


def warn(message: str) -> None:
    print(f"layerwise: warning: {printable(message)}", file=sys.stderr)


@dataclass
class LoadedData:
    """Data loaded for a command, with what it is.

    ``name`` is the catalog name when the files were verified to be that data set (None for
    other MNIST-format files); ``setting`` is the ``--data`` value that loads them again;
    ``record`` (JSON-able) is stored in model files and checkpoints so that later commands can
    tell whether they see the same data; ``fallback`` says why ``auto`` took the bundled sample.
    """

    name: str | None
    setting: str
    description: str
    train: Split | None
    test: Split
    record: dict[str, Any]
    #: Why ``auto`` fell back to the bundled sample (full MNIST could not be had), else None.
    fallback: str | None = None

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
    fallback = None
    if name == "auto":
        # With --data-dir: what that folder holds, never anything else; without: full MNIST
        # if it can be had, else the bundled sample, and the reason why.
        load_as, reason = resolve_auto(data_dir, try_download=True, progress=not quiet, splits=splits)
        if load_as == "mnist-sample" and data_dir is None:
            fallback = reason.split("; using the bundled")[0]
            note = f", because {fallback}"
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
                      train=loaded.get("train"), test=loaded["test"], record=record, fallback=fallback)


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
