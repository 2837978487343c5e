"""``layerwise evaluate``: accuracy and confusion matrix of a saved model."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.commands.common import DATA_CHOICES, add_data_arguments, fail, load_data
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
    from layerwise.io import MODEL_FORMAT, load_model, read_safetensors

    try:
        net = load_model(args.model)
        _, metadata = read_safetensors(args.model, MODEL_FORMAT)
    except DataError as exc:
        return fail(str(exc))
    if args.data is None:  # evaluate on what the model was trained on
        recorded = metadata.get("data")
        args.data = recorded if recorded in DATA_CHOICES else "auto"
    try:
        # Images as (N, 1, 28, 28): conv nets need them so, and Affine flattens them itself.
        name, reason, (_, (x_test, t_test)) = load_data(args.data, args.data_dir, flatten=False, quiet=True)
    except DataError as exc:
        return fail(str(exc))
    print(f"dataset: {name} ({reason}); {len(x_test)} test images")
    net.eval()
    preds = np.concatenate([np.argmax(net.predict(x_test[i : i + 1000]), axis=1)
                            for i in range(0, len(x_test), 1000)])
    correct = int(np.sum(preds == t_test))
    n_classes = int(net.predict(x_test[:1]).shape[1])
    print(f"test accuracy {correct / len(x_test):.4f} ({correct}/{len(x_test)})")
    print("confusion matrix:")
    print(format_confusion(confusion_matrix(t_test, preds, n_classes)))
    return 0
