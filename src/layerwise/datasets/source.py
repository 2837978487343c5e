"""What a folder of IDX files holds: which dataset, how many images, and a fingerprint of each split.

A folder is only called "Fashion-MNIST" when its files are verified to be Fashion-MNIST's: a file
is a dataset's when its bytes match the catalog's SHA-256 of the mirror's ``.gz`` file, or its
decompressed IDX bytes match the catalog's ``raw_sha256`` (so a recompressed copy, such as
Debian's, is recognised too). Anything else is "MNIST-format data", with its counts.

>>> from layerwise.datasets import identify
>>> identify("/usr/share/datasets/fashion-mnist").describe()  # doctest: +SKIP
'Fashion-MNIST (60,000 train / 10,000 test, verified) in /usr/share/datasets/fashion-mnist'

Each split also gets a fingerprint: the SHA-256 of its decompressed images file followed by its
decompressed labels file. It is the same for every gzip encoding of the same data, and is what a
model file records (:meth:`DataSource.record`) so that ``evaluate`` can tell whether a model
meets the data it was trained on.

Reading is done once: the loader (:func:`~layerwise.datasets.load_split`) hashes the bytes it
reads, and :func:`identify` reads a split only when those digests are not at hand (the digests
of a file are remembered while its size, modification time and inode stay the same). The
arrays :func:`identify` had to read are handed to the next load of the same files instead of
being read again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layerwise.datasets.catalog import DATASETS, IMAGE_SHAPE, N_CLASSES, SPLITS
from layerwise.datasets.idx import IdxDigests, read_idx_hashed
from layerwise.datasets.layout import check_folder, find_files, normalize_splits, split_keys
from layerwise.errors import DataError

__all__ = ["DataSource", "identify"]

Array = np.ndarray[Any, np.dtype[Any]]

# --- reading a split once -------------------------------------------------------------------

_FileKey = tuple[str, int, int, int, int]
_MAX_REMEMBERED = 256


@dataclass(frozen=True)
class _SplitDigests:
    images: IdxDigests
    labels: IdxDigests
    fingerprint: str
    count: int


_digests: dict[tuple[_FileKey, _FileKey], _SplitDigests] = {}
_handed_over: dict[tuple[_FileKey, _FileKey], tuple[Array, Array]] = {}


def _file_key(path: Path) -> _FileKey:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _check_images(images: Array, images_path: Path) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), "
            f"found {images.dtype} of shape {images.shape}"
        )
    if len(images) == 0:
        raise DataError(f"{images_path}: holds 0 images, expected at least 1")


def _check_labels(labels: Array, labels_path: Path, images: Array, images_path: Path) -> None:
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
    if labels.max() >= N_CLASSES:
        raise DataError(
            f"{labels_path}: expected labels 0..{N_CLASSES - 1}, found {int(labels.max())}"
        )


def _read_split(images_path: Path, labels_path: Path) -> tuple[Array, Array, _SplitDigests]:
    key = (_file_key(images_path), _file_key(labels_path))
    split_hash = hashlib.sha256()
    images, image_digests = read_idx_hashed(images_path, raw_sinks=[split_hash])
    _check_images(images, images_path)  # before reading the labels: say what is wrong first
    labels, label_digests = read_idx_hashed(labels_path, raw_sinks=[split_hash])
    _check_labels(labels, labels_path, images, images_path)
    digests = _SplitDigests(image_digests, label_digests, split_hash.hexdigest(), len(images))
    if len(_digests) >= _MAX_REMEMBERED:
        del _digests[next(iter(_digests))]
    _digests[key] = digests
    return images, labels, digests


def take_split(images_path: Path, labels_path: Path) -> tuple[Array, Array, _SplitDigests]:
    """Read and check one split: ``(images, labels, digests)``; uint8 arrays the caller owns.

    Arrays that :func:`identify` has just read from the same, unchanged files are handed over
    rather than read again.
    """
    key = (_file_key(images_path), _file_key(labels_path))
    arrays = _handed_over.pop(key, None)
    digests = _digests.get(key)
    if arrays is not None and digests is not None:
        return arrays[0], arrays[1], digests
    return _read_split(images_path, labels_path)


def _split_digests(images_path: Path, labels_path: Path) -> _SplitDigests:
    key = (_file_key(images_path), _file_key(labels_path))
    digests = _digests.get(key)
    if digests is not None:
        return digests
    images, labels, digests = _read_split(images_path, labels_path)
    _handed_over[key] = (images, labels)
    return digests


# --- the description --------------------------------------------------------------------------


def _titles(names: Sequence[str]) -> str:
    titles = [DATASETS[n].display_name if n in DATASETS else n for n in names]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " or " + titles[-1]


@dataclass(frozen=True)
class DataSource:
    """What a folder of MNIST-style IDX files holds, as far as it can be verified.

    Attributes
    ----------
    name : str or None
        The catalog name (``'fashion-mnist'``) when every file examined is verified to be that
        dataset's, else None.
    folder : Path
        The folder the files are in.
    counts : dict of str to int
        Images per split examined, e.g. ``{'train': 60000, 'test': 10000}``.
    fingerprints : dict of str to str
        Per split, the hex SHA-256 of the decompressed images file followed by the decompressed
        labels file: equal for equal data, however compressed.
    complete : bool
        ``name`` is set and each split examined holds all of that dataset's images.
    split_names : dict of str to (str or None)
        Per split, the catalog name its two files are verified as (a folder may mix datasets).
    unverifiable : dict of str to tuple of str
        Per split not verified, the catalog names it could be but cannot be checked against,
        because the catalog has no digest of their decompressed files (a decompressed copy of
        MNIST, say).
    """

    name: str | None
    folder: Path
    counts: dict[str, int]
    fingerprints: dict[str, str]
    complete: bool
    split_names: dict[str, str | None] = field(default_factory=dict)
    unverifiable: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def _counts_text(self) -> str:
        return " / ".join(f"{n:,} {split}" for split, n in self.counts.items())

    def describe(self) -> str:
        """One honest line: ``'Fashion-MNIST (60,000 train / 10,000 test, verified) in /x'``."""
        counts = self._counts_text()
        if self.name is not None:
            title = DATASETS[self.name].display_name if self.name in DATASETS else self.name
            extent = "verified" if self.complete else "verified, but not all of it"
            return f"{title} ({counts}, {extent}) in {self.folder}"
        known = {split: n for split, n in self.split_names.items() if n is not None}
        maybe = {split: names for split, names in self.unverifiable.items() if names}
        if known:
            parts = []
            for split in self.counts:
                if split in known:
                    parts.append(f"{split} is from {_titles([known[split]])}")
                elif split in maybe:
                    parts.append(f"{split} may be from {_titles(maybe[split])} (unverifiable)")
                else:
                    parts.append(f"{split} is not a known data set")
            detail = f"{counts}; {'; '.join(parts)}"
            return f"MNIST-format data, not one known data set ({detail}) in {self.folder}"
        common = [n for n in DATASETS if all(n in maybe.get(split, ()) for split in self.counts)]
        if common:
            return (
                f"MNIST-format data, not verified ({counts}; it may be {_titles(common)}, "
                f"whose decompressed files have no known digest to check) in {self.folder}"
            )
        return f"MNIST-format data, not a known data set ({counts}) in {self.folder}"

    def __str__(self) -> str:
        return self.describe()

    def record(self) -> dict[str, Any]:
        """A JSON-able dict for model files and checkpoints: name, folder, counts, fingerprints."""
        return {
            "name": self.name,
            "folder": str(self.folder),
            "counts": dict(self.counts),
            "fingerprints": dict(self.fingerprints),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DataSource:
        """Rebuild a DataSource from :meth:`record`'s dict, e.g. read back from a model file.

        Raises
        ------
        DataError
            The record is not such a dict (wrong keys or types); the message names the field.
        """
        if not isinstance(record, Mapping):
            raise DataError(f"data source record: expected a dict, found {type(record).__name__}")
        name, folder = record.get("name"), record.get("folder")
        counts, fingerprints = record.get("counts"), record.get("fingerprints")
        if name is not None and not isinstance(name, str):
            raise DataError(f"data source record: 'name' must be a string or null, found {name!r}")
        if not isinstance(folder, str):
            raise DataError(f"data source record: 'folder' must be a string, found {folder!r}")
        if not isinstance(counts, Mapping) or not all(
            s in SPLITS and isinstance(n, int) and not isinstance(n, bool) and n >= 0
            for s, n in counts.items()
        ):
            raise DataError(
                "data source record: 'counts' must map 'train'/'test' to image counts, "
                f"found {counts!r}"
            )
        if not isinstance(fingerprints, Mapping) or not all(
            s in SPLITS and isinstance(h, str) for s, h in fingerprints.items()
        ):
            raise DataError(
                "data source record: 'fingerprints' must map 'train'/'test' to hex digests, "
                f"found {fingerprints!r}"
            )
        spec = DATASETS.get(name) if name is not None else None
        complete = spec is not None and bool(counts) and all(
            n == spec.n_images(s) for s, n in counts.items()
        )
        return cls(
            name=name,
            folder=Path(folder),
            counts=dict(counts),
            fingerprints=dict(fingerprints),
            complete=complete,
            split_names={s: name for s in counts},
        )

    def matches(self, other: DataSource, split: str = "test") -> bool | None:
        """Whether ``other`` holds the same ``split`` (same fingerprint); None if either lacks it."""
        mine, theirs = self.fingerprints.get(split), other.fingerprints.get(split)
        if mine is None or theirs is None:
            return None
        return mine == theirs


def _file_status(digests: IdxDigests, key: str, spec_name: str) -> bool | None:
    """True: verified as ``spec_name``'s file; False: verified not to be; None: cannot tell."""
    expected = DATASETS[spec_name].files[key]
    if digests.sha256 == expected.sha256:
        return True
    if expected.raw_sha256 is not None:
        return digests.raw_sha256 == expected.raw_sha256
    return None


def verified_as(digests: _SplitDigests, split: str) -> str | None:
    """The catalog name whose ``split`` files these are, verified by SHA-256; None if none."""
    for spec_name in DATASETS:
        if (_file_status(digests.images, SPLITS[split][0], spec_name),
                _file_status(digests.labels, SPLITS[split][1], spec_name)) == (True, True):
            return spec_name
    return None


def identify(
    folder: str | os.PathLike[str], splits: str | Sequence[str] = ("train", "test")
) -> DataSource:
    """Say what the folder's IDX files of ``splits`` hold, verified against the catalog's digests.

    Parameters
    ----------
    folder : path-like
        A folder holding the files of ``splits`` (gzip-compressed or not).
    splits : sequence of {'train', 'test'}, default both
        Which splits to examine; only their files need be there.

    Returns
    -------
    DataSource
        ``describe()`` gives one line for people, ``record()`` a dict for model files.

    Raises
    ------
    DataError
        The folder is missing, not a folder or unreadable; files are missing (all named); a file
        is corrupt, holds 0 images, or images and labels disagree.
    """
    path = Path(folder)
    names = normalize_splits(splits)
    check_folder(path)
    found, missing = find_files(path, split_keys(names))
    if missing:
        raise DataError(
            f"{path}: lacks {', '.join(missing)} (gzip-compressed or not), needed for the "
            f"{' and '.join(names)} split{'s' if len(names) > 1 else ''}"
        )
    pairs = {split: (found[SPLITS[split][0]], found[SPLITS[split][1]]) for split in names}
    keep = {(_file_key(i), _file_key(t)) for i, t in pairs.values()}
    for stale in [k for k in _handed_over if k not in keep]:  # hold one folder's arrays at most
        del _handed_over[stale]
    per_split = {split: _split_digests(*pair) for split, pair in pairs.items()}
    split_names: dict[str, str | None] = {}
    unverifiable: dict[str, tuple[str, ...]] = {}
    for split, d in per_split.items():
        split_names[split] = verified_as(d, split)
        maybe = []
        for spec_name, candidate in DATASETS.items():
            if split_names[split] is not None:
                break
            status = (
                _file_status(d.images, SPLITS[split][0], spec_name),
                _file_status(d.labels, SPLITS[split][1], spec_name),
            )
            if False not in status and d.count == candidate.n_images(split):
                maybe.append(spec_name)  # nothing contradicts it, nothing can confirm it
        if split_names[split] is None:
            unverifiable[split] = tuple(maybe)
    verified = set(split_names.values())
    name = verified.pop() if len(verified) == 1 else None
    spec = DATASETS[name] if name is not None else None
    complete = spec is not None and all(d.count == spec.n_images(s) for s, d in per_split.items())
    return DataSource(
        name=name,
        folder=path,
        counts={s: d.count for s, d in per_split.items()},
        fingerprints={s: d.fingerprint for s, d in per_split.items()},
        complete=complete,
        split_names=split_names,
        unverifiable=unverifiable,
    )

