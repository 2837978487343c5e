"""The fully connected layer (book §5.6.2)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ShapeError
from layerwise.layers.base import Array, Layer, check_config, check_int, parameter_array

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
    ``backward(dout)`` with ``dout`` of shape ``(N, n_out)`` sets ``dW = x.T @ dout`` and
    ``db = dout.sum(axis=0)`` and returns ``dx = dout @ W.T`` in the original shape of ``x``.
    """

    samples_independent = True

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
        x2 = x.reshape(x.shape[0], n_in)
        self.x = x2
        out = x2 @ self.W
        out += self.b
        return out

    def backward(self, dout: ArrayLike) -> Array:
        d = self._param_backward(dout)
        assert self.original_x_shape is not None and self.x is not None
        if self.x.flags.f_contiguous and not self.x.flags.c_contiguous:
            # x was a flattened batch-last view (a Convolution's or Pooling's output): dx in
            # the same layout, so that the layers below read it without a copy
            return (self.W @ d.T).T.reshape(self.original_x_shape)
        return (d @ self.W.T).reshape(self.original_x_shape)

    def backward_params(self, dout: ArrayLike) -> None:
        """Like :meth:`backward` but skips ``dx`` (a network's first layer needs no ``dx``)."""
        self._param_backward(dout)

    def _param_backward(self, dout: ArrayLike) -> Array:
        self._require(self.x)
        assert self.x is not None
        d = self._dout(dout, (self.x.shape[0], self.W.shape[1]), self.W.dtype)
        self.dW = self.x.T @ d
        self.db = d.sum(axis=0)
        return d
