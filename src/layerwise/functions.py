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

from layerwise.errors import ConfigError, NonFiniteError, ShapeError

__all__ = [
    "sigmoid",
    "relu",
    "softmax",
    "log_softmax",
    "cross_entropy_error",
    "softmax_cross_entropy",
    "sum_squared_error",
    "as_float_array",
    "check_finite",
    "check_targets",
    "softmax_cross_entropy_of",
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


def check_finite(who: str, x: NDArray[Any]) -> None:
    """Raise :class:`~layerwise.errors.NonFiniteError` naming ``who`` if ``x`` has NaN or inf."""
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise NonFiniteError(f"{who}: input contains {bad} NaN or infinite value(s)")


def check_targets(who: str, shape: tuple[int, ...], t: ArrayLike, kind: str = "auto",
                  dtype: Any = np.float32) -> tuple[NDArray[Any], bool]:
    """Validate classification targets for scores or probabilities of ``shape`` ``(N, C)``.

    Returns ``(targets, is_labels)``: integer labels ``(N,)`` as ``intp``, or one-hot /
    probability rows ``(N, C)`` in ``dtype``. ``kind`` is ``"labels"``, ``"one-hot"`` or
    ``"auto"``, which decides by the targets' form (1-D: labels, 2-D: rows), never by
    comparing sizes. Wrong shapes, non-integer or out-of-range labels, and rows that are not
    non-negative and summing to 1 raise errors that name ``who``.
    """
    t = np.asarray(t)
    n, c = shape
    if n == 0 or c == 0:
        raise ShapeError(f"{who}: expected a non-empty batch of scores (N, C), got {shape}")
    if kind == "auto":
        if t.ndim == 1:
            kind = "labels"
        elif t.ndim == 2:
            kind = "one-hot"
        else:
            raise ShapeError(
                f"{who}: expected targets of shape ({n},) (labels) or ({n}, {c}) (one-hot), got {t.shape}"
            )
    if kind == "labels":
        if t.shape != (n,):
            raise ShapeError(f"{who}: expected labels of shape ({n},), got {t.shape}")
        if t.dtype.kind not in "iub":
            if t.dtype.kind != "f" or not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
                raise ConfigError(f"{who}: labels must be integers, got dtype {t.dtype}")
        labels = t.astype(np.intp)
        # one comparison finds both kinds of bad label: negatives wrap to huge unsigned values
        if labels.view(np.uintp).max() >= c:
            bad = labels[(labels < 0) | (labels >= c)]
            raise ConfigError(
                f"{who}: labels must lie in [0, {c - 1}] for {c} classes, got {bad[:5].tolist()}"
            )
        return labels, True
    if t.shape != (n, c):
        raise ShapeError(f"{who}: expected one-hot targets of shape ({n}, {c}), got {t.shape}")
    tf = t.astype(dtype, copy=False)
    check_finite(f"{who} targets", tf)
    if np.any(tf < 0) or not np.allclose(tf.sum(axis=1), 1.0, atol=1e-3):
        raise ConfigError(f"{who}: one-hot targets must be non-negative rows that sum to 1")
    return tf, False


def softmax_cross_entropy_of(x: FloatArray, t: NDArray[Any], is_labels: bool) -> tuple[float, FloatArray]:
    """``(mean cross-entropy, softmax)`` of checked scores ``x`` (N, C) and targets ``t``, both
    from ``log y = log_softmax(x)``: exact for any finite scores, where the book's
    ``-sum(t * log(y + 1e-7))`` is off by up to ``1e-7`` per sample."""
    log_y = log_softmax(x, axis=1)
    y = np.exp(log_y)
    batch_size = x.shape[0]
    if is_labels:
        loss = -float(np.sum(log_y[np.arange(batch_size), t])) / batch_size
    else:
        loss = -float(np.sum(t * log_y, dtype=np.float64)) / batch_size
    return loss, y


def _batch(who: str, y: FloatArray) -> FloatArray:
    if y.ndim == 1:
        return y.reshape(1, -1)
    if y.ndim != 2:
        raise ShapeError(f"{who}: expected an array of shape (N, C) or (C,), got {y.shape}")
    return y


def cross_entropy_error(y: ArrayLike, t: ArrayLike) -> float:
    """Mean cross-entropy of probabilities ``y`` against targets ``t`` (book §4.2.4).

    Parameters
    ----------
    y : ndarray of shape (N, C) or (C,)
        Probabilities (e.g. a softmax output).
    t : integer labels of shape (N,), or one-hot / probability rows of shape (N, C); for a
        single ``y`` of shape (C,), a label or a row of shape (C,)

    A tiny ``1e-7`` guards ``log(0)``, as in the book. For scores use
    :func:`softmax_cross_entropy`, which is exact.
    """
    y = as_float_array(y)
    t = np.asarray(t)
    if y.ndim == 1:
        t = t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    y = _batch("cross_entropy_error", y)
    targets, is_labels = check_targets("cross_entropy_error", y.shape, t, dtype=y.dtype)
    n = y.shape[0]
    if is_labels:
        return float(-np.sum(np.log(y[np.arange(n), targets] + 1e-7), dtype=np.float64) / n)
    return float(-np.sum(targets * np.log(y + 1e-7), dtype=np.float64) / n)


def softmax_cross_entropy(x: ArrayLike, t: ArrayLike) -> tuple[float, FloatArray]:
    """Fused softmax + cross-entropy from scores; returns ``(mean loss, softmax probabilities)``.

    ``x`` has shape ``(N, C)``; ``t`` is integer labels ``(N,)`` or one-hot / probability rows
    ``(N, C)``, checked as by :class:`~layerwise.layers.SoftmaxWithLoss` (which uses the same
    computation). The loss is finite for any finite scores.
    """
    x = _batch("softmax_cross_entropy", as_float_array(x))
    check_finite("softmax_cross_entropy", x)
    targets, is_labels = check_targets("softmax_cross_entropy", x.shape, t, dtype=x.dtype)
    return softmax_cross_entropy_of(x, targets, is_labels)


def sum_squared_error(y: ArrayLike, t: ArrayLike) -> float:
    """Half the sum of squared errors, averaged over the batch: ``0.5 * sum((y - t)**2) / N``.

    ``y`` and ``t`` have the same shape. Its gradient with respect to ``y`` is ``(y - t) / N``
    (book §4.2.1 with the batch mean).
    """
    y = as_float_array(y)
    t_arr = np.asarray(t)
    if t_arr.shape != y.shape:
        raise ShapeError(f"sum_squared_error: expected targets of shape {y.shape}, got {t_arr.shape}")
    diff = y - t_arr.astype(y.dtype, copy=False)
    n = y.shape[0] if y.ndim > 1 else 1
    return 0.5 * float(np.sum(diff * diff, dtype=np.float64)) / n
