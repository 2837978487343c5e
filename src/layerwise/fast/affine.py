"""The fast Affine backward pass: ``dx`` in the memory order of the layer's input.

A fast Convolution or Pooling returns batch-last views (memory ordered ``(C, H, W, N)``);
an Affine layer flattens such an input without a copy, into an F-contiguous ``(N, n_in)``
matrix. Its ``dx = dout @ W.T`` is then computed as ``(W @ dout.T).T``, the same numbers
in that same memory order, so that the layers below read it without a copy.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

from layerwise.fast._layers import AffineState

__all__ = ["affine_backward"]


def affine_backward(layer: AffineState, dout: Any, need_dx: bool = True) -> NDArray[Any] | None:
    """:meth:`Affine.backward <layerwise.layers.Affine.backward>`: set ``layer.dW`` and
    ``layer.db``; return ``dx`` when ``need_dx``."""
    x = layer.x
    assert x is not None and layer.original_x_shape is not None
    d = layer._dout(dout, (x.shape[0], layer.W.shape[1]), layer.W.dtype)
    layer.dW = x.T @ d
    layer.db = d.sum(axis=0)
    if not need_dx:
        return None
    if x.flags.f_contiguous and not x.flags.c_contiguous:
        return (layer.W @ d.T).T.reshape(layer.original_x_shape)
    return (d @ layer.W.T).reshape(layer.original_x_shape)
