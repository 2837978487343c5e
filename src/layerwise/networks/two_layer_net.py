"""The book's two-layer network built from layers (book §5.7.2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerwise.layers import Affine, Relu, SoftmaxWithLoss
from layerwise.networks.sequential import Sequential

__all__ = ["TwoLayerNet"]


class TwoLayerNet(Sequential):
    """``Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss``, parameters ``W1, b1, W2, b2``.

    Weights are drawn from ``weight_init_std * N(0, 1)`` and biases start at zero, as in the
    book, from the explicit generator ``rng`` (``np.random.default_rng(seed)`` when given an
    int or None).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        for label, value in (("input_size", input_size), ("hidden_size", hidden_size),
                             ("output_size", output_size)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"TwoLayerNet: {label} must be a positive integer, got {value!r}")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        dt = np.dtype(dtype)
        W1 = (weight_init_std * gen.standard_normal((input_size, hidden_size))).astype(dt)
        W2 = (weight_init_std * gen.standard_normal((hidden_size, output_size))).astype(dt)
        super().__init__(
            [
                Affine(W1, np.zeros(hidden_size, dtype=dt)),
                Relu(),
                Affine(W2, np.zeros(output_size, dtype=dt)),
            ],
            SoftmaxWithLoss(),
        )
        self.sizes = (input_size, hidden_size, output_size)
        self.weight_init_std = weight_init_std

    def _config_args(self) -> dict[str, Any]:
        i, h, o = self.sizes
        return {"input_size": i, "hidden_size": h, "output_size": o,
                "weight_init_std": self.weight_init_std}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> TwoLayerNet:
        return cls(config["input_size"], config["hidden_size"], config["output_size"],
                   weight_init_std=config.get("weight_init_std", 0.01), rng=0,
                   dtype=config.get("dtype", "float32"))

    def __repr__(self) -> str:
        i, h, o = self.sizes
        return f"TwoLayerNet({i}-{h}-{o}, dtype={self.dtype})"
