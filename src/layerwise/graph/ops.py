"""Primitive operations of a computational graph, each with its own forward and backward.

Every op is stateless: the graph keeps the values, and ``backward`` receives the op's inputs
``xs``, its output ``y`` and the upstream gradient ``dout``, and returns one gradient per input
(book section 5.3-5.6: each node only needs its local derivative).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from layerwise import functions

__all__ = [
    "Array",
    "Op",
    "Identity",
    "Mul",
    "Add",
    "Exp",
    "Neg",
    "Reciprocal",
    "MatMul",
    "SumBatch",
    "Repeat",
    "Sigmoid",
    "Softmax",
    "CrossEntropy",
]

# Figures show exact textbook numbers (2.2, 110, 0.2350037...), so values are float64 on purpose.
Array = NDArray[np.float64]


def _sum_to(grad: Array, shape: tuple[int, ...]) -> Array:
    """Undo NumPy broadcasting: sum ``grad`` down to ``shape`` (the gradient of a broadcast)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    out = grad.sum(axis=tuple(range(lead))) if lead > 0 else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and out.shape[i] != 1)
    if axes:
        out = out.sum(axis=axes, keepdims=True)
    return np.asarray(out, dtype=np.float64).reshape(shape)


class Op:
    """One node kind: ``forward(*xs) -> y`` and ``backward(dout, xs, y) -> dxs``.

    ``name`` is the machine name (``"mul"``), ``label`` the text drawn in the node (``"×"``),
    ``shape`` the Graphviz node shape.
    """

    name: ClassVar[str] = "op"
    label: ClassVar[str] = "?"
    shape: ClassVar[str] = "circle"
    arity: ClassVar[int] = 1

    def forward(self, *xs: Array) -> Array:
        raise NotImplementedError

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Op):
    """Passes its input through; used for the graph's output node. Backward: dx = dout."""

    name = "output"
    label = "output"
    shape = "plaintext"

    def forward(self, *xs: Array) -> Array:
        return xs[0]

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (dout,)


class Mul(Op):
    """z = x·y (elementwise). Backward: dx = dout·y, dy = dout·x (the inputs swap)."""

    name = "mul"
    label = "×"
    arity = 2

    def forward(self, *xs: Array) -> Array:
        return xs[0] * xs[1]

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        x0, x1 = xs
        return _sum_to(dout * x1, x0.shape), _sum_to(dout * x0, x1.shape)


class Add(Op):
    """z = x + y. Backward: dx = dout, dy = dout (the gradient passes through unchanged)."""

    name = "add"
    label = "+"
    arity = 2

    def forward(self, *xs: Array) -> Array:
        return xs[0] + xs[1]

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return _sum_to(dout, xs[0].shape), _sum_to(dout, xs[1].shape)


class Exp(Op):
    """y = exp(x). Backward: dx = dout·exp(x) = dout·y."""

    name = "exp"
    label = "exp"

    def forward(self, *xs: Array) -> Array:
        return np.exp(xs[0])

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (dout * y,)


class Neg(Op):
    """y = −x. Backward: dx = −dout."""

    name = "neg"
    label = "−"

    def forward(self, *xs: Array) -> Array:
        return -xs[0]

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (-dout,)


class Reciprocal(Op):
    """y = 1/x (the book's "/" node). Backward: dx = −dout/x² = −dout·y²."""

    name = "reciprocal"
    label = "/"

    def forward(self, *xs: Array) -> Array:
        return 1.0 / xs[0]

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (-dout * y * y,)


class MatMul(Op):
    """Y = X·W, X of shape (N, D), W of shape (D, M). Backward: dX = dout·Wᵀ, dW = Xᵀ·dout."""

    name = "matmul"
    label = "dot"
    arity = 2

    def forward(self, *xs: Array) -> Array:
        return np.asarray(xs[0] @ xs[1], dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        x, w = xs
        return np.asarray(dout @ w.T, dtype=np.float64), np.asarray(x.T @ dout, dtype=np.float64)


class SumBatch(Op):
    """y = Σₙ x[n], summing over the batch axis 0. Backward: dx[n] = dout for every n."""

    name = "sum"
    label = "sum"

    def forward(self, *xs: Array) -> Array:
        return np.asarray(xs[0].sum(axis=0), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (np.broadcast_to(dout, xs[0].shape).copy(),)


class Repeat(Op):
    """Y[n] = x for n < N: copies x of shape (D,) to (N, D). Backward: dx = Σₙ dout[n].

    This is how the bias is broadcast over a batch in Affine (book section 5.6.2).
    """

    name = "repeat"
    label = "repeat"

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"Repeat needs n >= 1, got {n}")
        self.n = n

    def forward(self, *xs: Array) -> Array:
        return np.repeat(xs[0][np.newaxis, ...], self.n, axis=0)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (np.asarray(dout.sum(axis=0), dtype=np.float64),)

    def __repr__(self) -> str:
        return f"Repeat(n={self.n})"


class Sigmoid(Op):
    """y = 1/(1 + exp(−x)) as one node. Backward: dx = dout·y·(1 − y) (book section 5.5.2)."""

    name = "sigmoid"
    label = "sigmoid"
    shape = "box"

    def forward(self, *xs: Array) -> Array:
        # the library's own stable sigmoid, in float64
        return np.asarray(functions.sigmoid(np.asarray(xs[0], dtype=np.float64)), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (dout * y * (1.0 - y),)


class Softmax(Op):
    """y = softmax(a) over the last axis. Backward: da = y·(dout − Σₖ dout_k·y_k)."""

    name = "softmax"
    label = "Softmax"
    shape = "box"

    def forward(self, *xs: Array) -> Array:
        return np.asarray(functions.softmax(np.asarray(xs[0], dtype=np.float64), axis=-1), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (y * (dout - (dout * y).sum(axis=-1, keepdims=True)),)


class CrossEntropy(Op):
    """L = −Σ t·log(y + eps) / N for y, t of shape (C,) or (N, C), t one-hot (or probabilities).

    Backward: dy = −dout·t/(y + eps)/N, dt = −dout·log(y + eps)/N. Terms with t = 0 count as 0
    (no 0·log 0). The default ``eps = 0`` is exact, like the fused ``SoftmaxWithLoss``, so
    Softmax → Cross Entropy Error backpropagates exactly y − t; ``eps = 1e-7`` reproduces the
    book's ``cross_entropy_error`` (``layerwise.functions``) instead.
    """

    name = "cross_entropy"
    label = "Cross Entropy Error"
    shape = "box"
    arity = 2

    def __init__(self, eps: float = 0.0) -> None:
        self.eps = eps

    @staticmethod
    def _batch(y: Array) -> int:
        return 1 if y.ndim == 1 else int(y.shape[0])

    def forward(self, *xs: Array) -> Array:
        y, t = xs
        logs = np.log(y + self.eps, out=np.zeros(np.broadcast(y, t).shape), where=t != 0)
        return np.asarray(-np.sum(t * logs) / self._batch(y), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        yy, t = xs
        n = self._batch(yy)
        ratio = np.divide(t, yy + self.eps, out=np.zeros(np.broadcast(yy, t).shape), where=t != 0)
        with np.errstate(divide="ignore"):
            dt = -dout * np.log(yy + self.eps) / n
        return -dout * ratio / n, dt

    def __repr__(self) -> str:
        return f"CrossEntropy(eps={self.eps})"
