"""``layerwise evaluate``: accuracy and confusion matrix of a saved model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.commands.common import DATA_CHOICES, add_data_arguments, load_data, warn
from layerwise.datasets.mnist import N_CLASSES
from layerwise.errors import ConfigError, DataError

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


def _recorded_source(metadata: dict[str, str]) -> dict[str, Any]:
    """The data record a model file carries (empty for files from older versions)."""
    try:
        record = json.loads(metadata.get("data_source", "{}"))
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def run(args: argparse.Namespace) -> int:
    from layerwise.model_files import load_model_and_metadata

    net, metadata = load_model_and_metadata(args.model)
    recorded = _recorded_source(metadata)
    if args.data is None and args.data_dir is None:
        # Evaluate on what the model was trained on: the data set, or the folder it came from.
        name = metadata.get("data")
        folder = recorded.get("folder")
        if name in DATA_CHOICES:
            args.data = name
        elif isinstance(folder, str) and Path(folder).is_dir():
            args.data, args.data_dir = "auto", folder
        else:
            raise ConfigError(f"{args.model} does not say which data it was trained on "
                              f"(data: {name!r}); give --data or --data-dir")
    # Images as (N, 1, 28, 28): conv nets need them so, and Affine flattens them itself.
    data = load_data(args.data or "auto", args.data_dir, flatten=False, quiet=True, splits=("test",))
    x_test, t_test = data.test
    print(f"dataset: {data.description}; {len(x_test)} test images")
    if recorded and data.differs_from(recorded):
        trained_on = recorded.get("description") or recorded.get("name") or "other data"
        warn(f"{args.model} was trained on {trained_on}; this is {data.description}, so the "
             "accuracy below is not on the data it was trained for")
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
