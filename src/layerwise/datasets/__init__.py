"""Datasets: MNIST-style IDX files, verified downloads, and a bundled 5,000-digit sample.

>>> from layerwise.datasets import identify, load_mnist, load_split, locate
>>> (x_train, t_train), (x_test, t_test) = load_mnist("mnist-sample")
>>> x_train.shape, t_train.shape
((4000, 784), (4000,))
>>> x_test, t_test = load_split("mnist-sample", "test")  # only the two test files are read
>>> identify(locate("mnist-sample")).name
'mnist-sample'
"""

from __future__ import annotations

from layerwise.datasets.catalog import (
    DATASETS,
    SPLITS,
    DatasetSpec,
    FileSpec,
    available_datasets,
)
from layerwise.datasets.download import download, sha256_file
from layerwise.datasets.idx import (
    IDX_DTYPES,
    MAX_PAYLOAD_BYTES,
    IdxDigests,
    read_idx,
    read_idx_hashed,
    write_idx,
)
from layerwise.datasets.mnist import (
    cache_dir,
    fetch,
    load_mnist,
    load_split,
    locate,
    resolve_auto,
)
from layerwise.datasets.source import DataSource, identify
from layerwise.files.fileio import atomic_write

__all__ = [
    "load_mnist",
    "load_split",
    "identify",
    "DataSource",
    "available_datasets",
    "locate",
    "fetch",
    "resolve_auto",
    "cache_dir",
    "read_idx",
    "read_idx_hashed",
    "IdxDigests",
    "write_idx",
    "IDX_DTYPES",
    "MAX_PAYLOAD_BYTES",
    "download",
    "sha256_file",
    "atomic_write",
    "DATASETS",
    "DatasetSpec",
    "FileSpec",
    "SPLITS",
]
