"""The fully connected layer (book §5.6.2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ShapeError, check_int
from layerwise.fast import switch
from layerwise.layers.base import Array, Layer, check_config, parameter_array

__all__ = ["Affine"]


def _sizes(args: dict[str, Any]) -> tuple[int, int]:
    """``(n_in, n_out)`` of an Affine config, checked."""
    config = check_config(args, "Affine", ["n_in", "n_out"])
    return check_int(config["n_in"], "Affine", "n_in"), check_int(config["n_out"], "Affine", "n_out")


class Affine(Layer):
    """``out = x @ W + b`` for a batch ``x``.

    Parameters
    ----------
    W : ndarray of shape (n_in, n_out)
    b : ndarray of shape (n_out,)

    ``forward`` takes ``x`` of shape ``(N, n_in)`` or ``(N, d1, d2, ...)`` with
    ``d1 * d2 * ... == n_in`` (e.g. images ``(N, C, H, W)``), flattened for the product.
    ``backward(dout)`` with ``dout`` of shape ``(N, n_out)`` is the chain rule through the
    product (book §5.6.2)::

        dx = dout @ W.T        (in the original shape of x)
        dW = x.T @ dout
        db = sum(dout, axis=0)

    With :mod:`layerwise.fast` enabled (the default) the backward pass runs
    :func:`layerwise.fast.affine_backward`, which gives the same numbers.
    """

    param_names = ("W", "b")

    def __init__(self, W: ArrayLike, b: ArrayLike) -> None:
        super().__init__()
        # Copies: the layer owns its parameters (optimizers update them in place).
        W = parameter_array(W, "Affine", "W")
        b = parameter_array(b, "Affine", "b", W.dtype)
        if W.ndim != 2:
            raise ShapeError(f"Affine: W must be 2-D (n_in, n_out), got shape {W.shape}")
        if b.shape != (W.shape[1],):
            raise ShapeError(f"Affine: expected b of shape ({W.shape[1]},), got {b.shape}")
        self.W: Array = W
        self.b: Array = b
        self.dW: Array = np.zeros_like(W)
        self.db: Array = np.zeros_like(b)
        self.x: Array | None = None
        self.original_x_shape: tuple[int, ...] | None = None

    def _config_args(self) -> dict[str, Any]:
        return {"n_in": int(self.W.shape[0]), "n_out": int(self.W.shape[1])}

    @classmethod
    def _from_config(cls, **args: Any) -> Affine:
        n_in, n_out = _sizes(args)
        return cls(np.zeros((n_in, n_out), np.float32), np.zeros(n_out, np.float32))

    @classmethod
    def _config_shapes(cls, **args: Any) -> dict[str, tuple[int, ...]]:
        n_in, n_out = _sizes(args)
        return {"W": (n_in, n_out), "b": (n_out,)}

    def forward(self, x: ArrayLike) -> Array:
        x = self._input(x)
        n_in = self.W.shape[0]
        if x.ndim < 2 or math.prod(x.shape[1:]) != n_in:
            raise ShapeError(
                f"Affine: expected input of shape (N, {n_in}) or (N, ...) with {n_in} features "
                f"per sample, got {x.shape}"
            )
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], n_in)
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout: ArrayLike) -> Array:
        dx = self._backward(dout, need_dx=True)
        assert dx is not None
        return dx

    def backward_params(self, dout: ArrayLike) -> None:
        """Like :meth:`backward` but skips ``dx`` (a network's first layer needs no ``dx``)."""
        self._backward(dout, need_dx=False)

    def _backward(self, dout: ArrayLike, need_dx: bool) -> Array | None:
        """Set ``dW`` and ``db``; return ``dx`` when ``need_dx``."""
        self._require(self.x)
        if kernel := switch.kernel("affine_backward", Affine._backward):
            return kernel(self, dout, need_dx)  # the engine, when on: the same numbers, faster
        assert self.x is not None and self.original_x_shape is not None
        d = self._dout(dout, (self.x.shape[0], self.W.shape[1]), self.W.dtype)
        self.dW = np.dot(self.x.T, d)
        self.db = np.sum(d, axis=0)
        if not need_dx:
            return None
        dx = np.dot(d, self.W.T)
        return dx.reshape(self.original_x_shape)
