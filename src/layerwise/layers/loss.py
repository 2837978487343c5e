"""Output layers with their loss: Softmax-with-Loss and Identity-with-Loss (book §5.6.3)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError, NonFiniteError, ShapeError, short_repr
from layerwise.fast import switch
from layerwise.functions import (
    as_float_array,
    check_finite,
    check_targets,
    softmax_cross_entropy_of,
)
from layerwise.layers.base import Array, LossLayer

__all__ = ["SoftmaxWithLoss", "IdentityWithLoss", "TargetKind"]

TargetKind = Literal["auto", "labels", "one-hot"]


class SoftmaxWithLoss(LossLayer):
    """Softmax followed by cross-entropy, numerically stable.

    ``forward(x, t)`` takes scores ``x`` of shape ``(N, C)`` and targets ``t``, either integer
    labels of shape ``(N,)`` or one-hot (or probability) rows of shape ``(N, C)``, and returns
    the mean cross-entropy ``-sum(t * log y) / N`` of the softmax ``y``. ``backward(dout=1.0)``
    returns ``dout * (y - t) / N`` (book §5.6.3; the book ignores ``dout``, this layer does
    not).

    With :mod:`layerwise.fast` enabled (the default) the forward pass runs
    :func:`layerwise.fast.softmax_cross_entropy`, which gives the same numbers faster.

    Parameters
    ----------
    target : {"auto", "labels", "one-hot"}
        How ``t`` is given. ``"auto"`` decides by the targets' form, never by comparing sizes:
        a 1-D integer array is labels, a 2-D array of shape ``(N, C)`` is one-hot; anything
        else is an error.
    """

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
            kernel = switch.kernel("softmax_cross_entropy", SoftmaxWithLoss.forward, softmax_cross_entropy_of)
            loss, y = (kernel or softmax_cross_entropy_of)(x, targets, is_labels)  # the engine, when on
        if not math.isfinite(loss):
            # NaN or +inf scores always make the loss non-finite (so do -inf target scores),
            # so the input is checked only then, which names what is wrong.
            check_finite("SoftmaxWithLoss", x)
            raise NonFiniteError(f"SoftmaxWithLoss: the loss is {loss}: the scores span more than "
                                 f"{x.dtype} can hold")
        self.loss, self.y, self.t, self.t_is_labels = loss, y, targets, is_labels
        return loss

    def backward(self, dout: ArrayLike = 1.0) -> Array:
        self._require(self.y)
        assert self.y is not None and self.t is not None
        d = np.asarray(dout)
        if d.ndim != 0:
            raise ShapeError(f"SoftmaxWithLoss.backward: dout must be a scalar, got shape {d.shape}")
        batch_size = self.y.shape[0]
        if self.t_is_labels:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1  # y - t, with t one-hot
        else:
            dx = self.y - self.t
        dx *= self.y.dtype.type(float(d) / batch_size)
        return dx


class IdentityWithLoss(LossLayer):
    """Identity output with the sum-of-squares loss, for regression.

    ``forward(x, t)`` returns ``0.5 * sum((x - t)**2) / N`` (the book's sum of squared errors,
    averaged over the batch); ``backward(dout=1.0)`` returns ``dout * (y - t) / N``.
    ``x`` and ``t`` have the same shape ``(N, ...)``.
    """

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
