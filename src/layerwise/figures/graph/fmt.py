"""Compact number formatting for edge labels: 715, 2.2, 110, not 715.0000000001."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["format_number", "format_value", "format_shape"]

# 1-D arrays up to this length are written out; anything bigger is drawn as its shape.
MAX_LISTED = 4


def format_number(x: float, precision: int = 4) -> str:
    """``x`` rounded to ``precision`` significant digits, without trailing zeros.

    >>> format_number(715.0000000001), format_number(2.2000000000000006), format_number(0.2350037)
    ('715', '2.2', '0.235')
    """
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x == 0:
        return "0"  # also turns -0.0 into 0
    if 1e-4 <= abs(x) < 1e6:
        text = np.format_float_positional(x, precision=precision, unique=False, fractional=False, trim="-")
    else:
        text = np.format_float_scientific(x, precision=precision - 1, unique=False, trim="-")
        text = text.replace(".e", "e")
    return text


def format_shape(shape: tuple[int, ...]) -> str:
    """``(2,3)`` for a matrix, ``(3,)`` for a vector."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ",".join(str(n) for n in shape) + ")"


def format_value(value: ArrayLike, precision: int = 4, *, shapes_only: bool = False) -> str:
    """A scalar as a number, a short vector as ``[a, b, c]``, anything else as its shape."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return format_number(float(arr), precision)
    if arr.ndim == 1 and arr.size <= MAX_LISTED and not shapes_only:
        return "[" + ", ".join(format_number(float(v), precision) for v in arr) + "]"
    return format_shape(tuple(arr.shape))
