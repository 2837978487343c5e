"""Where a dataset's IDX files are in a folder, and what is wrong with a folder that lacks them.

A folder holds a split's two files under their canonical names, gzip-compressed
(``t10k-images-idx3-ubyte.gz``) or not (``t10k-images-idx3-ubyte``). The checks here turn every
way a folder or an entry in it can be unusable (missing, a file where a folder should be, a
folder where a file should be, a pipe, a broken link, no permission) into a
:class:`~layerwise.errors.DataError` naming the path and what is wrong, before anything is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from layerwise.datasets.catalog import FILE_NAMES, SPLITS
from layerwise.datasets.idx import idx_file_problem
from layerwise.errors import ConfigError, DataError

__all__ = ["check_folder", "find_files", "split_keys", "normalize_splits", "candidates"]


def normalize_splits(splits: str | Sequence[str]) -> tuple[str, ...]:
    """``splits`` as a tuple of split names, checked; a single name is accepted as one split.

    Raises
    ------
    ConfigError
        A name other than 'train' or 'test', or no split at all.
    """
    names = (splits,) if isinstance(splits, str) else tuple(splits)
    if not names:
        raise ConfigError("splits: expected at least one of 'train', 'test'; got none")
    for name in names:
        if name not in SPLITS:
            raise ConfigError(f"split: expected 'train' or 'test', got {name!r}")
    return tuple(dict.fromkeys(names))  # in the order given, without repeats


def split_keys(splits: str | Sequence[str]) -> list[str]:
    """The file keys (``test_images``, ``test_labels``, ...) of ``splits``, in order."""
    return [key for split in normalize_splits(splits) for key in SPLITS[split]]


def candidates(folder: Path, key: str) -> tuple[Path, Path]:
    """The two paths file ``key`` may have in ``folder``: gzip-compressed first, then raw."""
    name = FILE_NAMES[key]
    return folder / name, folder / name.removesuffix(".gz")


def check_folder(folder: Path) -> None:
    """Raise DataError unless ``folder`` is an existing, readable folder.

    Raises
    ------
    DataError
        ``X: no such folder``, ``X: is a file, expected a folder holding the IDX files``, or
        not readable; never creates it.
    """
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        if folder.is_symlink():
            raise DataError(f"{folder}: is a broken symbolic link, expected a folder") from None
        raise DataError(f"{folder}: no such folder") from None
    except NotADirectoryError:
        raise DataError(f"{folder}: no such folder (a parent of it is a file)") from None
    except OSError as exc:
        raise DataError(f"{folder}: cannot open this folder: {exc.strerror or exc}") from exc
    except ValueError:  # a NUL byte: no such path can exist
        raise DataError(f"{folder!r}: not a usable folder name (it holds a NUL byte)") from None
    if stat.S_ISREG(st.st_mode):
        raise DataError(f"{folder}: is a file, expected a folder holding the IDX files")
    if not stat.S_ISDIR(st.st_mode):
        raise DataError(f"{folder}: is not a folder, expected a folder holding the IDX files")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise DataError(f"{folder}: folder is not readable (permission denied)")


def _entry_problem(path: Path) -> str | None:
    """Why ``path``, present in its folder, is not an IDX file we can read; "" if it is one,
    None if nothing is there."""
    _, problem = idx_file_problem(path)
    if problem is not None and problem.startswith("no such file"):
        return None
    return "" if problem is None else problem


def find_files(folder: Path, keys: Sequence[str]) -> tuple[dict[str, Path], list[str]]:
    """Find the files ``keys`` in ``folder`` (which must exist).

    Returns
    -------
    found : dict of key to Path
        The file of each key present (the ``.gz`` one when both forms are there).
    missing : list of str
        Canonical names of the files absent in either form, in the order of ``keys``.

    Raises
    ------
    DataError
        A name is taken by something that is not a readable IDX file (``X/name is a folder,
        expected an IDX file``), and the other form of the name is not there instead.
    """
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key in keys:
        problems: list[tuple[Path, str]] = []
        for path in candidates(folder, key):
            problem = _entry_problem(path)
            if problem == "":
                found[key] = path
                break
            if problem is not None:
                problems.append((path, problem))
        else:
            if problems:
                path, problem = problems[0]
                raise DataError(f"{path}: {problem}")
            missing.append(FILE_NAMES[key])
    return found, missing
