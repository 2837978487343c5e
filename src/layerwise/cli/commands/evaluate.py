"""``layerwise evaluate``: accuracy and confusion matrix of a saved model."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.cli.commands.common import add_data_arguments, load_model_test_data
from layerwise.datasets.mnist import N_CLASSES
from layerwise.errors import DataError

__all__ = ["add_parser", "run", "confusion_matrix", "format_confusion"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("evaluate", help="accuracy and confusion matrix of a saved model",
                              description="Evaluate a model file on a data set's test images.")
    p.add_argument("model", metavar="MODEL", help="a model file written by `layerwise train --save`")
    add_data_arguments(p, default=None, default_help="the data set recorded in the model file, else auto")
    p.set_defaults(func=run)


def confusion_matrix(true: NDArray[Any], pred: NDArray[Any], n_classes: int) -> NDArray[np.int64]:
    """Counts ``m[i, j]`` of samples of class ``i`` predicted as ``j``."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (true.astype(np.intp), pred.astype(np.intp)), 1)
    return m


def format_confusion(m: NDArray[np.int64]) -> str:
    width = max(5, len(str(int(m.max()))) + 1)
    head = "true\\pred" + "".join(f"{j:>{width}}" for j in range(m.shape[1]))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(m)]
    return "\n".join([head, *rows])


def run(args: argparse.Namespace) -> int:
    from layerwise.files.model_files import load_model_and_metadata

    net, metadata = load_model_and_metadata(args.model)
    data = load_model_test_data(args.model, metadata, args.data, args.data_dir)
    x_test, t_test = data.test
    print(f"dataset: {data.description}; {len(x_test)} test images")
    net.eval()
    n_classes = int(net.predict(x_test[:1]).shape[1])
    if n_classes != N_CLASSES:
        raise DataError(f"{args.model}: the network has {n_classes} outputs, expected one per "
                        f"class of the data ({N_CLASSES})")
    preds = np.concatenate([np.argmax(net.predict(x_test[i : i + 1000]), axis=1)
                            for i in range(0, len(x_test), 1000)])
    correct = int(np.sum(preds == t_test))
    print(f"test accuracy {correct / len(x_test):.4f} ({correct}/{len(x_test)})")
    print("confusion matrix:")
    print(format_confusion(confusion_matrix(t_test, preds, n_classes)))
    return 0
