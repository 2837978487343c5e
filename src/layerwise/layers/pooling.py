"""Max and average pooling (book §7.4.4), with padding honoured."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from layerwise.conv_utils import Geometry, IntPair, col2im, im2col, int_pair
from layerwise.errors import ConfigError, ShapeError, check_int, short_repr
from layerwise.fast import switch
from layerwise.functions import as_float_array
from layerwise.layers.base import Array, Layer, check_config, config_pair

__all__ = ["Pooling", "PoolMode"]

PoolMode = Literal["max", "avg"]


class Pooling(Layer):
    """Max or average pooling over ``pool_h x pool_w`` windows of each channel.

    Parameters
    ----------
    pool_h, pool_w : int
    stride : int, (int, int) or None
        ``None`` (default) means the pool size: non-overlapping windows. (The book defaults to
        1; its networks always pass ``stride=2``.)
    pad : int or (int, int)
        Padding on each side, at most half the pool size (as in PyTorch) so that every window
        holds an input pixel. For ``"max"`` the padding is ``-inf`` and never wins; for
        ``"avg"`` padded cells count as zeros in the divisor ``pool_h * pool_w`` (PyTorch's
        ``count_include_pad=True``).
    mode : {"max", "avg"}

    ``forward(x)`` maps ``(N, C, H, W)`` to ``(N, C, OH, OW)`` with
    ``OH = (H + 2*pad - pool_h) / stride + 1`` (which must be an integer): every window of
    every channel unrolled into a row of ``col = im2col(x)``, shape
    ``(N*OH*OW*C, pool_h*pool_w)``, then ``out = max(col, axis=1)``, remembering
    ``arg_max = argmax(col, axis=1)`` (the first maximum in row-major order, as PyTorch).
    ``backward(dout)`` sends each ``dout`` back to where its window's maximum came from::

        dmax = zeros(col.shape);  dmax[row, arg_max[row]] = dout[row]
        dx = col2im(dmax)

    For ``"avg"``, ``out = mean(col, axis=1)`` and ``dout / (pool_h * pool_w)`` goes to every
    cell of the window.

    With :mod:`layerwise.fast` enabled (the default) both passes run
    :func:`layerwise.fast.pool_forward` / :func:`~layerwise.fast.pool_backward`, which give
    the same numbers faster.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: IntPair | None = None, pad: IntPair = 0,
                 mode: PoolMode = "max") -> None:
        super().__init__()
        who = "Pooling"
        self.pool_h = check_int(pool_h, who, "pool_h", 1)
        self.pool_w = check_int(pool_w, who, "pool_w", 1)
        self.stride = (self.pool_h, self.pool_w) if stride is None else int_pair(stride, who, "stride", 1)
        self.pad = int_pair(pad, who, "pad", 0)
        if 2 * self.pad[0] > self.pool_h or 2 * self.pad[1] > self.pool_w:
            raise ConfigError(
                f"Pooling: pad {self.pad} must be at most half of the pool size "
                f"({self.pool_h}, {self.pool_w}), so that every window holds an input pixel"
            )
        if not isinstance(mode, str) or mode not in ("max", "avg"):
            raise ConfigError(f"Pooling: mode must be 'max' or 'avg', got {short_repr(mode)}")
        self.mode: PoolMode = mode
        # cache for backward (the book's names)
        self.x: Array | None = None
        self.arg_max: Array | None = None  # where each window's max came from

    def forward(self, x: ArrayLike) -> Array:
        x = as_float_array(x)
        if x.ndim != 4:
            raise ShapeError(f"Pooling: expected input of shape (N, C, H, W), got {x.shape}")
        if kernel := switch.kernel("pool_forward", Pooling.forward, Pooling.backward):
            return kernel(self, x)  # the engine, when on: the same numbers, faster
        N, C, H, W = x.shape
        g = Geometry("Pooling", x.shape, self.pool_h, self.pool_w, self.stride, self.pad)  # checks sizes
        out_h, out_w = g.out_h, g.out_w

        fill = -np.inf if self.mode == "max" else 0.0  # a padded cell never wins a max
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, fill=fill)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        if self.mode == "max":
            self.arg_max = np.argmax(col, axis=1)
            out = np.max(col, axis=1)
        else:
            out = np.mean(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        return out

    def backward(self, dout: ArrayLike) -> Array:
        self._require(self.x)
        if switch.kernel_ran(self):  # the forward pass ran the engine's kernel: so does its backward
            return switch.follow("pool_backward")(self, dout)
        assert self.x is not None
        N, C, H, W = self.x.shape
        g = Geometry("Pooling", self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        d = self._dout(dout, (N, C, g.out_h, g.out_w), self.x.dtype)
        d = d.transpose(0, 2, 3, 1)  # the order of col's rows: (n, oh, ow, c)

        pool_size = self.pool_h * self.pool_w
        if self.mode == "max":
            assert self.arg_max is not None
            dmax = np.zeros((d.size, pool_size), dtype=d.dtype)
            dmax[np.arange(self.arg_max.size), self.arg_max] = d.flatten()
        else:
            dmax = np.repeat(d.reshape(-1, 1) / d.dtype.type(pool_size), pool_size, axis=1)
        dcol = dmax.reshape(N * g.out_h * g.out_w, -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)

    def _config_args(self) -> dict[str, Any]:
        return {"pool_h": self.pool_h, "pool_w": self.pool_w, "stride": list(self.stride),
                "pad": list(self.pad), "mode": self.mode}

    @classmethod
    def _from_config(cls, **args: Any) -> Pooling:
        who = "Pooling"
        config = check_config(args, who, ["pool_h", "pool_w", "stride", "pad", "mode"])
        return cls(check_int(config["pool_h"], who, "pool_h"), check_int(config["pool_w"], who, "pool_w"),
                   stride=config_pair(config["stride"], who, "stride", 1),
                   pad=config_pair(config["pad"], who, "pad", 0), mode=config["mode"])

    def __repr__(self) -> str:
        def one(v: tuple[int, int]) -> Any:
            return v[0] if v[0] == v[1] else v
        return (f"Pooling({self.pool_h}x{self.pool_w}, stride={one(self.stride)}, "
                f"pad={one(self.pad)}, mode={self.mode!r})")
