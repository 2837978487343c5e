"""The book's fully connected networks of any depth (book §6.2–6.4, ``common/multi_layer_net*.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from layerwise.initializers import get_initializer
from layerwise.layers import Affine, BatchNormalization, Dropout, Layer, Relu, Sigmoid, SoftmaxWithLoss
from layerwise.networks.sequential import Sequential

__all__ = ["MultiLayerNet", "MultiLayerNetExtend"]

_ACTIVATIONS: dict[str, Callable[[], Layer]] = {"relu": Relu, "sigmoid": Sigmoid}


def _sizes(input_size: int, hidden_size_list: Sequence[int], output_size: int, who: str) -> list[int]:
    sizes = [input_size, *hidden_size_list, output_size]
    for value in sizes:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{who}: layer sizes must be positive integers, got {sizes}")
    return [int(v) for v in sizes]


def _activation(activation: str, who: str) -> Callable[[], Layer]:
    try:
        return _ACTIVATIONS[activation.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"{who}: activation must be 'relu' or 'sigmoid', got {activation!r}") from None


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
    dtype : float32 by default
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
        self._build(sizes, make_activation, weight_init_std, weight_decay_lambda, rng, dtype)
        self.input_size, self.output_size = sizes[0], sizes[-1]
        self.hidden_size_list = sizes[1:-1]
        self.hidden_layer_num = len(self.hidden_size_list)
        self.activation = activation.lower()

    def _config_args(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size_list": list(self.hidden_size_list),
                "output_size": self.output_size, "activation": self.activation,
                "weight_decay_lambda": self.weight_decay_lambda}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Sequential:
        args = {k: v for k, v in config.items() if k not in ("class", "dtype")}
        return cls(**args, rng=0, dtype=config.get("dtype", "float32"))

    def _hidden_block(self, idx: int, width: int, make_activation: Callable[[], Layer],
                      dtype: np.dtype[Any], gen: np.random.Generator) -> list[tuple[str, Layer]]:
        """The layers that follow ``Affine{idx}`` in hidden block ``idx``."""
        return [(f"Activation_function{idx}", make_activation())]

    def _build(self, sizes: list[int], make_activation: Callable[[], Layer],
               weight_init_std: str | float | Callable[..., Any], weight_decay_lambda: float,
               rng: np.random.Generator | int | None, dtype: Any) -> None:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        dt = np.dtype(dtype)
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
        self.use_dropout = bool(use_dropout)
        self.dropout_ration = float(dropout_ration)
        self.use_batchnorm = bool(use_batchnorm)
        if self.use_dropout:
            Dropout(self.dropout_ration)  # validate before drawing any weights
        super().__init__(input_size, hidden_size_list, output_size, activation=activation,
                         weight_init_std=weight_init_std, weight_decay_lambda=weight_decay_lambda,
                         rng=rng, dtype=dtype)

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
