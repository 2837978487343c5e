"""The book's convolutional networks: SimpleConvNet (§7.5) and DeepConvNet (§8.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerwise.conv_utils import conv_output_size
from layerwise.layers import Affine, Convolution, Dropout, Layer, Pooling, Relu, SoftmaxWithLoss
from layerwise.networks.sequential import Sequential

__all__ = ["SimpleConvNet", "DeepConvNet"]

ConvParam = Mapping[str, int]


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _input_dim(who: str, input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(input_dim)
    if len(dims) != 3 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in dims):
        raise ValueError(f"{who}: input_dim must be three positive integers (C, H, W), got {input_dim!r}")
    c, h, w = (int(v) for v in dims)
    return c, h, w


def _conv_param(who: str, p: ConvParam) -> tuple[int, int, int, int]:
    missing = {"filter_num", "filter_size", "pad", "stride"} - set(p)
    if missing:
        raise ValueError(f"{who}: conv_param {dict(p)} lacks {sorted(missing)}")
    return int(p["filter_num"]), int(p["filter_size"]), int(p["pad"]), int(p["stride"])


class _ConvNet(Sequential):
    """Shared by the book's conv nets: the architecture is the constructor's arguments."""

    _init_args: dict[str, Any]
    eval_batch_size = 100

    def _config_args(self) -> dict[str, Any]:
        return dict(self._init_args)

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Sequential:
        args = {k: v for k, v in config.items() if k not in ("class", "dtype")}
        factory: Any = cls  # a subclass, whose constructor takes the book's arguments
        net: Sequential = factory(**args, rng=0, dtype=config.get("dtype", "float32"))
        return net


class SimpleConvNet(_ConvNet):
    """``Conv1 - Relu1 - Pool1 - Affine1 - Relu2 - Affine2 - SoftmaxWithLoss`` (book §7.5).

    Parameters
    ----------
    input_dim : (C, H, W)
    conv_param : dict with ``filter_num``, ``filter_size``, ``pad``, ``stride``
    hidden_size, output_size : int
    weight_init_std : float
        Weights are ``weight_init_std * N(0, 1)``, biases zero, as in the book.
    rng : Generator, int or None
    dtype : float32 by default

    Parameters are ``W1, b1`` (the filters, ``(filter_num, C, fs, fs)``), ``W2, b2`` and
    ``W3, b3``. The pooling is 2x2 max with stride 2, so the convolution's output size must be
    even.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param: ConvParam | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float = 0.01,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        who = "SimpleConvNet"
        if conv_param is None:
            conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        c, h, w = _input_dim(who, input_dim)
        fn, fs, pad, stride = _conv_param(who, conv_param)
        for label, value in (("hidden_size", hidden_size), ("output_size", output_size)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{who}: {label} must be a positive integer, got {value!r}")
        oh = conv_output_size(h, fs, stride, pad)
        ow = conv_output_size(w, fs, stride, pad)
        pool_h, pool_w = conv_output_size(oh, 2, 2), conv_output_size(ow, 2, 2)
        pool_output_size = fn * pool_h * pool_w
        gen, dt = _generator(rng), np.dtype(dtype)

        def weight(*shape: int) -> np.ndarray[Any, Any]:
            return (weight_init_std * gen.standard_normal(shape)).astype(dt)

        super().__init__(
            [
                Convolution(weight(fn, c, fs, fs), np.zeros(fn, dt), stride=stride, pad=pad),
                Relu(),
                Pooling(2, 2, stride=2),
                Affine(weight(pool_output_size, hidden_size), np.zeros(hidden_size, dt)),
                Relu(),
                Affine(weight(hidden_size, output_size), np.zeros(output_size, dt)),
            ],
            SoftmaxWithLoss(),
            names=["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"],
        )
        self.input_dim = (c, h, w)
        self._init_args = {
            "input_dim": list(self.input_dim), "conv_param": dict(conv_param),
            "hidden_size": int(hidden_size), "output_size": int(output_size),
            "weight_init_std": float(weight_init_std)}

    def __repr__(self) -> str:
        conv = self.layers["Conv1"]
        return (f"SimpleConvNet(input_dim={self.input_dim}, filters={conv.params['W'].shape}, "
                f"hidden={self.params['W2'].shape[1]}, output={self.params['W3'].shape[1]}, "
                f"dtype={self.dtype})")


_DEEP_DEFAULTS: tuple[dict[str, int], ...] = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},  # the book's pad 2: 14 -> 16
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


class DeepConvNet(_ConvNet):
    """The book's deep network for MNIST (§8.1), 99%+ accuracy::

        conv - relu - conv - relu - pool -
        conv - relu - conv - relu - pool -
        conv - relu - conv - relu - pool -
        affine - relu - dropout - affine - dropout - softmax

    3x3 convolutions with 16, 16, 32, 32, 64, 64 filters (pad 1, except pad 2 for the fourth, as
    in the book, which makes 28x28 inputs end at 64x4x4 before the affine layers), 2x2 max
    pooling, dropout ratio 0.5. He initialisation: each weight is ``N(0, 1) * sqrt(2 / n_in)``
    with ``n_in`` the inputs of one neuron (``C * 3 * 3`` for a convolution); biases zero.

    Parameters are ``W1, b1 ... W6, b6`` (convolutions), ``W7, b7`` and ``W8, b8`` (affine).
    ``rng`` seeds both the weights and the Dropout masks. Call :meth:`eval` before measuring
    accuracy: :meth:`accuracy` does so itself and restores the mode.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param_1: ConvParam = _DEEP_DEFAULTS[0],
        conv_param_2: ConvParam = _DEEP_DEFAULTS[1],
        conv_param_3: ConvParam = _DEEP_DEFAULTS[2],
        conv_param_4: ConvParam = _DEEP_DEFAULTS[3],
        conv_param_5: ConvParam = _DEEP_DEFAULTS[4],
        conv_param_6: ConvParam = _DEEP_DEFAULTS[5],
        hidden_size: int = 50,
        output_size: int = 10,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
        dropout_ratio: float = 0.5,
    ) -> None:
        who = "DeepConvNet"
        c, h, w = _input_dim(who, input_dim)
        gen, dt = _generator(rng), np.dtype(dtype)
        params = [conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6]
        layers: list[Layer] = []
        names: list[str] = []
        for k, p in enumerate(params, start=1):
            fn, fs, pad, stride = _conv_param(who, p)
            scale = np.sqrt(2.0 / (c * fs * fs))
            W = (scale * gen.standard_normal((fn, c, fs, fs))).astype(dt)
            layers += [Convolution(W, np.zeros(fn, dt), stride=stride, pad=pad), Relu()]
            names += [f"Conv{k}", f"Relu{k}"]
            h, w, c = conv_output_size(h, fs, stride, pad), conv_output_size(w, fs, stride, pad), fn
            if k % 2 == 0:
                layers.append(Pooling(2, 2, stride=2))
                names.append(f"Pool{k // 2}")
                h, w = conv_output_size(h, 2, 2), conv_output_size(w, 2, 2)
        flat = c * h * w
        for label, value in (("hidden_size", hidden_size), ("output_size", output_size)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{who}: {label} must be a positive integer, got {value!r}")
        W7 = (np.sqrt(2.0 / flat) * gen.standard_normal((flat, hidden_size))).astype(dt)
        W8 = (np.sqrt(2.0 / hidden_size) * gen.standard_normal((hidden_size, output_size))).astype(dt)
        layers += [
            Affine(W7, np.zeros(hidden_size, dt)),
            Relu(),
            Dropout(dropout_ratio, rng=gen),
            Affine(W8, np.zeros(output_size, dt)),
            Dropout(dropout_ratio, rng=gen),
        ]
        names += ["Affine1", f"Relu{len(params) + 1}", "Dropout1", "Affine2", "Dropout2"]
        super().__init__(layers, SoftmaxWithLoss(), names=names)
        self.input_dim = tuple(int(v) for v in input_dim)
        self._init_args = {
            "input_dim": list(self.input_dim), "hidden_size": int(hidden_size),
            "output_size": int(output_size), "dropout_ratio": float(dropout_ratio),
            **{f"conv_param_{k}": dict(p) for k, p in enumerate(params, start=1)}}


    def __repr__(self) -> str:
        filters = [layer.params["W"].shape[0] for layer in self.layers.values()
                   if isinstance(layer, Convolution)]
        return f"DeepConvNet(input_dim={self.input_dim}, filters={filters}, dtype={self.dtype})"
