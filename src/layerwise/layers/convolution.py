"""The convolution layer as im2col + one matrix product (book §7.4.3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.conv_utils import IntPair, _Geometry, _pair, col2im_bl, windows_bl
from layerwise.errors import ShapeError
from layerwise.layers.base import Array, Layer, check_config, check_int, config_pair, parameter_array

__all__ = ["Convolution"]


_LOCAL = threading.local()  # per thread: layers running in parallel threads never share


def _workspace(slot: int, size: int, dtype: np.dtype[Any]) -> Array:
    """Buffer ``slot`` for unrolled windows, kept between calls and shared by every
    Convolution of the thread (its layers run one at a time): a fresh one of several MiB per
    call costs the page faults of new memory, and one per layer would not stay in cache.
    Slot 0 holds an input's windows, slot 1 those of ``dout`` (backward unrolls both)."""
    spaces: dict[tuple[int, str], Array] = _LOCAL.__dict__.setdefault("workspaces", {})
    key = (slot, np.dtype(dtype).str)
    ws = spaces.get(key)
    if ws is None or ws.size < size:
        ws = spaces[key] = np.empty(size, dtype=dtype)
    return ws[:size]


#: OpenBLAS multiplies matrices with ``m * n * k`` up to about 1e6 through a separate kernel
#: for small matrices, which for a convolution with few filters over few channels (short, very
#: wide products) is much faster than its general path. Measured on one thread: SimpleConvNet's
#: ``(30 x 26) @ (26 x 28800)`` took 626 us as one product and 387 us in blocks of 1282
#: columns; its weight gradient 887 us and 545 us. Such products are therefore split along
#: their long axis into blocks under that size, when the blocks are long (at least
#: ``MIN_BLOCK``): for wider filters banks the blocks would be short, and slower than one
#: product (DeepConvNet's ``(32 x 145) @ (145 x 9800)``: 785 us whole, 1051 us in blocks of 215).
SMALL_PRODUCT = 1_000_000
MIN_BLOCK = 1024


def _block(m: int, n: int) -> int:
    """Length along the long axis of blocks of a product whose other sizes are ``m`` and
    ``n`` (0: do not split)."""
    step = SMALL_PRODUCT // max(1, m * n)
    return step if step >= MIN_BLOCK else 0


def _matmul_into(a: Array, b: Array, out: Array) -> None:
    """``out[...] = a @ b``, in blocks of ``b``'s columns when ``a`` is small."""
    step = _block(a.shape[0], a.shape[1])
    if not step or b.shape[1] <= step:
        np.matmul(a, b, out=out)
        return
    for j in range(0, b.shape[1], step):
        np.matmul(a, b[:, j : j + step], out=out[:, j : j + step])


def _add_a_bt(acc: Array, a: Array, b: Array) -> None:
    """``acc += a @ b.T``, in blocks of the long shared axis when ``acc`` is small."""
    step = _block(a.shape[0], b.shape[0])
    if not step or a.shape[1] <= step:
        acc += a @ b.T
        return
    for j in range(0, a.shape[1], step):
        acc += a[:, j : j + step] @ b[:, j : j + step].T


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
    ``(N, FN, OH, OW)``: with ``col = im2col(x)``, ``out = col @ W_mat.T + b``. ``backward(dout)``
    sets ``dW = dout_mat.T @ col``, ``db = dout.sum(axis=(0, 2, 3))`` and returns
    ``dx = col2im(dout_mat @ W_mat)``.

    The product is computed in the transposed layout, with the columns in ``(OH, OW, N)``
    order (:func:`~layerwise.conv_utils.windows_bl`) and the bias folded in as a row of ones:
    ``[W_mat b] @ [col_t; 1]`` gives the output batch-last, so ``out`` is returned as a
    transposed view whose memory is ordered ``(FN, OH, OW, N)``. ReLU and Pooling keep that
    order and work on it in long contiguous runs (a 2x2 pooling's pairs of rows or columns
    are runs of ``N`` or ``OW * N`` values, not single values); an Affine layer flattens it
    without a copy and returns its ``dx`` in the same layout; and the backward pass reads
    ``dout`` without a copy and gets ``db`` from the same product as ``dW``. Measured on one
    thread: SimpleConvNet's steps 5 to 10% faster than with memory ordered ``(FN, N, OH,
    OW)``, DeepConvNet's 12%.

    The batch is unrolled a chunk of output rows at a time (:attr:`chunk_bytes`), so the
    unrolled windows stay in cache rather than filling memory (for DeepConvNet's second
    layer they would take 45 MB per batch of 100), and backward unrolls them again. For
    stride 1, ``dx`` is the correlation of ``dout`` with the rotated filters, the same
    chunked product.
    """

    samples_independent = True

    param_names = ("W", "b")
    #: Bytes of unrolled windows per matrix product. The batch is processed in chunks of
    #: output rows this small, so that the unrolled copy stays in cache instead of going to
    #: memory.
    chunk_bytes = 1 << 23

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
        self.stride = _pair(stride, "stride", "Convolution", 1)
        self.pad = _pair(pad, "pad", "Convolution", 0)
        self.x: Array | None = None  # the last input
        self._col: Array | None = None  # its unrolled windows, when one chunk held them all
        self._geometry: _Geometry | None = None

    def _arg(self, v: tuple[int, int]) -> Any:
        return v[0] if v[0] == v[1] else v

    def _chunk(self, g: _Geometry, itemsize: int) -> int:
        """Output rows per chunk: as many as keep one chunk's unrolled windows within
        :attr:`chunk_bytes` (at least one)."""
        per_row = (g.cols + 1) * g.out_w * g.n * itemsize
        return max(1, min(g.out_h, self.chunk_bytes // per_row))

    def _chunks(self, x: Array, g: _Geometry, ones: bool, slot: int = 0) -> Iterator[tuple[int, int, Array]]:
        """``(lo, hi, col)`` for consecutive chunks of output rows: ``col`` holds the windows
        of output rows ``lo:hi`` of every image, shape ``(C*FH*FW, (hi-lo)*OW*N)``, columns
        in ``(oh, ow, n)`` order, with a row of ones under it when ``ones``. The chunks share
        workspace ``slot``: each ``col`` is valid until the next is drawn."""
        k, per_row = g.cols, g.out_w * g.n
        rc = self._chunk(g, x.dtype.itemsize)
        size = (k + 1) * rc * per_row
        # One chunk for the whole batch (kept for backward): an array of its own. Several:
        # the buffer all layers share, which stays in cache from one layer to the next.
        buf = np.empty(size, dtype=x.dtype) if rc >= g.out_h else _workspace(slot, size, x.dtype)
        rows = k + 1 if ones else k
        win = windows_bl(x, g)  # padded once; each chunk is one copy out of this view
        for lo in range(0, g.out_h, rc):
            hi = min(lo + rc, g.out_h)
            col = buf[: rows * (hi - lo) * per_row].reshape(rows, -1)
            np.copyto(col[:k].reshape(g.c, g.fh, g.fw, hi - lo, g.out_w, g.n), win[:, :, :, lo:hi])
            if ones:
                col[k] = 1
            yield lo, hi, col

    def _correlate(self, x: Array, w_mat: Array, g: _Geometry, ones: bool,
                   slot: int = 0) -> tuple[Array, Array]:
        """``w_mat @ [windows; 1]`` chunk by chunk: ``(F, OH*OW*N)``, batch-last, and the
        last chunk's unrolled windows (all of them when one chunk held the batch)."""
        per_row = g.out_w * g.n
        out = np.empty((w_mat.shape[0], g.out_h * per_row), dtype=x.dtype)
        for lo, hi, col in self._chunks(x, g, ones, slot):
            _matmul_into(w_mat, col, out[:, lo * per_row:hi * per_row])
        return out, col

    def forward(self, x: ArrayLike) -> Array:
        x = self._input(x)
        fn, c, fh, fw = self.W.shape
        if x.ndim != 4 or x.shape[1] != c:
            raise ShapeError(f"Convolution: expected input of shape (N, {c}, H, W), got {x.shape}")
        g = _Geometry("Convolution", x.shape, fh, fw, self.stride, self.pad)
        # A row of ones under the unrolled windows and b as an extra column of W_mat: the
        # product adds the bias, and in backward the same product with dout yields db.
        w_b = np.concatenate([self.W.reshape(fn, g.cols), self.b[:, None]], axis=1)
        out, last_col = self._correlate(x, w_b, g, ones=True)
        self.x, self._geometry = x, g
        # One chunk held the whole batch: keep its windows for backward instead of unrolling again.
        self._col = last_col if last_col.shape[1] == out.shape[1] and self.training else None
        return out.reshape(fn, g.out_h, g.out_w, g.n).transpose(3, 0, 1, 2)

    def backward(self, dout: ArrayLike) -> Array:
        dx = self._backward(dout, need_dx=True)
        assert dx is not None
        return dx

    def backward_params(self, dout: ArrayLike) -> None:
        """Like :meth:`backward` but skips ``dx`` (a network's first layer needs no ``dx``)."""
        self._backward(dout, need_dx=False)

    def _backward(self, dout: ArrayLike, need_dx: bool) -> Array | None:
        """Set ``dW`` and ``db``; return ``dx`` when ``need_dx``.

        ``dW`` and ``db`` come chunk by chunk from ``dout_mat @ [col; 1].T``, unrolling each
        chunk's windows again (cheaper than keeping them all from the forward pass). For
        stride 1, ``dx`` is itself a correlation: ``dout`` padded by ``FH - 1 - pad`` with the
        filters rotated by 180 degrees and input and output channels swapped. Other strides
        scatter ``W_mat.T @ dout_mat`` back with :func:`~layerwise.conv_utils.col2im_bl`.
        """
        self._require(self.x)
        assert self.x is not None and self._geometry is not None
        x, g = self.x, self._geometry
        fn = self.W.shape[0]
        d = self._dout(dout, (g.n, fn, g.out_h, g.out_w), self.W.dtype)
        dmat = d.transpose(1, 2, 3, 0).reshape(fn, -1)  # free for a batch-last dout
        per_row = g.out_w * g.n
        dw_b = np.zeros((fn, g.cols + 1), dtype=self.W.dtype)
        cached = [] if self._col is None else [(0, g.out_h, self._col)]
        for lo, hi, col in cached or self._chunks(x, g, ones=True):
            _add_a_bt(dw_b, dmat[:, lo * per_row:hi * per_row], col)  # dW, then db from the ones
        self.dW = np.ascontiguousarray(dw_b[:, :-1]).reshape(self.W.shape)
        self.db = dw_b[:, -1].copy()
        if not need_dx:
            return None
        if (g.sh, g.sw) == (1, 1) and g.ph < g.fh and g.pw < g.fw:
            # the full correlation: its output size is exactly the input size for stride 1
            gb = _Geometry("Convolution", d.shape, g.fh, g.fw, 1, (g.fh - 1 - g.ph, g.fw - 1 - g.pw))
            w_rot = np.ascontiguousarray(self.W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(g.c, -1)
            dx, _ = self._correlate(d, w_rot, gb, ones=False, slot=1)
            return dx.reshape(g.c, g.h, g.w, g.n).transpose(3, 0, 1, 2)
        return col2im_bl(self.W.reshape(fn, -1).T @ dmat, g)

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
