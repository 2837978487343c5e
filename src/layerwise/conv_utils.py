"""im2col / col2im: convolution as one matrix product (book §7.4.3).

:func:`im2col` unrolls every filter-sized window of a batch of images into a row, in the
book's layout ``(N*out_h*out_w, C*filter_h*filter_w)``; :func:`col2im` is its exact adjoint
(``<im2col(x), y> == <x, col2im(y)>``): it adds each row back onto the pixels it came from.

:func:`im2col_t` / :func:`col2im_t` are the same pair in the transposed layout
``(C*filter_h*filter_w, N*out_h*out_w)``, built directly rather than by transposing.

:class:`~layerwise.layers.Convolution` and :class:`~layerwise.layers.Pooling` use
:func:`im2col` and :func:`col2im` as the book does; the fast kernels in :mod:`layerwise.fast`
use other arrangements of the same windows.

Both are vectorised with strided window views; only ``col2im`` loops, over the
``filter_h * filter_w`` kernel offsets (each iteration adds a whole strided slab). The output
size ``(H + 2*pad - filter_h) / stride + 1`` must be a positive integer: windows are never
silently dropped at the border.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from layerwise.errors import ConfigError, ShapeError, check_int

__all__ = ["im2col", "col2im", "im2col_t", "col2im_t", "windows_t", "conv_output_size", "Geometry",
           "int_pair", "IntPair"]

Array = NDArray[Any]
IntPair = int | tuple[int, int]


def int_pair(value: Any, who: str, arg: str, minimum: int) -> tuple[int, int]:
    """``value`` as ``(height, width)``, each an integer ``>= minimum``: an int applies to both."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ConfigError(f"{who}: {arg} must be an int or a pair (h, w), got {value!r}")
        return check_int(value[0], who, arg, minimum), check_int(value[1], who, arg, minimum)
    v = check_int(value, who, arg, minimum)
    return v, v


def _output_size(who: str, axis: str, size: int, k: int, s: int, p: int) -> int:
    padded = size + 2 * p
    if k > padded:
        raise ShapeError(
            f"{who}: the {axis} of the {k}-wide window exceeds the input {axis} {size} padded by "
            f"{p} on each side ({padded})"
        )
    if (padded - k) % s:
        raise ShapeError(
            f"{who}: output {axis} ({size} + 2*{p} - {k}) / {s} + 1 = {(padded - k) / s + 1:g} is "
            f"not an integer; choose stride and pad so that {s} divides {padded - k}"
        )
    return (padded - k) // s + 1


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """``(input_size + 2*pad - filter_size) / stride + 1``, checked to be a positive integer.

    Raises :class:`~layerwise.ShapeError` when the filter is larger than the padded input or
    the division is not exact (book §7.2.4).
    """
    who = "conv_output_size"
    return _output_size(
        who, "size", check_int(input_size, who, "input_size", 1),
        check_int(filter_size, who, "filter_size", 1), check_int(stride, who, "stride", 1),
        check_int(pad, who, "pad", 0),
    )


class Geometry:
    """Validated sizes of one im2col/col2im call."""

    def __init__(self, who: str, shape: tuple[int, ...], filter_h: Any, filter_w: Any,
                 stride: Any, pad: Any) -> None:
        if len(shape) != 4:
            raise ShapeError(f"{who}: expected images of shape (N, C, H, W), got shape {tuple(shape)}")
        self.n, self.c, self.h, self.w = (int(v) for v in shape)
        self.fh = check_int(filter_h, who, "filter_h", 1)
        self.fw = check_int(filter_w, who, "filter_w", 1)
        self.sh, self.sw = int_pair(stride, who, "stride", 1)
        self.ph, self.pw = int_pair(pad, who, "pad", 0)
        self.out_h = _output_size(who, "height", self.h, self.fh, self.sh, self.ph)
        self.out_w = _output_size(who, "width", self.w, self.fw, self.sw, self.pw)

    @property
    def rows(self) -> int:  # one per output pixel
        return self.n * self.out_h * self.out_w

    @property
    def cols(self) -> int:  # one per filter tap
        return self.c * self.fh * self.fw

    def offsets(self) -> list[tuple[int, int, slice, slice]]:
        """Each kernel offset ``(i, j)`` with the strided slices of the padded image it reads."""
        return [
            (i, j, slice(i, i + self.sh * (self.out_h - 1) + 1, self.sh),
             slice(j, j + self.sw * (self.out_w - 1) + 1, self.sw))
            for i in range(self.fh) for j in range(self.fw)
        ]


def _pad(x: Array, ph: int, pw: int, fill: float, axes: tuple[int, int] = (-2, -1)) -> Array:
    """``x`` with ``ph`` rows / ``pw`` columns of ``fill`` around its ``axes`` (the image's
    height and width; by default the last two), as a new C-contiguous array, or ``x`` itself
    when there is nothing to pad."""
    if ph == 0 and pw == 0:
        return x
    ah, aw = (a % x.ndim for a in axes)
    shape = list(x.shape)
    shape[ah] += 2 * ph
    shape[aw] += 2 * pw
    out = np.full(shape, fill, dtype=x.dtype)
    inner = [slice(None)] * x.ndim
    inner[ah], inner[aw] = slice(ph, ph + x.shape[ah]), slice(pw, pw + x.shape[aw])
    out[tuple(inner)] = x
    return out


def _windows(xp: Array, g: Geometry) -> Array:
    """Read-only view ``(A, B, out_h, out_w, fh, fw)`` of the windows of a padded 4-D array."""
    v = sliding_window_view(xp, (g.fh, g.fw), axis=(2, 3))
    return v[:, :, :: g.sh, :: g.sw]


def _as_float(x: ArrayLike) -> Array:
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


def im2col(x: ArrayLike, filter_h: int, filter_w: int, stride: IntPair = 1, pad: IntPair = 0,
           fill: float = 0.0) -> Array:
    """Unroll the windows of ``x`` into rows, in the book's layout (book §7.4.3).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    filter_h, filter_w : int
    stride, pad : int or (int, int)
        Padding of ``pad`` pixels on each side.
    fill : float
        The value of the padding: 0 for a convolution, ``-inf`` for max pooling.

    Returns
    -------
    col : ndarray of shape (N*out_h*out_w, C*filter_h*filter_w)
        Row ``(n, oh, ow)`` holds window ``x_padded[n, :, oh*s:oh*s+fh, ow*s:ow*s+fw]`` flattened
        in ``(c, i, j)`` order. A new array (read-only view in the trivial 1x1 case).
    """
    # the transposed layout (what the layers use) is the one implementation
    return np.ascontiguousarray(im2col_t(x, filter_h, filter_w, stride, pad, fill).T)


def col2im(col: ArrayLike, input_shape: tuple[int, int, int, int], filter_h: int, filter_w: int,
           stride: IntPair = 1, pad: IntPair = 0) -> Array:
    """The adjoint of :func:`im2col`: add every row of ``col`` back onto its window.

    ``col`` has shape ``(N*out_h*out_w, C*filter_h*filter_w)``; returns an array of shape
    ``input_shape = (N, C, H, W)``. Pixels covered by several windows receive the sum, and the
    padding border is dropped, so ``<im2col(x), y> == <x, col2im(y)>`` for all ``x, y``.
    """
    c = _as_float(col)
    g = Geometry("col2im", tuple(input_shape), filter_h, filter_w, stride, pad)
    if c.shape != (g.rows, g.cols):
        raise ShapeError(
            f"col2im: expected col of shape ({g.rows}, {g.cols}) for input {tuple(input_shape)}, "
            f"a {g.fh}x{g.fw} filter, stride {(g.sh, g.sw)}, pad {(g.ph, g.pw)}; got {c.shape}"
        )
    # the adjoint of the transposed layout, which the layers use, is the one implementation
    return np.ascontiguousarray(col2im_t(c.T, input_shape, filter_h, filter_w, stride, pad))


def windows_t(x: Array, g: Geometry, fill: float = 0.0) -> Array:
    """A read-only view ``(C, fh, fw, N, out_h, out_w)`` of the windows of ``x`` (N, C, H, W)
    padded with ``fill``: :func:`im2col_t` is this view copied to a matrix. Chunks of the
    batch (``[:, :, :, lo:hi]``) can be copied out without padding or viewing again."""
    # channel-major (C, N, H, W): row (c, i, j) of the result is then one plane per image
    xp = _pad(x.transpose(1, 0, 2, 3), g.ph, g.pw, fill)
    return _windows(xp, g).transpose(0, 4, 5, 1, 2, 3)


def im2col_t(x: ArrayLike, filter_h: int, filter_w: int, stride: IntPair = 1, pad: IntPair = 0,
             fill: float = 0.0, out: Array | None = None) -> Array:
    """:func:`im2col` transposed, built directly: shape ``(C*filter_h*filter_w, N*out_h*out_w)``.

    Row ``(c, i, j)`` is the image plane ``x_padded[:, c, i::s, j::s]`` (cut to the output
    size) flattened in ``(n, oh, ow)`` order, so the copy moves whole image rows. ``fill`` is
    the value of the padding (``-inf`` for max pooling). ``out``, a C-contiguous array of the
    result's shape, receives the result instead of a new array.
    """
    xa = _as_float(x)
    g = Geometry("im2col_t", xa.shape, filter_h, filter_w, stride, pad)
    win = windows_t(xa, g, fill)
    if out is None:
        return win.reshape(g.cols, g.rows)
    if out.shape != (g.cols, g.rows) or not out.flags.c_contiguous:
        raise ShapeError(f"im2col_t: out must be C-contiguous of shape {(g.cols, g.rows)}, "
                         f"got {out.shape}")
    np.copyto(out.reshape(win.shape), win)
    return out


def col2im_t(col: ArrayLike, input_shape: tuple[int, int, int, int], filter_h: int, filter_w: int,
             stride: IntPair = 1, pad: IntPair = 0) -> Array:
    """The adjoint of :func:`im2col_t`: ``col`` of shape ``(C*filter_h*filter_w, N*out_h*out_w)``
    back to images of shape ``input_shape = (N, C, H, W)``.

    The result is a channel-major view (its memory is ordered ``(C, N, H, W)``).
    """
    c = _as_float(col)
    g = Geometry("col2im_t", tuple(input_shape), filter_h, filter_w, stride, pad)
    if c.shape != (g.cols, g.rows):
        raise ShapeError(
            f"col2im_t: expected col of shape ({g.cols}, {g.rows}) for input {tuple(input_shape)}, "
            f"a {g.fh}x{g.fw} filter, stride {(g.sh, g.sw)}, pad {(g.ph, g.pw)}; got {c.shape}"
        )
    col6 = c.reshape(g.c, g.fh, g.fw, g.n, g.out_h, g.out_w)
    hp, wp = g.h + 2 * g.ph, g.w + 2 * g.pw
    if (g.sh, g.sw) == (g.fh, g.fw) and (g.sh * g.out_h, g.sw * g.out_w) == (hp, wp):
        # Windows tile the image exactly: every pixel is written once, no zeroing or adding.
        img = np.empty((g.c, g.n, hp, wp), dtype=c.dtype)
        for i, j, rows, cols in g.offsets():
            img[:, :, rows, cols] = col6[:, i, j]
    else:
        img = np.zeros((g.c, g.n, hp, wp), dtype=c.dtype)
        for i, j, rows, cols in g.offsets():
            img[:, :, rows, cols] += col6[:, i, j]
    return img[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w].transpose(1, 0, 2, 3)

