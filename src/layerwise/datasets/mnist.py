"""Load MNIST and its look-alikes the way the book's ``dataset/mnist.py`` does, minus its pitfalls.

``load_mnist`` returns ``(x_train, t_train), (x_test, t_test)`` like the book, but reads the IDX
files directly (no pickle), finds them in a predictable order, verifies downloads by SHA-256, writes
atomically, and says exactly what to do when it cannot find or fetch them.

Search order for the files of a dataset ``name`` (all four, or only those of the split asked
for: :func:`load_split` ``(name, "test")`` needs only the two test files):

1. ``data_dir``, if given, and only there (downloading into it if allowed). A folder named is a
   promise: if it does not exist, is a file or cannot be read, that is an error at once; it is
   never created, and nothing else is searched;
2. the user cache: ``$LAYERWISE_DATA/<name>/``, or else
   ``platformdirs.user_cache_dir("layerwise")/<name>/``;
3. the folder of an OS package (Debian's ``dataset-fashion-mnist`` installs
   /usr/share/datasets/fashion-mnist);
4. the mirrors, downloading into the cache.

``mnist-sample`` is bundled with the package and always found (so a ``data_dir`` given with it
is an error).

What a folder holds is a separate question, answered by :func:`~layerwise.datasets.identify`
from the digests the loader takes while reading (so asking costs no second read).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import platformdirs

from layerwise.datasets.catalog import DATASETS, IMAGE_SHAPE, N_CLASSES, SPLITS, DatasetSpec
from layerwise.datasets.download import DEFAULT_TIMEOUT, download
from layerwise.datasets.layout import check_folder, find_files, normalize_splits, split_keys
from layerwise.datasets.source import identify, take_split, verified_as
from layerwise.errors import ConfigError, DataError, DownloadError

__all__ = [
    "load_mnist",
    "load_split",
    "locate",
    "fetch",
    "resolve_auto",
    "cache_dir",
    "ENV_DATA_DIR",
    "IMAGE_SHAPE",
    "N_CLASSES",
]

#: Environment variable that overrides the cache folder.
ENV_DATA_DIR = "LAYERWISE_DATA"

Array = np.ndarray[Any, np.dtype[Any]]
Split = tuple[Array, Array]
PathLike = str | os.PathLike[str]
BOTH = ("train", "test")


def cache_dir() -> Path:
    """Folder holding one sub-folder per downloaded dataset.

    ``$LAYERWISE_DATA`` if set and non-empty, else ``platformdirs.user_cache_dir("layerwise")``
    (``~/.cache/layerwise`` on Linux).
    """
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("layerwise"))


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError(
            f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}"
        ) from None


def _no_data_dir_for_bundled(spec: DatasetSpec, data_dir: PathLike | None) -> None:
    if spec.bundled_dir is not None and data_dir is not None:
        raise ConfigError(
            f"data_dir does not apply to the bundled {spec.name!r}; got {os.fspath(data_dir)}"
        )


def _search_dirs(spec: DatasetSpec, data_dir: PathLike | None) -> list[Path]:
    if spec.bundled_dir is not None:
        return [spec.bundled_dir]
    if data_dir is not None:
        return [Path(data_dir)]
    return [cache_dir() / spec.name, *spec.system_dirs]


def _download_dir(spec: DatasetSpec, data_dir: PathLike | None) -> Path:
    return Path(data_dir) if data_dir is not None else cache_dir() / spec.name


def locate(
    name: str, data_dir: PathLike | None = None, splits: str | Sequence[str] = BOTH
) -> Path | None:
    """Where ``load_mnist(name, data_dir=data_dir)`` would read the files from, without downloading.

    Parameters
    ----------
    name : str
        A name from :func:`available_datasets`.
    data_dir : path-like, optional
        If given, the only folder searched; it must exist (not for ``mnist-sample``).
    splits : sequence of {'train', 'test'}, default both
        Whose files must be there.

    Returns
    -------
    Path or None
        The first folder of the search order holding the files of ``splits``, or None if a
        download would be needed.

    Raises
    ------
    DataError
        Unknown name; ``data_dir`` does not exist, is a file or is unreadable; a file's name is
        taken by a folder, a pipe or a broken link.
    ConfigError
        ``data_dir`` given with ``mnist-sample``, or an unknown split.
    """
    spec = _spec(name)
    keys = split_keys(splits)
    _no_data_dir_for_bundled(spec, data_dir)
    if data_dir is not None:
        check_folder(Path(data_dir))  # the one folder named must be there, whatever it holds
    elif spec.bundled_dir is None and (cache_dir() / spec.name).exists():
        check_folder(cache_dir() / spec.name)  # where a download would go: it must be usable
    for folder in _search_dirs(spec, data_dir):
        # The cache and an OS package's folder are optional places: absent is not an error.
        if folder.is_dir() and not find_files(folder, keys)[1]:
            return folder
    return None


def fetch(
    name: str,
    data_dir: PathLike | None = None,
    *,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    splits: str | Sequence[str] = BOTH,
) -> Path:
    """Make sure the files of ``name`` (of ``splits``) are on disk, downloading the missing ones.

    Parameters
    ----------
    name : str
        A name from :func:`available_datasets`.
    data_dir : path-like, optional
        An existing folder to look in and download into (never created); default: the cache
        folder ``cache_dir() / name``, created if needed.
    progress : bool, default True
        Show a progress bar per file.
    timeout : float
        Seconds allowed for each connection and each read.
    splits : sequence of {'train', 'test'}, default both
        Whose files to fetch.

    Returns
    -------
    Path
        The folder holding the files.

    Raises
    ------
    DownloadError
        A file could not be fetched from any mirror (nothing partial is left behind).
    DataError
        As for :func:`locate`; or the folder to download into cannot be created or written.
    """
    spec = _spec(name)
    keys = split_keys(splits)
    found = locate(name, data_dir, splits)
    if found is not None:
        return found
    target = _download_dir(spec, data_dir)
    if not spec.mirrors:
        raise DataError(f"dataset {name!r} has no download mirrors; expected its files in {target}")
    created = False
    if data_dir is None:
        env = os.environ.get(ENV_DATA_DIR)
        if env and not target.parent.is_dir():  # a folder the user named: never made up
            raise DataError(f"{ENV_DATA_DIR}={env}: no such folder (create it, or unset "
                            f"{ENV_DATA_DIR} to use {platformdirs.user_cache_dir('layerwise')})")
        created = not target.exists()
        try:
            target.mkdir(parents=True, exist_ok=True)  # the cache's sub-folder is ours to create
        except OSError as exc:
            raise DataError(f"{target}: cannot create the cache folder: {exc.strerror or exc}") from exc
        check_folder(target)
    present, missing = find_files(target, keys)
    if not os.access(target, os.W_OK | os.X_OK):
        raise DataError(
            f"{target}: cannot download {', '.join(missing)} into this folder (permission denied)"
        )
    try:
        for key in keys:
            if key not in present:
                f = spec.files[key]
                download(spec.urls(key), target / f.name, f.sha256, progress, timeout=timeout)
    except BaseException:
        if created:  # leave no empty folder behind a download that came to nothing
            with contextlib.suppress(OSError):
                target.rmdir()
        raise
    return target


def _what_is_missing(spec: DatasetSpec, data_dir: PathLike | None, keys: Sequence[str]) -> str:
    """``'X lacks a, b'`` for each folder searched (``'X does not exist'`` for an absent one)."""
    parts = []
    for folder in _search_dirs(spec, data_dir):
        if not folder.is_dir():
            parts.append(f"{folder} does not exist")
            continue
        try:
            _, missing = find_files(folder, keys)
        except DataError as exc:
            parts.append(str(exc))
            continue
        parts.append(f"{folder} lacks {', '.join(missing)}" if missing else f"{folder} has them")
    return "; ".join(parts)


def _offline_help(
    spec: DatasetSpec, data_dir: PathLike | None, keys: Sequence[str], cause: str
) -> str:
    names = ", ".join(spec.files[key].name for key in keys)
    lines = [
        f"could not load dataset {spec.name!r}: {_what_is_missing(spec, data_dir, keys)}, "
        f"and {cause}.",
        f"  To use it offline, put these files (gzip-compressed or not) in "
        f"{_download_dir(spec, data_dir)}:",
        f"      {names}",
        "  or name the folder holding them (data_dir=... in Python, --data-dir on the command "
        f"line), or set {ENV_DATA_DIR}=<folder> so that <folder>/{spec.name}/ holds them.",
    ]
    if spec.mirrors:
        lines.append(f"  They are published at: {' or '.join(spec.mirrors)}")
    if spec.apt_package:
        where = " or ".join(str(d) for d in spec.system_dirs)
        lines.append(
            f"  On Debian/Ubuntu: sudo apt-get install {spec.apt_package} (installs them in {where})."
        )
    if spec.name != "mnist-sample":
        lines.append("  The bundled 'mnist-sample' (4,000 + 1,000 MNIST digits) needs no download.")
    return "\n".join(lines)


def _folder_for(
    spec: DatasetSpec,
    data_dir: PathLike | None,
    splits: tuple[str, ...],
    download: bool,
    progress: bool,
) -> Path:
    """The folder to read ``splits`` of ``spec`` from, downloading the missing files if allowed."""
    keys = split_keys(splits)
    folder = locate(spec.name, data_dir, splits)
    if folder is not None:
        return folder
    if not download:
        raise DataError(_offline_help(spec, data_dir, keys, "downloads are off (download=False)"))
    try:
        return fetch(spec.name, data_dir, progress=progress, splits=splits)
    except DownloadError as exc:
        first = str(exc).splitlines()[0].rstrip(":")
        cause = f"the download failed ({first})"
        if "\n" in str(exc):
            cause += ":\n  " + "\n  ".join(str(exc).splitlines()[1:])
        raise DataError(_offline_help(spec, data_dir, keys, cause)) from exc


def _read(folder: Path, spec: DatasetSpec, split: str) -> Split:
    """The uint8 images and labels of ``split`` in ``folder``, checked (bundled: by SHA-256)."""
    images_key, labels_key = SPLITS[split]
    found, missing = find_files(folder, (images_key, labels_key))
    if missing:
        raise DataError(f"{folder}: lacks {', '.join(missing)}: it vanished while loading")
    images, labels, digests = take_split(found[images_key], found[labels_key])
    if spec.bundled_dir is None:
        # A name is a claim about the files: refuse them when they are verified as another
        # data set (Fashion-MNIST's files asked for as "mnist"). The digests were taken
        # while reading, so this costs nothing more.
        verified = verified_as(digests, split)
        if verified is not None and verified != spec.name and not (
                spec.name == "mnist" and verified == "mnist-sample"):
            raise DataError(f"{folder}: asked for {spec.name!r}, but its {split} files are "
                            f"{verified!r} (verified by SHA-256); ask for {verified!r}")
    if spec.bundled_dir is not None:
        for key, d in ((images_key, digests.images), (labels_key, digests.labels)):
            expected = spec.files[key].sha256
            if d.sha256 != expected:
                raise DataError(
                    f"{found[key]}: bundled file is damaged: expected SHA-256 {expected}, "
                    f"found {d.sha256}; reinstall layerwise"
                )
    return images, labels


def _float_dtype(dtype: npt.DTypeLike, where: str) -> np.dtype[Any]:
    try:
        float_dtype = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"{where}: dtype must be a floating type, got {dtype!r}") from None
    if float_dtype.kind != "f":
        raise ConfigError(f"{where}: dtype must be a floating type, got {float_dtype}")
    return float_dtype


def _prepare(
    images: Array,
    labels: Array,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
    dtype: np.dtype[Any],
) -> Split:
    n = len(images)
    x: Array = images
    if normalize:
        x = images.astype(dtype)
        x /= 255
    x = x.reshape(n, -1) if flatten else x.reshape(n, 1, *IMAGE_SHAPE)
    if one_hot_label:
        t = np.zeros((n, N_CLASSES), dtype=dtype)
        t[np.arange(n), labels] = 1
    else:
        t = labels.astype(np.int64)
    return x, t


def load_split(
    name: str,
    split: str,
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    dtype: npt.DTypeLike = np.float32,
    progress: bool = True,
) -> Split:
    """Load one split of an MNIST-style dataset as ``(x, t)``, needing only that split's files.

    ``load_split("fashion-mnist", "test")`` reads ``t10k-images-idx3-ubyte.gz`` and
    ``t10k-labels-idx1-ubyte.gz`` only: evaluating a model needs no training files.

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist', 'kmnist', 'mnist-sample'}
        Which dataset.
    split : {'train', 'test'}
        Which split.
    normalize, flatten, one_hot_label, data_dir, download, dtype, progress
        As for :func:`load_mnist`; a download fetches only this split's missing files.

    Returns
    -------
    x : ndarray of shape (N, 784) or (N, 1, 28, 28)
    t : ndarray of shape (N,) or (N, 10)

    Raises
    ------
    DataError
        As for :func:`load_mnist`, for this split's files.
    ConfigError
        An unknown split, a non-floating ``dtype``, or ``data_dir`` with ``mnist-sample``.
    """
    spec = _spec(name)
    if not isinstance(split, str):
        raise ConfigError(f"split: expected 'train' or 'test', got {split!r}")
    splits = normalize_splits(split)
    float_dtype = _float_dtype(dtype, "load_split")
    _no_data_dir_for_bundled(spec, data_dir)
    folder = _folder_for(spec, data_dir, splits, download, progress)
    return _prepare(*_read(folder, spec, split), normalize, flatten, one_hot_label, float_dtype)


def load_mnist(
    name: str = "mnist",
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    dtype: npt.DTypeLike = np.float32,
    progress: bool = True,
) -> tuple[Split, Split]:
    """Load an MNIST-style dataset as ``(x_train, t_train), (x_test, t_test)`` (book section 3.6.1).

    Parameters
    ----------
    name : {'mnist', 'fashion-mnist', 'kmnist', 'mnist-sample'}, default 'mnist'
        Which dataset. ``mnist-sample`` is the 4,000/1,000 digit subset bundled with layerwise.
    normalize : bool, default True
        Scale pixels to floats in [0, 1] of ``dtype``; otherwise keep them uint8 in 0..255.
    flatten : bool, default True
        Images of shape ``(N, 784)``; otherwise ``(N, 1, 28, 28)`` (channel axis for convolutions).
    one_hot_label : bool, default False
        Labels as one-hot rows of shape ``(N, 10)`` and type ``dtype``; otherwise int64 class
        indices of shape ``(N,)`` (int64, not the book's uint8, so arithmetic and indexing on
        them cannot wrap around).
    data_dir : path-like, optional
        An existing folder holding the four IDX files (``train-images-idx3-ubyte.gz`` etc.,
        gzip-compressed or not). If given it is the only folder searched, and downloads go
        there. Not for ``mnist-sample``, which is bundled.
    download : bool, default True
        Fetch missing files from the mirrors (verified by SHA-256) into ``data_dir`` or the cache.
    dtype : floating dtype, default float32
        Type of normalised images and of one-hot labels.
    progress : bool, default True
        Show a progress bar while downloading.

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuples of ndarray
        ``x`` of shape ``(N, 784)`` or ``(N, 1, 28, 28)``; ``t`` of shape ``(N,)`` or ``(N, 10)``.
        N is 60,000 / 10,000 for the full datasets and 4,000 / 1,000 for ``mnist-sample``.

    Raises
    ------
    DataError
        Unknown name; ``data_dir`` missing, a file or unreadable; files missing and not
        downloadable (the message names the missing files, where to put them and how else to
        get them); a file is corrupt or holds 0 images, or images and labels disagree in
        number. A :class:`~layerwise.errors.DownloadError` is chained as the cause when a
        download failed.
    ConfigError
        A non-floating ``dtype``, or ``data_dir`` given with ``mnist-sample``.
    """
    spec = _spec(name)
    float_dtype = _float_dtype(dtype, "load_mnist")
    _no_data_dir_for_bundled(spec, data_dir)
    folder = _folder_for(spec, data_dir, BOTH, download, progress)
    train = _read(folder, spec, "train")
    test = _read(folder, spec, "test")
    return (
        _prepare(*train, normalize, flatten, one_hot_label, float_dtype),
        _prepare(*test, normalize, flatten, one_hot_label, float_dtype),
    )


def resolve_auto(
    data_dir: PathLike | None = None,
    try_download: bool = True,
    *,
    timeout: float = 5.0,
    progress: bool = False,
    splits: str | Sequence[str] = BOTH,
) -> tuple[str, str]:
    """Pick the data for ``layerwise train --data auto``.

    With ``data_dir``: what that folder holds, never anything else and never a download (which
    data set would it be?); a missing file is an error naming the folder and the file.
    Without ``data_dir``: full MNIST if cached, installed or downloadable (``try_download``),
    else the bundled sample.

    Parameters
    ----------
    data_dir : path-like, optional
        As for :func:`load_mnist`.
    try_download : bool, default True
        If the files are not on disk, try to download MNIST (short ``timeout``) before giving up.
    timeout : float, default 5
        Seconds allowed for each connection and each read of that attempt.
    progress : bool, default False
        Show a progress bar while downloading.
    splits : sequence of {'train', 'test'}, default both
        The splits that will be loaded (``('test',)`` for evaluation).

    Returns
    -------
    name : str
        The name to pass to :func:`load_mnist` / :func:`load_split` *with the same data_dir*.
        With ``data_dir``: the dataset the folder was verified to hold, else ``'mnist'`` (any
        MNIST-format folder loads under that name). Without: ``'mnist'`` or ``'mnist-sample'``.
        To label a run, use :func:`identify`, not this name.
    reason : str
        One line saying what was chosen and why: :meth:`DataSource.describe` of the folder, or
        why the sample is used.

    Raises
    ------
    DataError
        Only with ``data_dir``: it is missing, a file or unreadable, or lacks files (named).
    """
    names = normalize_splits(splits)
    keys = split_keys(names)
    if data_dir is not None:
        folder = Path(data_dir)
        check_folder(folder)
        present, missing = find_files(folder, keys)
        if missing:
            # Which data set would a download be? The folder was named to say so: nothing is
            # downloaded into it under `auto` (ask for one by name to download it there).
            raise DataError(f"{folder}: lacks {', '.join(missing)}, which --data auto needs "
                            "from the folder named; give --data NAME to download a data set into it")
        source = identify(folder, names)
        name = source.name if source.name is not None and source.name != "mnist-sample" else "mnist"
        return name, source.describe()
    folder_found = locate("mnist", None, names)
    if folder_found is not None:
        return "mnist", identify(folder_found, names).describe()
    where = _download_dir(DATASETS["mnist"], None)
    fallback = "using the bundled mnist-sample (4,000 train / 1,000 test digits)"
    if not try_download:
        return "mnist-sample", f"full MNIST is not in {where} and downloads are off; {fallback}"
    try:
        folder_found = fetch("mnist", None, progress=progress, timeout=timeout, splits=names)
    except (DataError, OSError) as exc:
        first = str(exc).splitlines()[-1].strip()
        return "mnist-sample", (
            f"full MNIST is not in {where} and could not be downloaded ({first}); {fallback}"
        )
    return "mnist", identify(folder_found, names).describe() + ", just downloaded"
