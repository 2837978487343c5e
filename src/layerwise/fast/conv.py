"""The fast Convolution kernel: the same product as the book's, arranged for the CPU.

:class:`~layerwise.layers.Convolution` computes ``im2col(x) @ W_mat.T + b`` and reshapes it.
This kernel gives the same numbers (up to float rounding) with four changes:

* **Batch-last layout.** The windows are unrolled transposed, with the columns in
  ``(OH, OW, N)`` order (:func:`windows_bl`), and the bias is folded in as a row of ones:
  ``[W_mat b] @ [col_t; 1]`` gives the output batch-last, so ``out`` is returned as a
  transposed view whose memory is ordered ``(FN, OH, OW, N)``. The fast ReLU and Pooling keep
  that order and work on it in long contiguous runs (a 2x2 pooling's pairs of rows or
  columns are runs of ``N`` or ``OW * N`` values, not single values); an Affine layer
  flattens it without a copy and returns its ``dx`` in the same layout; and the backward pass
  reads ``dout`` without a copy and gets ``db`` from the same product as ``dW``. Measured on
  one thread: SimpleConvNet's steps 5 to 10% faster than with memory ordered
  ``(FN, N, OH, OW)``, DeepConvNet's 12%.
* **Chunks and workspaces.** The batch is unrolled a chunk of output rows at a time
  (:data:`CHUNK_BYTES`), so the unrolled windows stay in cache rather than filling memory
  (for DeepConvNet's second layer they would take 45 MB per batch of 100), into a buffer
  kept per thread between calls; backward unrolls them again, from the padded copy of the
  input the forward pass kept (:func:`padded_bl`, which writes only the border). A batch
  whose windows are small (:data:`WHOLE_BYTES`) is unrolled whole and keeps them for backward.
* **Small products in blocks** (:data:`SMALL_PRODUCT`, :data:`MIN_BLOCK`).
* **dx as a correlation.** For stride 1, ``dx`` is the correlation of ``dout`` padded by
  ``FH - 1 - pad`` with the filters rotated by 180 degrees and input and output channels
  swapped: the same chunked product instead of a scatter by ``col2im``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from layerwise.conv_utils import Geometry
from layerwise.fast._layers import ConvolutionState
from layerwise.fast._state import load, save

__all__ = ["conv_forward", "conv_backward", "windows_bl", "padded_bl", "col2im_bl",
           "CHUNK_BYTES", "WHOLE_BYTES", "WHOLE_IN_ONE", "SMALL_PRODUCT", "MIN_BLOCK"]

Array = NDArray[Any]

#: Bytes of unrolled windows per matrix product. The batch is processed in chunks of output
#: rows this small, so that the unrolled copy stays in cache instead of going to memory: in a
#: core's L2 (512 KiB on the AMD EPYC of the benchmarks), where the product's packing reads it
#: back. For DeepConvNet that is one output row per chunk. Measured (issue 32), a DeepConvNet
#: step on one thread, batch 50, interleaved rounds: 54.7 ms with 512 KiB, 58.8 ms with the
#: earlier 8 MiB (which still fitted L3); on two threads, batch 100: 114 ms against 130 ms.
CHUNK_BYTES = 1 << 19

#: OpenBLAS multiplies matrices with ``m * n * k`` up to about 1e6 through a separate kernel
#: for small matrices, which for a convolution with few filters over few channels (short, very
#: wide products) is much faster than its general path. Measured on one thread: SimpleConvNet's
#: ``(30 x 26) @ (26 x 28800)`` took 626 us as one product and 387 us in blocks of 1282
#: columns; its weight gradient 887 us and 545 us. Such products are therefore split along
#: their long axis into blocks under that size, when the blocks are long (at least
#: :data:`MIN_BLOCK`): for wider filter banks the blocks would be short, and slower than one
#: product (DeepConvNet's ``(32 x 145) @ (145 x 9800)``: 785 us whole, 1051 us in blocks of 215).
SMALL_PRODUCT = 1_000_000

#: In training, a batch whose unrolled windows take at most this many bytes is unrolled whole,
#: in one product, and the windows are kept for backward, which then need not unroll them
#: again (as for every batch up to 8 MiB before issue 32). Larger ones go in chunks of
#: :data:`CHUNK_BYTES` and are unrolled again. SimpleConvNet's first layer (3 MB at batch 50)
#: is kept; of DeepConvNet's, the first and fifth. Measured on one thread, batch 50, rounds
#: interleaved with the 8 MiB-whole kernels: SimpleConvNet's step 8.7 / 9.1 ms (noise),
#: DeepConvNet's 57.5 / 53.6 ms.
WHOLE_BYTES = 1 << 22

#: Whether windows kept for backward are unrolled and multiplied in one product rather than
#: in chunks of :data:`CHUNK_BYTES` (tests turn it off to exercise kept chunks).
WHOLE_IN_ONE = True
MIN_BLOCK = 1024

_LOCAL = threading.local()  # per thread: layers running in parallel threads never share


def padded_bl(x: Array, ph: int, pw: int, fill: float = 0.0) -> Array:
    """A batch-last copy ``(C, H + 2*ph, W + 2*pw, N)`` of ``x`` (N, C, H, W) with ``ph`` rows
    and ``pw`` columns of ``fill`` around each image. Only the border is filled: the inside is
    written once, by the copy of ``x`` (``np.full`` and then a copy wrote it twice)."""
    xb = x.transpose(1, 2, 3, 0)
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(xb)
    c, h, w, n = xb.shape
    out = np.empty((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    out[:, :ph] = fill
    out[:, ph + h:] = fill
    out[:, ph:ph + h, :pw] = fill
    out[:, ph:ph + h, pw + w:] = fill
    out[:, ph:ph + h, pw:pw + w] = xb
    return out


def _windows_of_padded(xp: Array, g: Geometry) -> Array:
    """The windows view of :func:`windows_bl` over an already padded batch-last ``xp``."""
    v = sliding_window_view(xp, (g.fh, g.fw), axis=(1, 2))[:, :: g.sh, :: g.sw]
    return v.transpose(0, 4, 5, 1, 2, 3)


def windows_bl(x: Array, g: Geometry, fill: float = 0.0) -> Array:
    """A read-only view ``(C, fh, fw, out_h, out_w, N)`` of the windows of ``x`` (N, C, H, W)
    padded with ``fill``, over a batch-last copy ``(C, H, W, N)`` of ``x``: free when ``x``
    is a view of such memory (a fast Convolution's output is) and nothing is padded.

    Copied out as a matrix ``(C*fh*fw, out_h*out_w*N)``, a window row is read as whole
    runs of ``out_w * N`` values (for stride 1), and a range of output rows
    (``[:, :, :, lo:hi]``) is a contiguous range of its columns."""
    return _windows_of_padded(padded_bl(x, g.ph, g.pw, fill), g)


def col2im_bl(col: Array, g: Geometry) -> Array:
    """The adjoint of copying :func:`windows_bl` out as a matrix: ``col`` of shape
    ``(C*fh*fw, out_h*out_w*N)`` back to images ``(N, C, H, W)``, returned as a view of
    batch-last memory ``(C, H, W, N)``."""
    col6 = col.reshape(g.c, g.fh, g.fw, g.out_h, g.out_w, g.n)
    img = np.zeros((g.c, g.h + 2 * g.ph, g.w + 2 * g.pw, g.n), dtype=col.dtype)
    for i, j, rows, cols in g.offsets():
        img[:, rows, cols] += col6[:, i, j]
    return img[:, g.ph:g.ph + g.h, g.pw:g.pw + g.w].transpose(3, 0, 1, 2)


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


def chunk_rows(g: Geometry, itemsize: int) -> int:
    """Output rows per chunk: as many as keep one chunk's unrolled windows within
    :data:`CHUNK_BYTES` (at least one)."""
    per_row = (g.cols + 1) * g.out_w * g.n * itemsize
    return max(1, min(g.out_h, CHUNK_BYTES // per_row))


def _chunks(xp: Array, g: Geometry, ones: bool, slot: int = 0,
            keep: bool = False) -> Iterator[tuple[int, int, Array]]:
    """``(lo, hi, col)`` for consecutive chunks of output rows: ``col`` holds the windows
    of output rows ``lo:hi`` of every image of ``xp`` (the batch-last padded copy of the
    input, :func:`padded_bl`), shape ``(C*FH*FW, (hi-lo)*OW*N)``, columns in ``(oh, ow, n)``
    order, with a row of ones under it when ``ones``. The chunks share workspace ``slot``:
    each ``col`` is valid until the next is drawn; with ``keep``, each is a part of one new
    array instead, valid as long as it is referenced."""
    k, per_row = g.cols, g.out_w * g.n
    rc = g.out_h if keep and WHOLE_IN_ONE else chunk_rows(g, xp.dtype.itemsize)
    rows = k + 1 if ones else k
    if keep:
        buf = np.empty(rows * g.out_h * per_row, dtype=xp.dtype)
    else:  # the buffer all layers share, which stays in cache from one layer to the next
        buf = _workspace(slot, rows * rc * per_row, xp.dtype)
    win = _windows_of_padded(xp, g)  # each chunk is one copy out of this view
    for lo in range(0, g.out_h, rc):
        hi = min(lo + rc, g.out_h)
        start = rows * lo * per_row if keep else 0
        col = buf[start : start + rows * (hi - lo) * per_row].reshape(rows, -1)
        np.copyto(col[:k].reshape(g.c, g.fh, g.fw, hi - lo, g.out_w, g.n), win[:, :, :, lo:hi])
        if ones:
            col[k] = 1
        yield lo, hi, col


def _correlate(xp: Array, w_mat: Array, g: Geometry, ones: bool, slot: int = 0,
               keep: bool = False) -> tuple[Array, list[tuple[int, int, Array]] | None]:
    """``w_mat @ [windows; 1]`` chunk by chunk over the padded batch-last ``xp``:
    ``(F, OH*OW*N)``, batch-last, and with ``keep`` every chunk's ``(lo, hi, col)``."""
    per_row = g.out_w * g.n
    out = np.empty((w_mat.shape[0], g.out_h * per_row), dtype=xp.dtype)
    kept = []
    for lo, hi, col in _chunks(xp, g, ones, slot, keep):
        _matmul_into(w_mat, col, out[:, lo * per_row:hi * per_row])
        if keep:
            kept.append((lo, hi, col))
    return out, kept if keep else None


def conv_forward(layer: ConvolutionState, x: Array) -> Array:
    """:meth:`Convolution.forward <layerwise.layers.Convolution.forward>` for a checked
    input ``x`` of shape ``(N, C, H, W)``; returns ``(N, FN, OH, OW)`` as a batch-last view."""
    fn, c, fh, fw = layer.W.shape
    g = Geometry("Convolution", x.shape, fh, fw, layer.stride, layer.pad)
    # A row of ones under the unrolled windows and b as an extra column of W_mat: the
    # product adds the bias, and in backward the same product with dout yields db.
    w_b = np.concatenate([layer.W.reshape(fn, g.cols), layer.b[:, None]], axis=1)
    xp = padded_bl(x, g.ph, g.pw)
    # Small enough: keep the windows for backward instead of unrolling them again; else keep
    # the padded copy, which backward unrolls again without padding again.
    keep = layer.training and (g.cols + 1) * g.out_h * g.out_w * g.n * x.dtype.itemsize <= WHOLE_BYTES
    out, chunks = _correlate(xp, w_b, g, ones=True, keep=keep)
    layer.col, layer.col_W = None, None
    save(layer, x, g, chunks, xp if layer.training and not keep else None)
    return out.reshape(fn, g.out_h, g.out_w, g.n).transpose(3, 0, 1, 2)


def conv_backward(layer: ConvolutionState, dout: Any, need_dx: bool = True) -> Array | None:
    """Set ``layer.dW`` and ``layer.db`` after :func:`conv_forward`; return ``dx`` when
    ``need_dx``.

    ``dW`` and ``db`` come chunk by chunk from ``dout_mat @ [col; 1].T``, from the chunks
    the forward pass kept when they were small (:data:`WHOLE_BYTES`), else unrolling each
    chunk's windows again from the padded copy it kept (cheaper than keeping them all). For stride
    1, ``dx`` is itself a correlation (see the module's docstring); other strides scatter
    ``W_mat.T @ dout_mat`` back with :func:`col2im_bl`.
    """
    x, g, cached, xp = load(layer)
    fn = layer.W.shape[0]
    d = layer._dout(dout, (g.n, fn, g.out_h, g.out_w), layer.W.dtype)
    dmat = d.transpose(1, 2, 3, 0).reshape(fn, -1)  # free for a batch-last dout
    per_row = g.out_w * g.n
    dw_b = np.zeros((fn, g.cols + 1), dtype=layer.W.dtype)
    if not cached and xp is None:  # a forward pass in inference mode kept nothing
        xp = padded_bl(x, g.ph, g.pw)
    for lo, hi, col in cached or _chunks(xp, g, ones=True):
        _add_a_bt(dw_b, dmat[:, lo * per_row:hi * per_row], col)  # dW, then db from the ones
    layer.dW = np.ascontiguousarray(dw_b[:, :-1]).reshape(layer.W.shape)
    layer.db = dw_b[:, -1].copy()
    if not need_dx:
        return None
    if (g.sh, g.sw) == (1, 1) and g.ph < g.fh and g.pw < g.fw:
        # the full correlation: its output size is exactly the input size for stride 1
        gb = Geometry("Convolution", d.shape, g.fh, g.fw, 1, (g.fh - 1 - g.ph, g.fw - 1 - g.pw))
        w_rot = np.ascontiguousarray(layer.W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(g.c, -1)
        dx, _ = _correlate(padded_bl(d, gb.ph, gb.pw), w_rot, gb, ones=False, slot=1)
        return dx.reshape(g.c, g.h, g.w, g.n).transpose(3, 0, 1, 2)
    return col2im_bl(layer.W.reshape(fn, -1).T @ dmat, g)
