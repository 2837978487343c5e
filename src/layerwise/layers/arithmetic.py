"""The book's first layers: multiplication and addition nodes (book §5.4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerwise.layers.base import Layer

__all__ = ["MulLayer", "AddLayer"]


def _unbroadcast(grad: Any, like: Any) -> Any:
    """Sum ``grad`` down to the shape of ``like`` (undoing NumPy broadcasting).

    Python scalars stay Python scalars, so ``MulLayer`` on numbers behaves as in the book.
    """
    shape = np.shape(like)
    if np.shape(grad) == shape:
        return grad
    g = np.asarray(grad)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if not shape:
        return g.item() if isinstance(like, (int, float)) else g.reshape(())
    return g


class MulLayer(Layer):
    """Multiplication node ``out = x * y``.

    Backward swaps the inputs: ``dx = dout * y``, ``dy = dout * x`` (book §5.4.1). Works on
    Python numbers and on arrays (gradients of broadcast inputs are summed back to their
    shapes).
    """

    def __init__(self) -> None:
        super().__init__()
        self.x: Any = None
        self.y: Any = None

    def forward(self, x: Any, y: Any) -> Any:  # type: ignore[override]
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout: Any) -> tuple[Any, Any]:  # type: ignore[override]
        self._require(self.x)
        dx = dout * self.y
        dy = dout * self.x
        return _unbroadcast(dx, self.x), _unbroadcast(dy, self.y)


class AddLayer(Layer):
    """Addition node ``out = x + y``; backward passes ``dout`` to both inputs (book §5.4.2)."""

    def __init__(self) -> None:
        super().__init__()
        self.x: Any = None
        self.y: Any = None

    def forward(self, x: Any, y: Any) -> Any:  # type: ignore[override]
        self.x = x
        self.y = y
        return x + y

    def backward(self, dout: Any) -> tuple[Any, Any]:  # type: ignore[override]
        self._require(self.x)
        dx = dout * 1
        dy = dout * 1
        return _unbroadcast(dx, self.x), _unbroadcast(dy, self.y)
