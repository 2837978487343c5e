"""The fast Softmax-with-Loss forward pass: one fused, class-major kernel.

:class:`~layerwise.layers.SoftmaxWithLoss` computes ``log_softmax(x)`` row by row, then
``y = exp(log y)`` and the cross-entropy from ``log y``. This kernel
takes one ``exp`` and runs on a
class-major copy ``(C, N)`` of the scores, so that every reduction over the classes runs
across the batch in vector lanes (for 10 classes NumPy's row-wise max and sum take several
times longer). The softmax comes back as a transposed view ``(N, C)`` of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating[Any]]

__all__ = ["softmax_cross_entropy"]

_rows: dict[int, NDArray[np.intp]] = {}  # arange(N) per batch size (it rarely changes)


def softmax_cross_entropy(x: NDArray[Any], t: NDArray[Any], is_labels: bool) -> tuple[float, NDArray[Any]]:
    """``(mean cross-entropy, softmax)`` of checked scores ``x`` (N, C) and targets ``t``."""
    n = x.shape[0]
    rows = _rows.get(n)
    if rows is None:
        if len(_rows) > 8:
            _rows.clear()
        rows = _rows[n] = np.arange(n)
    return fused_softmax_cross_entropy(x, t, is_labels, rows)


def fused_softmax_cross_entropy(x: FloatArray, t: NDArray[Any], is_labels: bool,
                                rows: NDArray[np.intp] | None = None) -> tuple[float, FloatArray]:
    """Mean cross-entropy of ``softmax(x)`` against checked targets, and the softmax.

    One ``exp``: ``shifted = x - max``, ``y = e / s`` and ``log y = shifted - log s``, so the
    loss is exact and finite for finite scores. ``rows`` may pass a cached ``arange(N)``.

    The work runs on a class-major copy ``(C, N)``: every reduction over the classes then
    runs across the batch in vector lanes (for 10 classes NumPy's row-wise max and sum take
    several times longer). The softmax comes back as the transposed view ``(N, C)`` of it.
    """
    n = x.shape[0]
    shifted = np.array(x.T, order="C")  # always a copy: the caller's x is never written
    shifted -= shifted.max(axis=0)
    e = np.exp(shifted)
    s = e.sum(axis=0)
    log_s = np.log(s)
    if is_labels:
        per_sample = log_s - shifted[t, np.arange(n) if rows is None else rows]  # log s - shifted[t]
        total = float(per_sample.sum())
    else:
        total = -float(np.sum(t.T * (shifted - log_s), dtype=np.float64))
    e /= s
    return total / n, e.T

