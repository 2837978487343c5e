"""The convolution layer as im2col + one matrix product (book §7.4.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.conv_utils import Geometry, IntPair, col2im, im2col, int_pair
from layerwise.errors import ShapeError, check_int
from layerwise.fast import switch
from layerwise.layers.base import Array, Layer, check_config, config_pair, parameter_array

__all__ = ["Convolution"]


def _config(args: dict[str, Any]) -> tuple[int, int, int, int, tuple[int, int], tuple[int, int]]:
    """``(filters, channels, FH, FW, stride, pad)`` of a Convolution config, checked."""
    who = "Convolution"
    config = check_config(args, who, ["filters", "channels", "kernel", "stride", "pad"])
    fn, c = check_int(config["filters"], who, "filters"), check_int(config["channels"], who, "channels")
    fh, fw = config_pair(config["kernel"], who, "kernel", 1)
    stride, pad = config_pair(config["stride"], who, "stride", 1), config_pair(config["pad"], who, "pad", 0)
    return fn, c, fh, fw, stride, pad


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
    ``(N, FN, OH, OW)``: every window of ``x`` unrolled into a row of ``col = im2col(x)``,
    shape ``(N*OH*OW, C*FH*FW)``, and every filter into a column of ``col_W``, shape
    ``(C*FH*FW, FN)``, so that ``out = col @ col_W + b``, reshaped. ``backward(dout)`` is
    the chain rule through that product (as :class:`~layerwise.layers.Affine`'s)::

        dout_mat = dout reshaped to (N*OH*OW, FN)
        db = sum(dout_mat, axis=0)
        dW = col.T @ dout_mat            (reshaped to (FN, C, FH, FW))
        dcol = dout_mat @ col_W.T
        dx = col2im(dcol)

    With :mod:`layerwise.fast` enabled (the default) both passes run
    :func:`layerwise.fast.conv_forward` / :func:`~layerwise.fast.conv_backward`, which give
    the same numbers faster.
    """

    param_names = ("W", "b")

    def __init__(self, W: ArrayLike, b: ArrayLike, stride: IntPair = 1, pad: IntPair = 0) -> None:
        super().__init__()
        W = parameter_array(W, "Convolution", "W")  # a copy: the layer owns its parameters
        if W.ndim != 4:
            raise ShapeError(f"Convolution: W must be 4-D (FN, C, FH, FW), got shape {W.shape}")
        b = parameter_array(b, "Convolution", "b", W.dtype)
        if b.shape != (W.shape[0],):
            raise ShapeError(f"Convolution: expected b of shape ({W.shape[0]},), got {b.shape}")
        self.W: Array = W
        self.b: Array = b
        self.dW: Array = np.zeros_like(W)
        self.db: Array = np.zeros_like(b)
        self.stride = int_pair(stride, "Convolution", "stride", 1)
        self.pad = int_pair(pad, "Convolution", "pad", 0)
        # cache for backward (the book's names)
        self.x: Array | None = None
        self.col: Array | None = None  # im2col(x)
        self.col_W: Array | None = None  # W as a matrix, one filter per column

    def _arg(self, v: tuple[int, int]) -> Any:
        return v[0] if v[0] == v[1] else v

    def forward(self, x: ArrayLike) -> Array:
        x = self._input(x)
        FN, C, FH, FW = self.W.shape
        if x.ndim != 4 or x.shape[1] != C:
            raise ShapeError(f"Convolution: expected input of shape (N, {C}, H, W), got {x.shape}")
        if kernel := switch.kernel("conv_forward", Convolution.forward, Convolution._backward):
            return kernel(self, x)  # the engine, when on: the same numbers, faster
        g = Geometry("Convolution", x.shape, FH, FW, self.stride, self.pad)  # checks the sizes
        N, out_h, out_w = x.shape[0], g.out_h, g.out_w

        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x, self.col, self.col_W = x, col, col_W
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
        if switch.kernel_ran(self):  # the forward pass ran the engine's kernel: so does its backward
            return switch.follow("conv_backward")(self, dout, need_dx)
        assert self.x is not None and self.col is not None and self.col_W is not None
        FN, C, FH, FW = self.W.shape
        N, (out_h, out_w) = self.x.shape[0], self._out_hw()
        d = self._dout(dout, (N, FN, out_h, out_w), self.W.dtype)
        dout_mat = d.transpose(0, 2, 3, 1).reshape(-1, FN)

        self.db = np.sum(dout_mat, axis=0)
        self.dW = np.dot(self.col.T, dout_mat).transpose(1, 0).reshape(FN, C, FH, FW)
        if not need_dx:
            return None
        dcol = np.dot(dout_mat, self.col_W.T)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)

    def _out_hw(self) -> tuple[int, int]:
        """``(OH, OW)`` of the last forward pass."""
        assert self.x is not None
        g = Geometry("Convolution", self.x.shape, self.W.shape[2], self.W.shape[3], self.stride, self.pad)
        return g.out_h, g.out_w

    def _config_args(self) -> dict[str, Any]:
        fn, c, fh, fw = (int(v) for v in self.W.shape)
        return {"filters": fn, "channels": c, "kernel": [fh, fw], "stride": list(self.stride),
                "pad": list(self.pad)}

    @classmethod
    def _from_config(cls, **args: Any) -> Convolution:
        fn, c, fh, fw, stride, pad = _config(args)
        return cls(np.zeros((fn, c, fh, fw), np.float32), np.zeros(fn, np.float32), stride=stride, pad=pad)

    @classmethod
    def _config_shapes(cls, **args: Any) -> dict[str, tuple[int, ...]]:
        fn, c, fh, fw, _, _ = _config(args)
        return {"W": (fn, c, fh, fw), "b": (fn,)}

    def __repr__(self) -> str:
        return (f"Convolution(W={self.W.shape}, b={self.b.shape}, stride={self._arg(self.stride)}, "
                f"pad={self._arg(self.pad)})")
