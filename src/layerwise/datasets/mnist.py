"""Load MNIST and its look-alikes the way the book's ``dataset/mnist.py`` does, minus its pitfalls.

``load_mnist`` returns ``(x_train, t_train), (x_test, t_test)`` like the book, but reads the IDX
files directly (no pickle), finds them in a predictable order, verifies downloads by SHA-256, writes
atomically, and says exactly what to do when it cannot find or fetch them.

Search order for the four files of a dataset ``name``:

1. ``data_dir``, if given, and only there (downloading into it if allowed);
2. the user cache: ``$LAYERWISE_DATA/<name>/``, or else
   ``platformdirs.user_cache_dir("layerwise")/<name>/``;
3. the folder of an OS package (Debian's ``dataset-fashion-mnist`` installs
   /usr/share/datasets/fashion-mnist);
4. the mirrors, downloading into the cache.

``mnist-sample`` is bundled with the package and always found.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import platformdirs

from layerwise.datasets.catalog import DATASETS, SPLIT_FILES, DatasetSpec
from layerwise.datasets.download import DEFAULT_TIMEOUT, download, sha256_file
from layerwise.datasets.idx import read_idx
from layerwise.errors import DataError

__all__ = ["load_mnist", "locate", "fetch", "resolve_auto", "cache_dir", "ENV_DATA_DIR"]

#: Environment variable that overrides the cache folder.
ENV_DATA_DIR = "LAYERWISE_DATA"
N_CLASSES = 10
IMAGE_SHAPE = (28, 28)

Array = np.ndarray[Any, np.dtype[Any]]
Split = tuple[Array, Array]


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
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}"
        ) from None


def _files_in(folder: Path, spec: DatasetSpec) -> dict[str, Path] | None:
    """The four files of ``spec`` in ``folder`` (gzip or decompressed); None if any is missing."""
    found: dict[str, Path] = {}
    for key in SPLIT_FILES:
        f = spec.files[key]
        for candidate in (folder / f.name, folder / f.raw_name):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _search_dirs(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    if spec.bundled_dir is not None:
        return [spec.bundled_dir]
    if data_dir is not None:
        return [Path(data_dir)]
    return [cache_dir() / spec.name, *spec.system_dirs]


def _download_dir(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(data_dir) if data_dir is not None else cache_dir() / spec.name


def locate(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Where ``load_mnist(name, data_dir=data_dir)`` would read the files from, without downloading.

    Parameters
    ----------
    name : str
        A name from :func:`available_datasets`.
    data_dir : path-like, optional
        If given, the only folder searched (ignored for the bundled ``mnist-sample``).

    Returns
    -------
    Path or None
        The first folder of the search order holding all four files, or None if a download
        would be needed.
    """
    spec = _spec(name)
    for folder in _search_dirs(spec, data_dir):
        if _files_in(folder, spec) is not None:
            return folder
    return None


def fetch(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Make sure the four files of ``name`` are on disk, downloading the missing ones.

    Parameters
    ----------
    name : str
        A name from :func:`available_datasets`.
    data_dir : path-like, optional
        Folder to look in and download into; default: the cache folder ``cache_dir() / name``.
    progress : bool, default True
        Show a progress bar per file.
    timeout : float
        Seconds allowed for each connection and each read.

    Returns
    -------
    Path
        The folder holding the files.

    Raises
    ------
    DownloadError
        A file could not be fetched from any mirror (nothing partial is left behind).
    """
    spec = _spec(name)
    found = locate(name, data_dir)
    if found is not None:
        return found
    target = _download_dir(spec, data_dir)
    if not spec.mirrors:
        raise DataError(f"dataset {name!r} has no download mirrors; expected its files in {target}")
    for key in SPLIT_FILES:
        f = spec.files[key]
        if not (target / f.name).is_file() and not (target / f.raw_name).is_file():
            download(spec.urls(key), target / f.name, f.sha256, progress, timeout=timeout)
    return target


def _offline_help(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None, cause: str) -> str:
    searched = ", ".join(str(d) for d in _search_dirs(spec, data_dir))
    names = ", ".join(spec.files[key].name for key in SPLIT_FILES)
    lines = [
        f"could not load dataset {spec.name!r}: its files are not in {searched}, and {cause}.",
        f"To use it offline, put these four files (gzip-compressed or not) in "
        f"{_download_dir(spec, data_dir)}:",
        f"    {names}",
        "or pass data_dir=<folder holding them> to load_mnist, or set "
        f"{ENV_DATA_DIR}=<folder> so that <folder>/{spec.name}/ holds them.",
    ]
    if spec.mirrors:
        lines.append(f"They are published at: {' or '.join(spec.mirrors)}")
    if spec.apt_package:
        where = " or ".join(str(d) for d in spec.system_dirs)
        lines.append(
            f"On Debian/Ubuntu: sudo apt-get install {spec.apt_package} (installs them in {where})."
        )
    if spec.name != "mnist-sample":
        lines.append("The bundled 'mnist-sample' (4,000 + 1,000 MNIST digits) needs no download.")
    return "\n".join(lines)


def _read_split(images_path: Path, labels_path: Path) -> Split:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), "
            f"found {images.dtype} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{labels_path}: expected uint8 labels of shape (N,), "
            f"found {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path}: expected {len(images)} labels, one per image in {images_path.name}, "
            f"found {len(labels)}"
        )
    if labels.size and labels.max() >= N_CLASSES:
        raise DataError(
            f"{labels_path}: expected labels 0..{N_CLASSES - 1}, found {int(labels.max())}"
        )
    return images, labels


def _check_bundled(spec: DatasetSpec, files: dict[str, Path]) -> None:
    for key, path in files.items():
        expected = spec.files[key].sha256
        actual = sha256_file(path)
        if actual != expected:
            raise DataError(
                f"{path}: bundled file is damaged: expected SHA-256 {expected}, found {actual}; "
                "reinstall layerwise"
            )


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


def load_mnist(
    name: str = "mnist",
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
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
        Folder holding the four IDX files (``train-images-idx3-ubyte.gz`` etc., gzip-compressed or
        not). If given it is the only folder searched, and downloads go there.
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
        Unknown name; files missing and not downloadable (the message lists the four file names,
        where to put them and how else to get them); a file is corrupt, or images and labels
        disagree in number. A :class:`~layerwise.errors.DownloadError` is chained as the cause
        when a download failed.
    """
    spec = _spec(name)
    float_dtype = np.dtype(dtype)
    if float_dtype.kind != "f":
        raise ValueError(f"load_mnist: dtype must be a floating type, got {float_dtype}")
    folder = locate(name, data_dir)
    if folder is None:
        if not download:
            raise DataError(_offline_help(spec, data_dir, "downloads are off (download=False)"))
        try:
            folder = fetch(name, data_dir, progress=progress)
        except DataError as exc:
            cause = f"the download failed:\n  {exc}"
            raise DataError(_offline_help(spec, data_dir, cause)) from exc
    files = _files_in(folder, spec)
    if files is None:  # pragma: no cover - fetch() returns a complete folder
        raise DataError(_offline_help(spec, data_dir, "some files vanished while loading"))
    if spec.bundled_dir is not None:
        _check_bundled(spec, files)
    train = _read_split(files["train_images"], files["train_labels"])
    test = _read_split(files["test_images"], files["test_labels"])
    return (
        _prepare(*train, normalize, flatten, one_hot_label, float_dtype),
        _prepare(*test, normalize, flatten, one_hot_label, float_dtype),
    )


def resolve_auto(
    data_dir: str | os.PathLike[str] | None = None,
    try_download: bool = True,
    *,
    timeout: float = 5.0,
    progress: bool = False,
) -> tuple[str, str]:
    """Pick the data for ``layerwise train --data auto``: full MNIST if possible, else the sample.

    Parameters
    ----------
    data_dir : path-like, optional
        As for :func:`load_mnist`.
    try_download : bool, default True
        If MNIST is not on disk, try to download it (short ``timeout``) before giving up.
    timeout : float, default 5
        Seconds allowed for each connection and each read of that attempt.
    progress : bool, default False
        Show a progress bar while downloading.

    Returns
    -------
    name : str
        ``'mnist'`` or ``'mnist-sample'``, to pass to :func:`load_mnist`.
    reason : str
        One human-readable sentence saying why, e.g. for the CLI to print.
    """
    folder = locate("mnist", data_dir)
    if folder is not None:
        return "mnist", f"full MNIST found in {folder}"
    where = _download_dir(DATASETS["mnist"], data_dir)
    fallback = "using the bundled mnist-sample (4,000 train / 1,000 test digits)"
    if not try_download:
        return "mnist-sample", f"full MNIST is not in {where} and downloads are off; {fallback}"
    try:
        folder = fetch("mnist", data_dir, progress=progress, timeout=timeout)
    except (DataError, OSError) as exc:
        first = str(exc).splitlines()[-1].strip()
        return "mnist-sample", (
            f"full MNIST is not in {where} and could not be downloaded ({first}); {fallback}"
        )
    return "mnist", f"full MNIST downloaded to {folder}"
