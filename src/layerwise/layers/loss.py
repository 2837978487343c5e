"""Output layers with their loss: Softmax-with-Loss and Identity-with-Loss (book §5.6.3)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import NonFiniteError, ShapeError
from layerwise.functions import as_float_array
from layerwise.layers.base import Array, LossLayer

__all__ = ["SoftmaxWithLoss", "IdentityWithLoss", "TargetKind"]

TargetKind = Literal["auto", "labels", "one-hot"]


def _check_finite(name: str, x: Array) -> None:
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise NonFiniteError(f"{name}: input contains {bad} NaN or infinite value(s)")


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

    def __init__(self, target: TargetKind = "auto") -> None:
        super().__init__()
        if target not in ("auto", "labels", "one-hot"):
            raise ValueError(f"SoftmaxWithLoss: target must be 'auto', 'labels' or 'one-hot', got {target!r}")
        self.target = target
        self.loss: float | None = None
        self.y: Array | None = None  # softmax output
        self.t: Array | None = None  # targets as given (labels or one-hot)
        self.t_is_labels = True

    def _config_args(self) -> dict[str, Any]:
        return {"target": self.target}

    def _targets(self, x: Array, t: ArrayLike) -> tuple[Array, bool]:
        t = np.asarray(t)
        n, c = x.shape
        kind = self.target
        if kind == "auto":
            if t.ndim == 1:
                kind = "labels"
            elif t.ndim == 2:
                kind = "one-hot"
            else:
                raise ShapeError(
                    f"SoftmaxWithLoss: expected targets of shape ({n},) (labels) or ({n}, {c}) "
                    f"(one-hot), got {t.shape}"
                )
        if kind == "labels":
            if t.shape != (n,):
                raise ShapeError(f"SoftmaxWithLoss: expected labels of shape ({n},), got {t.shape}")
            if t.dtype.kind not in "iub":
                if t.dtype.kind != "f" or not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
                    raise ValueError(
                        f"SoftmaxWithLoss: labels must be integers, got dtype {t.dtype}"
                    )
            labels = t.astype(np.intp)
            # one comparison finds both kinds of bad label: negatives wrap to huge unsigned values
            if n and (labels.view(np.uintp) >= c).any():
                bad = labels[(labels < 0) | (labels >= c)]
                raise ValueError(
                    f"SoftmaxWithLoss: labels must lie in [0, {c - 1}] for {c} classes, "
                    f"got {bad[:5].tolist()}"
                )
            return labels, True
        if t.shape != (n, c):
            raise ShapeError(f"SoftmaxWithLoss: expected one-hot targets of shape ({n}, {c}), got {t.shape}")
        tf = t.astype(x.dtype, copy=False)
        _check_finite("SoftmaxWithLoss targets", tf)
        if np.any(tf < 0) or not np.allclose(tf.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(
                "SoftmaxWithLoss: one-hot targets must be non-negative rows that sum to 1"
            )
        return tf, False

    def forward(self, x: ArrayLike, t: ArrayLike) -> float:  # type: ignore[override]
        x = as_float_array(x)
        if x.ndim != 2:
            raise ShapeError(f"SoftmaxWithLoss: expected scores of shape (N, C), got {x.shape}")
        _check_finite("SoftmaxWithLoss", x)
        self.t, self.t_is_labels = self._targets(x, t)
        n = x.shape[0]
        # log-softmax and softmax from one exp: shifted = x - max, y = e / s, log y = shifted - log s
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        log_s = np.log(s)
        if self.t_is_labels:
            picked = shifted[self._rows(n), self.t]
            total = float(np.sum(log_s, dtype=np.float64)) - float(np.sum(picked, dtype=np.float64))
        else:
            total = -float(np.sum(self.t * (shifted - log_s), dtype=np.float64))
        self.loss = total / n
        e /= s
        self.y = e
        return self.loss

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
            dx = self.y.copy()
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
        _check_finite("IdentityWithLoss", x)
        tf = t_arr.astype(x.dtype, copy=False)
        _check_finite("IdentityWithLoss targets", tf)
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
