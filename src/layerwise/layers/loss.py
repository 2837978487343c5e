"""Output layers with their loss: Softmax-with-Loss and Identity-with-Loss (book §5.6.3)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError, NonFiniteError, ShapeError
from layerwise.functions import (
    as_float_array,
    check_finite,
    check_targets,
    fused_softmax_cross_entropy,
)
from layerwise.layers.base import Array, LossLayer, short_repr

__all__ = ["SoftmaxWithLoss", "IdentityWithLoss", "TargetKind"]

TargetKind = Literal["auto", "labels", "one-hot"]


class SoftmaxWithLoss(LossLayer):
    """Softmax followed by cross-entropy, fused and numerically stable.

    ``forward(x, t)`` takes scores ``x`` of shape ``(N, C)`` and targets ``t``, either integer
    labels of shape ``(N,)`` or one-hot (or probability) rows of shape ``(N, C)``, and returns
    the mean cross-entropy. ``backward(dout=1.0)`` returns ``dout * (y - t) / N`` where ``y``
    is the softmax (book §5.6.3; the book ignores ``dout``, this layer does not).

    Parameters
    ----------
    target : {"auto", "labels", "one-hot"}
        How ``t`` is given. ``"auto"`` decides by the targets' form, never by comparing sizes:
        a 1-D integer array is labels, a 2-D array of shape ``(N, C)`` is one-hot; anything
        else is an error.
    """

    samples_independent = True

    def __init__(self, target: TargetKind = "auto") -> None:
        super().__init__()
        if not isinstance(target, str) or target not in ("auto", "labels", "one-hot"):
            raise ConfigError(
                f"SoftmaxWithLoss: target must be 'auto', 'labels' or 'one-hot', got {short_repr(target)}")
        self.target = target
        self.loss: float | None = None
        self.y: Array | None = None  # softmax output
        self.t: Array | None = None  # targets as given (labels or one-hot)
        self.t_is_labels = True

    def _config_args(self) -> dict[str, Any]:
        return {"target": self.target}

    def forward(self, x: ArrayLike, t: ArrayLike) -> float:  # type: ignore[override]
        x = as_float_array(x)
        if x.ndim != 2:
            raise ShapeError(f"SoftmaxWithLoss: expected scores of shape (N, C), got {x.shape}")
        targets, is_labels = check_targets("SoftmaxWithLoss", x.shape, t, self.target, x.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # bad scores raise below, not warn
            loss, y = fused_softmax_cross_entropy(x, targets, is_labels, self._rows(x.shape[0]))
        if not math.isfinite(loss):
            # NaN or +inf scores always make the loss non-finite (so do -inf target scores),
            # so the input is checked only then, which names what is wrong.
            check_finite("SoftmaxWithLoss", x)
            raise NonFiniteError(f"SoftmaxWithLoss: the loss is {loss}: the scores span more than "
                                 f"{x.dtype} can hold")
        self.loss, self.y, self.t, self.t_is_labels = loss, y, targets, is_labels
        return loss

    def _rows(self, n: int) -> Array:
        """``np.arange(n)``, kept between calls (the batch size rarely changes)."""
        rows: Array | None = getattr(self, "_row_index", None)
        if rows is None or rows.shape[0] != n:
            rows = self._row_index = np.arange(n)
        return rows

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        self._require(self.y)
        assert self.y is not None and self.t is not None
        d = np.asarray(dout)
        if d.ndim != 0:
            raise ShapeError(f"SoftmaxWithLoss.backward: dout must be a scalar, got shape {d.shape}")
        n = self.y.shape[0]
        if self.t_is_labels:
            dx = self.y.copy(order="K")  # keeps the softmax's class-major memory order
            dx[self._rows(n), self.t] -= 1
        else:
            dx = self.y - self.t
        dx *= self.y.dtype.type(float(d) / n)
        return dx


class IdentityWithLoss(LossLayer):
    """Identity output with the sum-of-squares loss, for regression.

    ``forward(x, t)`` returns ``0.5 * sum((x - t)**2) / N`` (the book's sum of squared errors,
    averaged over the batch); ``backward(dout=1.0)`` returns ``dout * (y - t) / N``.
    ``x`` and ``t`` have the same shape ``(N, ...)``.
    """

    samples_independent = True

    def __init__(self) -> None:
        super().__init__()
        self.loss: float | None = None
        self.y: Array | None = None
        self.t: Array | None = None

    def forward(self, x: ArrayLike, t: ArrayLike) -> float:  # type: ignore[override]
        x = as_float_array(x)
        t_arr: Any = np.asarray(t)
        if t_arr.shape != x.shape:
            raise ShapeError(f"IdentityWithLoss: expected targets of shape {x.shape}, got {t_arr.shape}")
        check_finite("IdentityWithLoss", x)
        tf = t_arr.astype(x.dtype, copy=False)
        check_finite("IdentityWithLoss targets", tf)
        self.y, self.t = x, tf
        n = x.shape[0] if x.ndim else 1
        diff = x - tf
        self.loss = 0.5 * float(np.sum(diff * diff, dtype=np.float64)) / n
        return self.loss

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        self._require(self.y)
        assert self.y is not None and self.t is not None
        d = np.asarray(dout)
        if d.ndim != 0:
            raise ShapeError(f"IdentityWithLoss.backward: dout must be a scalar, got shape {d.shape}")
        n = self.y.shape[0] if self.y.ndim else 1
        return (self.y - self.t) * self.y.dtype.type(float(d) / n)
