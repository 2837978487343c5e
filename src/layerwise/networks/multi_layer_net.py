"""The book's fully connected networks of any depth (book §6.2–6.4, ``common/multi_layer_net*.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from layerwise.errors import ConfigError, short_repr
from layerwise.initializers import check_init_std, get_initializer
from layerwise.layers import Affine, BatchNormalization, Dropout, Layer, Relu, Sigmoid, SoftmaxWithLoss
from layerwise.layers.base import check_config, floating_dtype, real_number
from layerwise.networks.config import Shapes
from layerwise.networks.sequential import Sequential

__all__ = ["MultiLayerNet", "MultiLayerNetExtend"]

_ACTIVATIONS: dict[str, Callable[[], Layer]] = {"relu": Relu, "sigmoid": Sigmoid}


def _sizes(input_size: int, hidden_size_list: Sequence[int], output_size: int, who: str) -> list[int]:
    if isinstance(hidden_size_list, (str, bytes)) or not isinstance(hidden_size_list, (Sequence, np.ndarray)):
        raise ConfigError(f"{who}: hidden_size_list must be a list of positive integers, "
                          f"got {short_repr(hidden_size_list)}")
    sizes = [input_size, *hidden_size_list, output_size]
    for value in sizes:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{who}: layer sizes must be positive integers, got {short_repr(sizes)}")
    return [int(v) for v in sizes]


def _activation(activation: str, who: str) -> Callable[[], Layer]:
    make = _ACTIVATIONS.get(activation.lower()) if isinstance(activation, str) else None
    if make is None:
        raise ConfigError(f"{who}: activation must be 'relu' or 'sigmoid', got {short_repr(activation)}")
    return make


def _flag(value: Any, who: str, arg: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{who}: {arg} must be True or False, got {short_repr(value)}")
    return bool(value)


#: The entries of a MultiLayerNet config (``get_config``), and those MultiLayerNetExtend adds.
_KEYS = ["input_size", "hidden_size_list", "output_size"]
_OPTIONAL = ["activation", "weight_decay_lambda", "dtype"]
_EXTEND_OPTIONAL = ["use_dropout", "dropout_ration", "use_batchnorm"]


class MultiLayerNet(Sequential):
    """``(Affine -> activation) x len(hidden_size_list) -> Affine -> SoftmaxWithLoss``.

    Layers are named as in the book (``Affine1``, ``Activation_function1``, ...), parameters
    ``W1, b1, W2, b2, ...``.

    Parameters
    ----------
    input_size, output_size : int
    hidden_size_list : sequence of int
        The width of each hidden layer, e.g. ``[100, 100, 100]``.
    activation : {"relu", "sigmoid"}
    weight_init_std : str, float or initializer
        ``"relu"`` / ``"he"`` (std ``sqrt(2/n_in)``), ``"sigmoid"`` / ``"xavier"``
        (``sqrt(1/n_in)``), a number (fixed std), or anything
        :func:`~layerwise.initializers.get_initializer` accepts. Biases start at zero.
    weight_decay_lambda : float
        L2 weight decay on the weights (book §6.4.2): ``loss`` adds
        ``0.5 * lambda * sum(W**2)`` and ``gradient`` adds ``lambda * W`` to each ``dW``.
    rng : numpy.random.Generator, int or None
        Draws the initial weights (an int or None seeds ``np.random.default_rng``).
    dtype : float32 (the default), float64 or float16
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float | Callable[..., Any] = "relu",
        weight_decay_lambda: float = 0.0,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        who = type(self).__name__
        sizes = _sizes(input_size, hidden_size_list, output_size, who)
        make_activation = _activation(activation, who)
        init = check_init_std(weight_init_std, who)
        self._build(sizes, make_activation, init, weight_decay_lambda, rng, floating_dtype(dtype, who))
        self.input_size, self.output_size = sizes[0], sizes[-1]
        self.hidden_size_list = sizes[1:-1]
        self.hidden_layer_num = len(self.hidden_size_list)
        self.activation = activation.lower()

    def _config_args(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size_list": list(self.hidden_size_list),
                "output_size": self.output_size, "activation": self.activation,
                "weight_decay_lambda": self.weight_decay_lambda}

    #: The optional entries of this class's config, beyond those of MultiLayerNet.
    _extra_keys: tuple[str, ...] = ()

    @classmethod
    def _config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The constructor's arguments in ``config`` (a ``get_config()`` output), checked."""
        args = check_config(config, cls.__name__, _KEYS, [*_OPTIONAL, *cls._extra_keys])
        args.pop("class", None)
        args.pop("dtype", None)
        return args

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Sequential:
        return cls(**cls._config(config), rng=0, dtype=config.get("dtype", "float32"))

    @classmethod
    def _config_shapes(cls, config: dict[str, Any]) -> Shapes:
        args = cls._config(config)
        sizes = _sizes(args["input_size"], args["hidden_size_list"], args["output_size"], cls.__name__)
        batchnorm = _flag(args.get("use_batchnorm", False), cls.__name__, "use_batchnorm")
        shapes: Shapes = {}
        for idx, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            shapes[f"W{idx}"], shapes[f"b{idx}"] = (n_in, n_out), (n_out,)
            if batchnorm and idx < len(sizes) - 1:
                shapes[f"gamma{idx}"] = shapes[f"beta{idx}"] = (n_out,)
        if batchnorm:  # buffers come after every parameter, as in state_dict()
            for idx, n_out in enumerate(sizes[1:-1], start=1):
                shapes[f"running_mean{idx}"] = shapes[f"running_var{idx}"] = (n_out,)
        return shapes

    def _hidden_block(self, idx: int, width: int, make_activation: Callable[[], Layer],
                      dtype: np.dtype[Any], gen: np.random.Generator) -> list[tuple[str, Layer]]:
        """The layers that follow ``Affine{idx}`` in hidden block ``idx``."""
        return [(f"Activation_function{idx}", make_activation())]

    def _build(self, sizes: list[int], make_activation: Callable[[], Layer],
               weight_init_std: str | float | Callable[..., Any], weight_decay_lambda: float,
               rng: np.random.Generator | int | None, dt: np.dtype[Any]) -> None:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        init = get_initializer(weight_init_std)
        weights = [init((n_in, n_out), gen, dt) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
        named: list[tuple[str, Layer]] = []
        for idx, W in enumerate(weights, start=1):
            named.append((f"Affine{idx}", Affine(W, np.zeros(W.shape[1], dtype=dt))))
            if idx < len(weights):
                named.extend(self._hidden_block(idx, W.shape[1], make_activation, dt, gen))
        super().__init__(
            [layer for _, layer in named],
            SoftmaxWithLoss(),
            names=[name for name, _ in named],
            weight_decay_lambda=weight_decay_lambda,
        )

    def _describe(self) -> list[str]:
        return [self.activation]

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in [self.input_size, *self.hidden_size_list, self.output_size])
        extra = [*self._describe()]
        if self.weight_decay_lambda:
            extra.append(f"weight_decay_lambda={self.weight_decay_lambda:g}")
        return f"{type(self).__name__}({sizes}, {', '.join(extra)}, dtype={self.dtype})"


class MultiLayerNetExtend(MultiLayerNet):
    """:class:`MultiLayerNet` with optional BatchNormalization and Dropout in each hidden block.

    Each hidden block is ``Affine{i} -> BatchNorm{i} -> Activation_function{i} -> Dropout{i}``
    (BatchNorm if ``use_batchnorm``, Dropout if ``use_dropout``), as the book's
    ``MultiLayerNetExtend``; parameters are ``W1, b1, gamma1, beta1, W2, ...`` and the
    BatchNorm running statistics are the buffers ``running_mean1, running_var1, ...``.

    The book's ``train_flg`` argument is the network's mode here: call :meth:`train` before
    computing gradients and :meth:`eval` for inference (:meth:`accuracy` always evaluates in
    inference mode). Dropout masks come from ``rng`` too, so a seed fixes the whole run.

    Parameters
    ----------
    use_dropout : bool
    dropout_ration : float
        The dropout ratio (the book's spelling).
    use_batchnorm : bool
    Others as :class:`MultiLayerNet`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Sequence[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float | Callable[..., Any] = "relu",
        weight_decay_lambda: float = 0.0,
        use_dropout: bool = False,
        dropout_ration: float = 0.5,
        use_batchnorm: bool = False,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        who = type(self).__name__
        self.use_dropout = _flag(use_dropout, who, "use_dropout")
        self.use_batchnorm = _flag(use_batchnorm, who, "use_batchnorm")
        self.dropout_ration = real_number(dropout_ration, who, "dropout_ration")
        if self.use_dropout:
            Dropout(self.dropout_ration)  # validate before drawing any weights
        super().__init__(input_size, hidden_size_list, output_size, activation=activation,
                         weight_init_std=weight_init_std, weight_decay_lambda=weight_decay_lambda,
                         rng=rng, dtype=dtype)

    _extra_keys = tuple(_EXTEND_OPTIONAL)

    def _hidden_block(self, idx: int, width: int, make_activation: Callable[[], Layer],
                      dtype: np.dtype[Any], gen: np.random.Generator) -> list[tuple[str, Layer]]:
        block: list[tuple[str, Layer]] = []
        if self.use_batchnorm:
            block.append((f"BatchNorm{idx}",
                          BatchNormalization(np.ones(width, dtype=dtype), np.zeros(width, dtype=dtype))))
        block.append((f"Activation_function{idx}", make_activation()))
        if self.use_dropout:
            block.append((f"Dropout{idx}", Dropout(self.dropout_ration, rng=gen)))
        return block

    def _config_args(self) -> dict[str, Any]:
        return {**super()._config_args(), "use_dropout": self.use_dropout,
                "dropout_ration": self.dropout_ration, "use_batchnorm": self.use_batchnorm}

    def _describe(self) -> list[str]:
        extra = [self.activation]
        if self.use_batchnorm:
            extra.append("batchnorm")
        if self.use_dropout:
            extra.append(f"dropout={self.dropout_ration:g}")
        return extra
