"""What `layerwise train` builds from its flags: the network and the optimizer."""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from layerwise.errors import ConfigError
from layerwise.optimizers import NAMES

__all__ = ["MODELS", "CNN_MODELS", "OPTIMIZERS", "DEFAULT_LR", "DEFAULT_OPTIMIZER", "DEFAULT_EPOCHS",
           "build_network", "build_optimizer", "parse_hidden", "check_model_args"]

MODELS = ("two-layer", "mlp", "simple-cnn", "deep-cnn")
CNN_MODELS = ("simple-cnn", "deep-cnn")
OPTIMIZERS = tuple(name.lower() for name in NAMES)  # sgd, momentum, nesterov, adagrad, rmsprop, adam
#: The book's learning rates: 0.1 for TwoLayerNet's SGD (ch. 5), the ch. 6 comparison's otherwise.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01, "rmsprop": 0.001,
              "adam": 0.001}
DEFAULT_HIDDEN = {"two-layer": "50", "mlp": "100,100,100,100", "simple-cnn": "100", "deep-cnn": "50"}
#: The book trains its conv nets with Adam for 20 epochs (ch07/train_convnet.py, ch08).
DEFAULT_OPTIMIZER = {"two-layer": "sgd", "mlp": "sgd", "simple-cnn": "adam", "deep-cnn": "adam"}
DEFAULT_EPOCHS = {"simple-cnn": 20, "deep-cnn": 20}


def parse_hidden(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--hidden takes comma-separated positive integers, got {text!r}") from None
    if not sizes or any(n < 1 for n in sizes):
        raise ConfigError(f"--hidden takes comma-separated positive integers, got {text!r}")
    return sizes


def check_model_args(args: argparse.Namespace) -> str | None:
    """A message for flags that do not fit together, or None."""
    if args.model != "mlp":
        for flag, value in (("--batchnorm", args.batchnorm), ("--dropout", args.dropout),
                            ("--weight-decay", args.weight_decay)):
            if value:
                return f"{flag} needs --model mlp (--model {args.model} is the book's network as it is)"
        if len(parse_hidden(_hidden_text(args))) != 1:
            return f"--model {args.model} has one hidden layer: give --hidden N, or use --model mlp"
    if args.model == "deep-cnn" and args.init is not None:
        return "--init does not apply to --model deep-cnn, which uses He initialisation as the book"
    parse_hidden(_hidden_text(args))  # raises ValueError with the message
    if args.init is not None:
        init = _init(args.init, 0.0)
        if isinstance(init, float):
            if not (init > 0 and math.isfinite(init)):
                return f"--init as a number is the weights' standard deviation: positive, got {args.init}"
        elif args.model == "simple-cnn":
            return "--model simple-cnn takes --init as a number (the book's weight_init_std)"
        else:
            from layerwise.initializers import get_initializer

            get_initializer(init)  # raises ValueError naming the known ones
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


def _hidden_text(args: argparse.Namespace) -> str:
    """``--hidden`` as given (an empty value is an error, not the default), else the model's."""
    return DEFAULT_HIDDEN[args.model] if args.hidden is None else str(args.hidden)


def build_network(args: argparse.Namespace, input_shape: tuple[int, ...], n_classes: int,
                  rng: np.random.Generator) -> Any:
    """The network for ``args.model``; ``input_shape`` is one sample's shape. A network too
    large for memory is a ConfigError naming --hidden."""
    try:
        return _build_network(args, input_shape, n_classes, rng)
    except MemoryError as exc:
        raise ConfigError(f"--hidden {_hidden_text(args)}: the network does not fit in memory "
                          f"({str(exc).splitlines()[0] if str(exc) else 'MemoryError'})") from None


def _build_network(args: argparse.Namespace, input_shape: tuple[int, ...], n_classes: int,
                   rng: np.random.Generator) -> Any:
    from layerwise.networks import DeepConvNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet

    hidden = parse_hidden(_hidden_text(args))
    input_size = int(np.prod(input_shape))
    if args.model == "simple-cnn":
        init = _init(args.init, 0.01)
        assert isinstance(init, float)  # check_model_args said so
        return SimpleConvNet(input_dim=input_shape, hidden_size=hidden[0], output_size=n_classes,
                             weight_init_std=init, rng=rng)
    if args.model == "deep-cnn":
        return DeepConvNet(input_dim=input_shape, hidden_size=hidden[0], output_size=n_classes, rng=rng)
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
    from layerwise.optimizers import by_name

    return by_name(name, lr=lr)
