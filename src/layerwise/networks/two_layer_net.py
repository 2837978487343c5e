"""The book's two-layer network built from layers (book §5.7.2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerwise.errors import check_int
from layerwise.initializers import check_init_std, get_initializer
from layerwise.layers import Affine, Relu, SoftmaxWithLoss
from layerwise.layers.base import check_config, floating_dtype
from layerwise.networks.config import Shapes
from layerwise.networks.sequential import Sequential

__all__ = ["TwoLayerNet"]

_KEYS = ["input_size", "hidden_size", "output_size"]


class TwoLayerNet(Sequential):
    """``Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss``, parameters ``W1, b1, W2, b2``.

    Weights are drawn from ``weight_init_std * N(0, 1)`` and biases start at zero, as in the
    book, from the explicit generator ``rng`` (``np.random.default_rng(seed)`` when given an
    int or None). ``weight_init_std`` may also name an initializer (``"he"``, ``"xavier"``:
    see :func:`~layerwise.initializers.get_initializer`); a number must be positive and finite
    (zero weights would make every hidden unit learn the same thing, book §6.2.1). ``dtype``
    is float32 (the default), float64 or float16.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float | str = 0.01,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        who = "TwoLayerNet"
        i, h, o = _sizes(who, input_size, hidden_size, output_size)
        dt = floating_dtype(dtype, who)
        std = check_init_std(weight_init_std, who, callables=False)
        init = get_initializer(std)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        W1 = init((i, h), gen, dt)
        W2 = init((h, o), gen, dt)
        super().__init__(
            [
                Affine(W1, np.zeros(h, dtype=dt)),
                Relu(),
                Affine(W2, np.zeros(o, dtype=dt)),
            ],
            SoftmaxWithLoss(),
        )
        self.sizes = (i, h, o)
        self.weight_init_std = std

    def _config_args(self) -> dict[str, Any]:
        i, h, o = self.sizes
        return {"input_size": i, "hidden_size": h, "output_size": o,
                "weight_init_std": self.weight_init_std}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> TwoLayerNet:
        args = check_config(config, cls.__name__, _KEYS, ["weight_init_std", "dtype"])
        return cls(args["input_size"], args["hidden_size"], args["output_size"],
                   weight_init_std=args.get("weight_init_std", 0.01), rng=0,
                   dtype=args.get("dtype", "float32"))

    @classmethod
    def _config_shapes(cls, config: dict[str, Any]) -> Shapes:
        args = check_config(config, cls.__name__, _KEYS, ["weight_init_std", "dtype"])
        i, h, o = _sizes(cls.__name__, *(args[k] for k in _KEYS))
        return {"W1": (i, h), "b1": (h,), "W2": (h, o), "b2": (o,)}

    def __repr__(self) -> str:
        i, h, o = self.sizes
        return f"TwoLayerNet({i}-{h}-{o}, dtype={self.dtype})"


def _sizes(who: str, input_size: Any, hidden_size: Any, output_size: Any) -> tuple[int, int, int]:
    return (check_int(input_size, who, "input_size"), check_int(hidden_size, who, "hidden_size"),
            check_int(output_size, who, "output_size"))
