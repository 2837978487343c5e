"""Activation layers: ReLU and Sigmoid (book §5.5)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from layerwise.functions import as_float_array, sigmoid
from layerwise.layers.base import Array, Layer

__all__ = ["Relu", "Sigmoid"]


class Relu(Layer):
    """``out = max(0, x)``; backward ``dx = dout`` where ``x > 0`` and 0 elsewhere (book §5.5.1).

    ``forward`` caches the book's ``mask``, True where ``x <= 0``. Unlike the book, ``backward``
    returns a new array and never writes into ``dout``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mask: Array | None = None  # x <= 0

    def forward(self, x: ArrayLike) -> Array:
        x = as_float_array(x)
        self.mask = x <= 0
        return np.maximum(x, x.dtype.type(0))

    def backward(self, dout: ArrayLike) -> Array:
        self._require(self.mask)
        assert self.mask is not None
        d = np.asarray(dout)
        d = self._dout(d, self.mask.shape, d.dtype if d.dtype.kind == "f" else np.dtype(np.float32))
        return np.multiply(d, ~self.mask)  # where x <= 0 the gradient stops (a new array)


class Sigmoid(Layer):
    """``y = 1 / (1 + exp(-x))``; backward ``dx = dout * (1 - y) * y`` from the cached ``y``
    (book §5.5.2). The forward pass is overflow-free for any ``x``."""

    def __init__(self) -> None:
        super().__init__()
        self.out: Array | None = None

    def forward(self, x: ArrayLike) -> Array:
        self.out = sigmoid(x)
        # a copy, so that a caller changing the result in place cannot change backward
        return self.out.copy()

    def backward(self, dout: ArrayLike) -> Array:
        self._require(self.out)
        assert self.out is not None
        y = self.out
        d = self._dout(dout, y.shape, y.dtype)
        return d * (1.0 - y) * y
