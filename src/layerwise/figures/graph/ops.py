"""Primitive operations of a computational graph, each with its own forward and backward.

Every op is stateless: the graph keeps the values, and ``backward`` receives the op's inputs
``xs``, its output ``y`` and the upstream gradient ``dout``, and returns one gradient per input
(book section 5.3-5.6: each node only needs its local derivative).

The ops are as stable as the library's layers: no NaN from finite inputs. Where float64 cannot
hold a value (``exp(1000)``), the node shows what float64 gives (``inf``) and the gradients
through it are still the exact products, never ``0 · inf = nan``. Softmax followed by Cross
Entropy Error is computed together from the scores (:meth:`Op.fused`), as
:class:`~layerwise.layers.SoftmaxWithLoss` does, so the loss and ``y − t`` stay exact when a
probability underflows to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from layerwise import functions
from layerwise.errors import ConfigError

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
    "Relu",
    "Softmax",
    "SoftmaxWithLossOfOutputs",
    "CrossEntropy",
    "SoftmaxCrossEntropy",
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

    def fused(self, producer: Op) -> Op | None:
        """The op that computes ``self(producer(*p), *rest)`` in one step from ``(*p, *rest)``.

        ``None`` (the default) when there is none. The graph uses it where this op's first
        input is ``producer``'s output and composing the two local rules would lose precision:
        Cross Entropy Error after Softmax (:class:`SoftmaxCrossEntropy`). The nodes and edges
        are drawn as before; the node's value and the gradients into ``producer``'s inputs come
        from the fused op.
        """
        return None

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
    """y = exp(x). Backward: dx = dout·exp(x) = dout·y.

    Beyond x ≈ 709.78, exp(x) is more than float64 can hold and y is ``inf``; it is still a
    finite number, so dx is the true product, computed as ``sign(dout)·exp(log|dout| + x)``:
    0 for ``dout = 0`` (the sigmoid figure at x = −1000), not ``0 · inf = nan``.
    """

    name = "exp"
    label = "exp"

    def forward(self, *xs: Array) -> Array:
        with np.errstate(over="ignore"):  # inf is what float64 can say of exp(1000)
            return np.exp(xs[0])

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        overflowed = np.isinf(y)
        if not np.any(overflowed):
            return (dout * y,)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            exact = np.sign(dout) * np.exp(np.log(np.abs(dout)) + xs[0])
            return (np.where(overflowed, exact, dout * y),)


class Neg(Op):
    """y = −x. Backward: dx = −dout."""

    name = "neg"
    label = "−"

    def forward(self, *xs: Array) -> Array:
        return -xs[0]

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (-dout,)


class Reciprocal(Op):
    """y = 1/x (the book's "/" node). Backward: dx = −dout/x² = −dout·y².

    Computed as ``−(dout/x)/x``, which is 0 for ``dout = 0`` even where y overflowed. x = 0 is
    refused with :class:`~layerwise.errors.ConfigError`: 1/0 has no value.
    """

    name = "reciprocal"
    label = "/"

    def forward(self, *xs: Array) -> Array:
        x = xs[0]
        if np.any(x == 0):
            where = np.argwhere(x == 0)[0]
            at = f" at index {tuple(int(i) for i in where)}" if x.ndim else ""
            raise ConfigError(f"reciprocal: expected a non-zero input, got 0{at}")
        with np.errstate(over="ignore"):  # 1/5e-324 is more than float64 can hold: inf
            return 1.0 / x

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        with np.errstate(over="ignore"):
            return (-(dout / xs[0]) / xs[0],)


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
            raise ConfigError(f"Repeat needs n >= 1, got {n}")
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


class Relu(Op):
    """y = max(x, 0), as the ReLU layer (book section 5.5.1): forward passes x where x > 0;
    backward passes dout where x > 0 and sends 0 elsewhere (the layer's ``mask``)."""

    name = "relu"
    label = "relu"
    shape = "box"

    def forward(self, *xs: Array) -> Array:
        x = np.asarray(xs[0], dtype=np.float64)
        return np.where(x > 0, x, 0.0)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (np.where(np.asarray(xs[0]) > 0, dout, 0.0),)


class SoftmaxWithLossOfOutputs(Op):
    """The Softmax-with-Loss layer drawn from its softmax outputs y rather than its scores a.

    Forward: L = −Σ t·log y / N (a term with t = 0 counts 0, so y may hold zeros there).
    Backward: what the layer sends back to its scores, dout·(y·Σt − t)/N, which is
    dout·(y − t)/N for one-hot t (book section 5.6.3). That is the gradient at a, not at y:
    the figure's edge says so.
    """

    name = "softmax_with_loss_of_outputs"
    label = "Softmax-with-Loss"
    shape = "box"
    arity = 2

    def forward(self, *xs: Array) -> Array:
        y, t = xs
        with np.errstate(divide="ignore"):
            logs = np.log(np.asarray(y, dtype=np.float64))
        return np.asarray(-_weighted_sum(t, logs) / _batch(y), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y_out: Array) -> tuple[Array, ...]:
        y, t = xs
        total = np.sum(np.broadcast_to(t, y.shape), axis=-1, keepdims=True)
        return (np.asarray(dout * (y * total - t) / _batch(y), dtype=np.float64),
                np.zeros_like(np.asarray(t, dtype=np.float64)))


class Softmax(Op):
    """y = softmax(a) over the last axis. Backward: da = y·(dout − Σₖ dout_k·y_k)."""

    name = "softmax"
    label = "Softmax"
    shape = "box"

    def forward(self, *xs: Array) -> Array:
        return _softmax(xs[0])

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        return (y * (dout - (dout * y).sum(axis=-1, keepdims=True)),)


def _softmax(a: Array) -> Array:
    # the library's softmax (minus the maximum first); a spread beyond float64 (1e308 and
    # -1e308) gives -inf after the shift, whose exp is the right 0: no warning for it
    with np.errstate(over="ignore"):
        return np.asarray(functions.softmax(np.asarray(a, dtype=np.float64), axis=-1), dtype=np.float64)


def _log_softmax(a: Array) -> Array:
    with np.errstate(over="ignore"):
        return np.asarray(functions.log_softmax(np.asarray(a, dtype=np.float64), axis=-1), dtype=np.float64)


def _batch(y: Array) -> int:
    return 1 if y.ndim <= 1 else int(y.shape[0])


def _weighted_sum(t: Array, logs: Array) -> Array:
    """Σ t·logs over every entry, with the terms where t = 0 counted as 0 (no 0·log 0 = nan)."""
    shape = np.broadcast(logs, t).shape
    terms = np.multiply(t, logs, out=np.zeros(shape), where=np.broadcast_to(t != 0, shape))
    return np.asarray(np.sum(terms), dtype=np.float64)


class CrossEntropy(Op):
    """L = −Σ t·log(y + eps) / N for y, t of shape (C,) or (N, C), t one-hot (or probabilities).

    Backward: dy = −dout·t/(y + eps)/N, dt = −dout·log(y + eps)/N. Terms with t = 0 count as 0
    (no 0·log 0). The default ``eps = 0`` is exact, like the fused ``SoftmaxWithLoss``: a
    probability 0 where t > 0 gives L = inf and dy = −inf, which is what they are. After a
    Softmax node the graph computes L and the gradient at the scores with
    :class:`SoftmaxCrossEntropy` instead (see :meth:`fused`), so Softmax → Cross Entropy Error
    backpropagates exactly y − t; the edge between them still shows −t/y. ``eps = 1e-7``
    reproduces the book's ``cross_entropy_error`` (``layerwise.functions``), never fused.
    """

    name = "cross_entropy"
    label = "Cross Entropy Error"
    shape = "box"
    arity = 2

    def __init__(self, eps: float = 0.0) -> None:
        self.eps = eps

    def forward(self, *xs: Array) -> Array:
        y, t = xs
        shape = np.broadcast(y, t).shape
        with np.errstate(divide="ignore"):  # log 0 = −inf: a probability 0 for the label
            logs = np.log(
                np.broadcast_to(y + self.eps, shape),
                out=np.zeros(shape),
                where=np.broadcast_to(t != 0, shape),
            )
        return np.asarray(-_weighted_sum(t, logs) / _batch(y), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        yy, t = xs
        n = _batch(yy)
        shape = np.broadcast(yy, t).shape
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # t/0 = inf: y = 0
            ratio = np.divide(t, yy + self.eps, out=np.zeros(shape), where=np.broadcast_to(t != 0, shape))
            dy = -dout * ratio / n
            dt = -dout * np.log(yy + self.eps) / n
        return dy, dt

    def fused(self, producer: Op) -> Op | None:
        """Cross Entropy Error of a Softmax (with ``eps = 0``) is :class:`SoftmaxCrossEntropy`."""
        if isinstance(producer, Softmax) and self.eps == 0:
            return SoftmaxCrossEntropy()
        return None

    def __repr__(self) -> str:
        return f"CrossEntropy(eps={self.eps})"


class SoftmaxCrossEntropy(Op):
    """L = −Σ t·log softmax(a) / N from the scores a, the Softmax-with-Loss layer's formula.

    ``log softmax(a) = a − max − log Σ exp(a − max)``, so for one-hot t, L = logsumexp(a) − a_t:
    finite for any finite scores, 1000 for a = (1000, 0, 0), t = (0, 1, 0), where y = softmax(a)
    has y₁ = e^−1000, which float64 rounds to 0. Backward (book section 5.6.3):
    da = dout·(y·Σt − t)/N, which is dout·(y − t)/N for t summing to 1; dt = −dout·log y/N.
    The graph uses it for a Cross Entropy Error node fed by a Softmax node (:meth:`Op.fused`).
    """

    name = "softmax_cross_entropy"
    label = "Softmax-with-Loss"
    shape = "box"
    arity = 2

    def forward(self, *xs: Array) -> Array:
        a, t = xs
        return np.asarray(-_weighted_sum(t, _log_softmax(a)) / _batch(a), dtype=np.float64)

    def backward(self, dout: Array, xs: Sequence[Array], y: Array) -> tuple[Array, ...]:
        a, t = xs
        n = _batch(a)
        probs = _softmax(a)
        total = np.sum(np.broadcast_to(t, probs.shape), axis=-1, keepdims=True)
        da = dout * (probs * total - t) / n
        with np.errstate(invalid="ignore"):  # log y = −inf only for a spread beyond float64
            dt = -dout * _log_softmax(a) / n
        return np.asarray(da, dtype=np.float64), np.asarray(dt, dtype=np.float64)
