"""Datasets: MNIST-style IDX files, verified downloads, and a bundled 5,000-digit sample.

>>> from layerwise.datasets import load_mnist
>>> (x_train, t_train), (x_test, t_test) = load_mnist("mnist-sample")
>>> x_train.shape, t_train.shape
((4000, 784), (4000,))
"""

from __future__ import annotations

from layerwise.datasets.catalog import DATASETS, DatasetSpec, FileSpec, available_datasets
from layerwise.datasets.download import download, sha256_file
from layerwise.datasets.idx import IDX_DTYPES, read_idx, write_idx
from layerwise.datasets.mnist import cache_dir, fetch, load_mnist, locate, resolve_auto
from layerwise.fileio import atomic_write

__all__ = [
    "load_mnist",
    "available_datasets",
    "locate",
    "fetch",
    "resolve_auto",
    "cache_dir",
    "read_idx",
    "write_idx",
    "IDX_DTYPES",
    "download",
    "sha256_file",
    "atomic_write",
    "DATASETS",
    "DatasetSpec",
    "FileSpec",
]
