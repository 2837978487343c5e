"""The convolution layer as im2col + one matrix product (book §7.4.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.conv_utils import IntPair, _Geometry, _pair, col2im_t, im2col_t
from layerwise.errors import ShapeError
from layerwise.functions import as_float_array
from layerwise.layers.base import Array, Layer

__all__ = ["Convolution"]


class Convolution(Layer):
    """2-D convolution (cross-correlation, as in the book and PyTorch) of a batch of images.

    Parameters
    ----------
    W : ndarray of shape (FN, C, FH, FW)
        ``FN`` filters over ``C`` input channels.
    b : ndarray of shape (FN,)
    stride, pad : int or (int, int)
        Zero padding of ``pad`` pixels on each side. ``(H + 2*pad - FH) / stride + 1`` must be
        a positive integer (a :class:`~layerwise.ShapeError` otherwise).

    ``forward(x)`` takes ``x`` of shape ``(N, C, H, W)`` and returns ``out`` of shape
    ``(N, FN, OH, OW)``: with ``col = im2col(x)``, ``out = col @ W_mat.T + b``. ``backward(dout)``
    sets ``dW = dout_mat.T @ col``, ``db = dout.sum(axis=(0, 2, 3))`` and returns
    ``dx = col2im(dout_mat @ W_mat)``.

    The product is computed in the transposed layout (:func:`~layerwise.conv_utils.im2col_t`),
    with the bias folded in as a row of ones: ``[W_mat b] @ [col_t; 1]`` gives the output
    channel-major, so ``out`` is returned as a transposed view whose memory is ordered
    ``(FN, N, OH, OW)``; ReLU and Pooling keep that order, and the backward pass then reads
    ``dout`` without a copy and gets ``db`` from the same product as ``dW``.
    """

    param_names = ("W", "b")

    def __init__(self, W: ArrayLike, b: ArrayLike, stride: IntPair = 1, pad: IntPair = 0) -> None:
        super().__init__()
        W = np.array(as_float_array(W), copy=True)  # the layer owns its parameters
        if W.ndim != 4:
            raise ShapeError(f"Convolution: W must be 4-D (FN, C, FH, FW), got shape {W.shape}")
        b = np.array(b, dtype=W.dtype, copy=True)
        if b.shape != (W.shape[0],):
            raise ShapeError(f"Convolution: expected b of shape ({W.shape[0]},), got {b.shape}")
        self.W: Array = W
        self.b: Array = b
        self.dW: Array = np.zeros_like(W)
        self.db: Array = np.zeros_like(b)
        self.stride = _pair(stride, "stride", "Convolution", 1)
        self.pad = _pair(pad, "pad", "Convolution", 0)
        self.col: Array | None = None  # im2col_t of the last input, and a row of ones
        self.x_shape: tuple[int, ...] | None = None
        self._geometry: _Geometry | None = None

    def _arg(self, v: tuple[int, int]) -> Any:
        return v[0] if v[0] == v[1] else v

    def forward(self, x: ArrayLike) -> Array:
        x = self._input(x)
        fn, c, fh, fw = self.W.shape
        if x.ndim != 4 or x.shape[1] != c:
            raise ShapeError(f"Convolution: expected input of shape (N, {c}, H, W), got {x.shape}")
        g = _Geometry("Convolution", x.shape, fh, fw, self.stride, self.pad)
        # A row of ones under the unrolled windows and b as an extra column of W_mat: the
        # product adds the bias, and in backward the same product with dout yields db.
        k = c * fh * fw
        col = np.empty((k + 1, g.rows), dtype=x.dtype)
        im2col_t(x, fh, fw, self.stride, self.pad, out=col[:k])
        col[k] = 1
        w_b = np.concatenate([self.W.reshape(fn, k), self.b[:, None]], axis=1)
        out = w_b @ col  # (FN, N*OH*OW)
        self.col, self.x_shape, self._geometry = col, x.shape, g
        return out.reshape(fn, g.n, g.out_h, g.out_w).transpose(1, 0, 2, 3)

    def backward(self, dout: ArrayLike) -> Array:
        d = self._param_backward(dout)
        assert self.x_shape is not None
        fn, c, fh, fw = self.W.shape
        dcol = self.W.reshape(fn, -1).T @ d
        n, _, h, w = self.x_shape
        return col2im_t(dcol, (n, c, h, w), fh, fw, self.stride, self.pad)

    def backward_params(self, dout: ArrayLike) -> None:
        """Like :meth:`backward` but skips ``dx`` (a network's first layer needs no ``dx``)."""
        self._param_backward(dout)

    def _param_backward(self, dout: ArrayLike) -> Array:
        """Set ``dW`` and ``db``; return ``dout`` as the matrix ``(FN, N*OH*OW)``."""
        self._require(self.col)
        assert self.col is not None and self._geometry is not None
        g = self._geometry
        fn = self.W.shape[0]
        d = self._dout(dout, (g.n, fn, g.out_h, g.out_w), self.W.dtype)
        dmat = d.transpose(1, 0, 2, 3).reshape(fn, -1)  # free for a channel-major dout
        dw_b = dmat @ self.col.T  # (FN, C*FH*FW + 1): dW, then db from the row of ones
        self.dW = np.ascontiguousarray(dw_b[:, :-1]).reshape(self.W.shape)
        self.db = dw_b[:, -1].copy()
        return dmat

    def _config_args(self) -> dict[str, Any]:
        fn, c, fh, fw = (int(v) for v in self.W.shape)
        return {"filters": fn, "channels": c, "kernel": [fh, fw], "stride": list(self.stride),
                "pad": list(self.pad)}

    @classmethod
    def _from_config(cls, **args: Any) -> Convolution:
        fh, fw = args["kernel"]
        W = np.zeros((args["filters"], args["channels"], fh, fw), np.float32)
        return cls(W, np.zeros(args["filters"], np.float32), stride=tuple(args["stride"]),
                   pad=tuple(args["pad"]))

    def __repr__(self) -> str:
        return (f"Convolution(W={self.W.shape}, b={self.b.shape}, stride={self._arg(self.stride)}, "
                f"pad={self._arg(self.pad)})")
