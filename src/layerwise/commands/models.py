"""What `layerwise train` builds from its flags: the network and the optimizer."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

__all__ = ["MODELS", "OPTIMIZERS", "DEFAULT_LR", "build_network", "build_optimizer", "parse_hidden",
           "check_model_args"]

MODELS = ("two-layer", "mlp")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
#: The book's learning rates: 0.1 for TwoLayerNet's SGD (ch. 5), the ch. 6 comparison's otherwise.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "rmsprop": 0.001,
              "adam": 0.001}
DEFAULT_HIDDEN = {"two-layer": "50", "mlp": "100,100,100,100"}


def parse_hidden(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--hidden takes comma-separated positive integers, got {text!r}") from None
    if not sizes or any(n < 1 for n in sizes):
        raise ValueError(f"--hidden takes comma-separated positive integers, got {text!r}")
    return sizes


def check_model_args(args: argparse.Namespace) -> str | None:
    """A message for flags that do not fit together, or None."""
    if args.model == "two-layer":
        for flag, value in (("--batchnorm", args.batchnorm), ("--dropout", args.dropout),
                            ("--weight-decay", args.weight_decay)):
            if value:
                return f"{flag} needs --model mlp (the two-layer network is the book's plain TwoLayerNet)"
        if len(parse_hidden(args.hidden or DEFAULT_HIDDEN["two-layer"])) != 1:
            return "--model two-layer has one hidden layer: give --hidden N, or use --model mlp"
    parse_hidden(args.hidden or DEFAULT_HIDDEN[args.model])  # raises ValueError with the message
    if args.init is not None and not isinstance(_init(args.init, 0.0), float):
        from layerwise.initializers import get_initializer

        get_initializer(args.init)  # raises ValueError naming the known ones
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        return f"--dropout must be in [0, 1), got {args.dropout}"
    if args.weight_decay is not None and not args.weight_decay >= 0.0:
        return f"--weight-decay must be >= 0, got {args.weight_decay}"
    return None


def _init(text: str | None, default: str | float) -> str | float:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        return text


def build_network(args: argparse.Namespace, input_size: int, n_classes: int, rng: np.random.Generator) -> Any:
    from layerwise.networks import MultiLayerNetExtend, TwoLayerNet

    hidden = parse_hidden(args.hidden or DEFAULT_HIDDEN[args.model])
    if args.model == "two-layer":
        init = _init(args.init, 0.01)
        if not isinstance(init, float):
            from layerwise.networks import MultiLayerNet

            # He/Xavier on the book's two-layer shape: the same layers, another initialiser.
            return MultiLayerNet(input_size, hidden, n_classes, weight_init_std=init, rng=rng)
        return TwoLayerNet(input_size, hidden[0], n_classes, weight_init_std=init, rng=rng)
    return MultiLayerNetExtend(
        input_size, hidden, n_classes, activation="relu", weight_init_std=_init(args.init, "he"),
        weight_decay_lambda=args.weight_decay or 0.0, use_dropout=bool(args.dropout),
        dropout_ration=args.dropout or 0.5, use_batchnorm=args.batchnorm, rng=rng)


def build_optimizer(name: str, lr: float) -> Any:
    from layerwise import optimizers

    cls = {"sgd": optimizers.SGD, "momentum": optimizers.Momentum, "nesterov": optimizers.Nesterov,
           "adagrad": optimizers.AdaGrad, "rmsprop": optimizers.RMSprop, "adam": optimizers.Adam}[name]
    return cls(lr=lr)
