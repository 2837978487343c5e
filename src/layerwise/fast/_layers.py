"""What each fast kernel reads and writes of the layer it serves, as protocols.

The kernels name these, not the layer classes, so that ``layerwise.fast`` does not import
``layerwise.layers`` (which imports ``layerwise.fast`` to hand off): the dependency goes one way.
Each layer class satisfies its protocol (mypy checks it where the layer hands off).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["AffineState", "ConvolutionState", "PoolingState"]

Array = NDArray[Any]


class _HasDout(Protocol):
    def _dout(self, dout: ArrayLike, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array: ...


class AffineState(_HasDout, Protocol):
    """:class:`layerwise.layers.Affine`'s parameters, gradients and cache."""

    W: Array
    b: Array
    dW: Array
    db: Array
    x: Array | None
    original_x_shape: tuple[int, ...] | None


class ConvolutionState(_HasDout, Protocol):
    """:class:`layerwise.layers.Convolution`'s parameters, geometry, gradients and cache."""

    W: Array
    b: Array
    dW: Array
    db: Array
    stride: tuple[int, int]
    pad: tuple[int, int]
    training: bool
    x: Array | None
    col: Array | None
    col_W: Array | None


class PoolingState(_HasDout, Protocol):
    """:class:`layerwise.layers.Pooling`'s geometry and cache."""

    pool_h: int
    pool_w: int
    stride: tuple[int, int]
    pad: tuple[int, int]
    mode: Literal["max", "avg"]
    x: Array | None
    arg_max: Array | None
