"""The book's convolutional networks: SimpleConvNet (§7.5) and DeepConvNet (§8.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerwise.conv_utils import conv_output_size
from layerwise.errors import ConfigError, check_int, short_repr
from layerwise.initializers import check_init_std, get_initializer
from layerwise.layers import Affine, Convolution, Dropout, Layer, Pooling, Relu, SoftmaxWithLoss
from layerwise.layers.base import check_config, floating_dtype
from layerwise.layers.fused import ReluPool
from layerwise.networks.config import Shapes
from layerwise.networks.sequential import Sequential

__all__ = ["SimpleConvNet", "DeepConvNet"]

ConvParam = Mapping[str, int]


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _input_dim(who: str, input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(input_dim) if isinstance(input_dim, (Sequence, np.ndarray)) else ()
    if (isinstance(input_dim, str) or len(dims) != 3
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 1
                       for v in dims)):
        raise ConfigError(f"{who}: input_dim must be three positive integers (C, H, W), "
                          f"got {short_repr(input_dim)}")
    c, h, w = (int(v) for v in dims)
    return c, h, w


_CONV_KEYS = ("filter_num", "filter_size", "pad", "stride")


def _conv_param(who: str, p: ConvParam, arg: str = "conv_param") -> tuple[int, int, int, int]:
    if not isinstance(p, Mapping):
        raise ConfigError(f"{who}: {arg} must be a dict with {list(_CONV_KEYS)}, got {short_repr(p)}")
    missing = sorted(set(_CONV_KEYS) - set(p))
    unknown = sorted(str(k) for k in set(p) - set(_CONV_KEYS))
    if missing or unknown:
        what = f"lacks {missing}" if missing else f"has unknown keys {unknown}"
        raise ConfigError(f"{who}: {arg} {short_repr(dict(p))} {what}")
    return (check_int(p["filter_num"], who, f"{arg}['filter_num']"),
            check_int(p["filter_size"], who, f"{arg}['filter_size']"),
            check_int(p["pad"], who, f"{arg}['pad']", 0),
            check_int(p["stride"], who, f"{arg}['stride']"))


def _conv_out(h: int, w: int, fs: int, stride: int, pad: int) -> tuple[int, int]:
    """The output size of a ``fs x fs`` convolution of an ``h x w`` image (ShapeError if none)."""
    return conv_output_size(h, fs, stride, pad), conv_output_size(w, fs, stride, pad)


class _ConvNet(Sequential):
    """Shared by the book's conv nets: the architecture is the constructor's arguments.

    The layer list is the book's (``Relu1``, ``Pool1``), each ReLU with its own ``mask``.
    ``fused=True`` puts each ReLU and the max pooling after it in one visible
    :class:`~layerwise.layers.fused.ReluPool` layer (``net.layers`` lists ``"Relu1+Pool1"``;
    see :meth:`Sequential.fuse`), which pools first and so applies ReLU to a quarter of the
    values: the same scores and gradients, a faster step. The engine's trainer does that for
    its own run and says so (:mod:`layerwise.fast.training`).
    """

    _init_args: dict[str, Any]
    eval_batch_size = 100
    #: The entries of the config (the constructor's arguments) that get_config always writes.
    _config_keys: tuple[str, ...] = ()

    def _finish(self, fused: bool) -> None:
        if not isinstance(fused, bool):
            raise ConfigError(f"{type(self).__name__}: fused must be True or False, got {short_repr(fused)}")
        if fused:
            self.fuse()

    @property
    def fused(self) -> bool:
        """Whether ReLU and max pooling run as fused ``ReluPool`` layers (see :meth:`fuse`)."""
        return any(isinstance(layer, ReluPool) for layer in self.layers.values())

    def _config_args(self) -> dict[str, Any]:
        # fused=False, the default, is left out (a file that says False loads as before)
        return dict(self._init_args, **({"fused": True} if self.fused else {}))

    @classmethod
    def _config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The constructor's arguments in ``config`` (a ``get_config()`` output), checked."""
        args = check_config(config, cls.__name__, cls._config_keys, ["dtype", "fused"])
        args.pop("class", None)
        args.pop("dtype", None)
        return args

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Sequential:
        factory: Any = cls  # a subclass, whose constructor takes the book's arguments
        net: Sequential = factory(**cls._config(config), rng=0, dtype=config.get("dtype", "float32"))
        return net


class SimpleConvNet(_ConvNet):
    """``Conv1 - Relu1 - Pool1 - Affine1 - Relu2 - Affine2 - SoftmaxWithLoss`` (book §7.5),
    (``fused=True``: ``Conv1 - Relu1+Pool1 - Affine1 - ...``, see below).

    Parameters
    ----------
    input_dim : (C, H, W)
    conv_param : dict with ``filter_num``, ``filter_size``, ``pad``, ``stride``
    hidden_size, output_size : int
    weight_init_std : float or str
        Weights are ``weight_init_std * N(0, 1)``, biases zero, as in the book; a positive,
        finite number, or an initializer's name (``"he"``, see
        :func:`~layerwise.initializers.get_initializer`).
    rng : Generator, int or None
    dtype : float32 (the default), float64 or float16
    fused : bool
        False (the default): the book's list. True: ``Relu1`` and ``Pool1`` run as one visible
        ``Relu1+Pool1`` layer that pools first (the same values and gradients, a faster step).

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
        weight_init_std: float | str = 0.01,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
        fused: bool = False,
    ) -> None:
        who = "SimpleConvNet"
        if conv_param is None:
            conv_param = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
        shapes = self._shapes(input_dim, conv_param, hidden_size, output_size)
        fn, _, pad, stride = _conv_param(who, conv_param)
        std = check_init_std(weight_init_std, who, callables=False)
        init = get_initializer(std)
        gen, dt = _generator(rng), floating_dtype(dtype, who)

        def weight(key: str) -> np.ndarray[Any, Any]:
            return init(shapes[key], gen, dt)

        super().__init__(
            [
                Convolution(weight("W1"), np.zeros(shapes["b1"], dt), stride=stride, pad=pad),
                Relu(),
                Pooling(2, 2, stride=2),
                Affine(weight("W2"), np.zeros(shapes["b2"], dt)),
                Relu(),
                Affine(weight("W3"), np.zeros(shapes["b3"], dt)),
            ],
            SoftmaxWithLoss(),
            names=["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"],
        )
        self.input_dim = _input_dim(who, input_dim)
        self._init_args = {
            "input_dim": list(self.input_dim), "conv_param": dict(conv_param),
            "hidden_size": int(hidden_size), "output_size": int(output_size),
            "weight_init_std": std}
        self._finish(fused)

    _config_keys = ("input_dim", "conv_param", "hidden_size", "output_size", "weight_init_std")

    @staticmethod
    def _shapes(input_dim: Any, conv_param: Any, hidden_size: Any, output_size: Any) -> Shapes:
        """The parameters' shapes, checking the arguments (computed, not allocated)."""
        who = "SimpleConvNet"
        c, h, w = _input_dim(who, input_dim)
        fn, fs, pad, stride = _conv_param(who, conv_param)
        hidden, out = check_int(hidden_size, who, "hidden_size"), check_int(output_size, who, "output_size")
        oh, ow = _conv_out(h, w, fs, stride, pad)
        pool_h, pool_w = _conv_out(oh, ow, 2, 2, 0)
        return {"W1": (fn, c, fs, fs), "b1": (fn,), "W2": (fn * pool_h * pool_w, hidden), "b2": (hidden,),
                "W3": (hidden, out), "b3": (out,)}

    @classmethod
    def _config_shapes(cls, config: dict[str, Any]) -> Shapes:
        args = cls._config(config)
        return cls._shapes(args["input_dim"], args["conv_param"], args["hidden_size"], args["output_size"])

    def __repr__(self) -> str:
        conv = self.layers["Conv1"]
        return (f"SimpleConvNet(input_dim={self.input_dim}, filters={conv.params['W'].shape}, "
                f"hidden={self.params['W2'].shape[1]}, output={self.params['W3'].shape[1]}, "
                f"dtype={self.dtype}{_fused_note(self)})")


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
        fused: bool = False,
    ) -> None:
        who = "DeepConvNet"
        params = [conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6]
        shapes = self._shapes(input_dim, params, hidden_size, output_size)
        gen, dt = _generator(rng), floating_dtype(dtype, who)
        Dropout(dropout_ratio)  # checks the ratio before any weight is drawn
        layers: list[Layer] = []
        names: list[str] = []
        for k, p in enumerate(params, start=1):
            fn, c, fs, _ = shapes[f"W{k}"]
            _, _, pad, stride = _conv_param(who, p, f"conv_param_{k}")
            scale = np.sqrt(2.0 / (c * fs * fs))
            W = (scale * gen.standard_normal((fn, c, fs, fs))).astype(dt)
            layers += [Convolution(W, np.zeros(fn, dt), stride=stride, pad=pad), Relu()]
            names += [f"Conv{k}", f"Relu{k}"]
            if k % 2 == 0:
                layers.append(Pooling(2, 2, stride=2))
                names.append(f"Pool{k // 2}")
        (flat, hidden), (_, out) = shapes["W7"], shapes["W8"]
        W7 = (np.sqrt(2.0 / flat) * gen.standard_normal((flat, hidden))).astype(dt)
        W8 = (np.sqrt(2.0 / hidden) * gen.standard_normal((hidden, out))).astype(dt)
        layers += [
            Affine(W7, np.zeros(hidden, dt)),
            Relu(),
            Dropout(dropout_ratio, rng=gen),
            Affine(W8, np.zeros(out, dt)),
            Dropout(dropout_ratio, rng=gen),
        ]
        names += ["Affine1", f"Relu{len(params) + 1}", "Dropout1", "Affine2", "Dropout2"]
        super().__init__(layers, SoftmaxWithLoss(), names=names)
        self.input_dim = tuple(int(v) for v in input_dim)
        self._init_args = {
            "input_dim": list(self.input_dim), "hidden_size": int(hidden_size),
            "output_size": int(output_size), "dropout_ratio": float(dropout_ratio),
            **{f"conv_param_{k}": dict(p) for k, p in enumerate(params, start=1)}}
        self._finish(fused)

    _config_keys = ("input_dim", "hidden_size", "output_size", "dropout_ratio",
                    *(f"conv_param_{k}" for k in range(1, 7)))

    @staticmethod
    def _shapes(input_dim: Any, params: Sequence[Any], hidden_size: Any, output_size: Any) -> Shapes:
        """The parameters' shapes, checking the arguments (computed, not allocated)."""
        who = "DeepConvNet"
        c, h, w = _input_dim(who, input_dim)
        shapes: Shapes = {}
        for k, p in enumerate(params, start=1):
            fn, fs, pad, stride = _conv_param(who, p, f"conv_param_{k}")
            shapes[f"W{k}"], shapes[f"b{k}"] = (fn, c, fs, fs), (fn,)
            (h, w), c = _conv_out(h, w, fs, stride, pad), fn
            if k % 2 == 0:
                h, w = _conv_out(h, w, 2, 2, 0)
        hidden, out = check_int(hidden_size, who, "hidden_size"), check_int(output_size, who, "output_size")
        shapes["W7"], shapes["b7"] = (c * h * w, hidden), (hidden,)
        shapes["W8"], shapes["b8"] = (hidden, out), (out,)
        return shapes

    @classmethod
    def _config_shapes(cls, config: dict[str, Any]) -> Shapes:
        args = cls._config(config)
        params = [args[f"conv_param_{k}"] for k in range(1, 7)]
        return cls._shapes(args["input_dim"], params, args["hidden_size"], args["output_size"])


    def __repr__(self) -> str:
        filters = [layer.params["W"].shape[0] for layer in self.layers.values()
                   if isinstance(layer, Convolution)]
        return (f"DeepConvNet(input_dim={self.input_dim}, filters={filters}, dtype={self.dtype}"
                f"{_fused_note(self)})")


def _fused_note(net: Sequential) -> str:
    fused = [name for name in net.layers if "+" in name]
    return f", fused: {' '.join(fused)}" if fused else ""
