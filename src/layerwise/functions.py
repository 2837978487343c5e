"""Element-wise and loss functions that the layers are built from (book §3.2, §3.5, §4.2).

All functions keep the floating dtype of their input (float32 stays float32) and are
numerically stable: :func:`sigmoid` never overflows, :func:`softmax` and
:func:`log_softmax` subtract the row maximum, and :func:`cross_entropy_error` works from
log-probabilities where it can.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "sigmoid",
    "relu",
    "softmax",
    "log_softmax",
    "cross_entropy_error",
    "softmax_cross_entropy",
    "sum_squared_error",
    "as_float_array",
]

FloatArray = NDArray[np.floating[Any]]


def as_float_array(x: ArrayLike, dtype: np.dtype[Any] | type | None = None) -> FloatArray:
    """Return ``x`` as a floating array without needless copies.

    Floating arrays keep their dtype (so float64 gradient checks stay float64); integers,
    booleans and Python scalars become float32, the library's default.
    """
    arr = np.asarray(x)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f":
        return arr
    return arr.astype(np.float32)


def sigmoid(x: ArrayLike) -> FloatArray:
    """Logistic function ``1 / (1 + exp(-x))``, stable for any ``x``.

    Computed as ``exp(-|x|)``-based branches so that ``exp`` never overflows; the limits are
    exactly 0 and 1 for ``x = -1000`` and ``x = 1000``.
    """
    x = as_float_array(x)
    z = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return out.astype(x.dtype, copy=False)


def relu(x: ArrayLike) -> FloatArray:
    """Rectified linear unit ``max(0, x)``."""
    x = as_float_array(x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def log_softmax(x: ArrayLike, axis: int = -1) -> FloatArray:
    """Log of the softmax along ``axis``, as ``x - max - log(sum(exp(x - max)))``."""
    x = as_float_array(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: ArrayLike, axis: int = -1) -> FloatArray:
    """Softmax along ``axis`` (the last axis by default), stable for large inputs (book §3.5.2)."""
    x = as_float_array(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def cross_entropy_error(y: ArrayLike, t: ArrayLike) -> float:
    """Mean cross-entropy of probabilities ``y`` against targets ``t`` (book §4.2.4).

    Parameters
    ----------
    y : ndarray of shape (N, C) or (C,)
        Probabilities (e.g. a softmax output).
    t : ndarray of shape (N,) of integer labels, or (N, C) one-hot / probability targets

    A tiny ``1e-7`` guards ``log(0)``, as in the book. For logits use
    :func:`softmax_cross_entropy`, which is exact.
    """
    y = as_float_array(y)
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.ndim == 1 and t.size == y.size else t.reshape(-1)
    n = y.shape[0]
    if t.shape == y.shape:
        # soft or one-hot targets: sum over all classes
        return float(-np.sum(t * np.log(y + 1e-7)) / n)
    labels = t.astype(np.intp, copy=False).reshape(-1)
    return float(-np.sum(np.log(y[np.arange(n), labels] + 1e-7)) / n)


def softmax_cross_entropy(x: ArrayLike, t: ArrayLike) -> tuple[float, FloatArray]:
    """Fused softmax + cross-entropy from logits; returns ``(mean loss, softmax probabilities)``.

    ``t`` is integer labels of shape ``(N,)`` or targets of shape ``(N, C)`` (one-hot or
    probabilities). The loss is computed from ``log_softmax``, so it is finite for any finite
    logits.
    """
    x = as_float_array(x)
    t = np.asarray(t)
    logp = log_softmax(x, axis=-1)
    n = x.shape[0]
    if t.shape == x.shape:
        loss = -float(np.sum(t * logp, dtype=np.float64)) / n
    else:
        labels = t.astype(np.intp, copy=False)
        loss = -float(np.sum(logp[np.arange(n), labels], dtype=np.float64)) / n
    return loss, np.exp(logp)


def sum_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    """Half the sum of squared errors, averaged over the batch: ``0.5 * sum((y - t)**2) / N``.

    Its gradient with respect to ``y`` is ``(y - t) / N`` (book §4.2.1 with the batch mean).
    """
    y = as_float_array(y)
    diff = y - np.asarray(t, dtype=y.dtype)
    n = y.shape[0] if y.ndim > 1 else 1
    return 0.5 * float(np.sum(diff * diff, dtype=np.float64)) / n
