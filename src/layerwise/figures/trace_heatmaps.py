"""The heat maps and value summaries of a trace figure: an array as a small PNG, or as a line of text."""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable

import numpy as np

from layerwise.figures.graph.fmt import format_number

#: At most this many values are written out in a label; more are summarised.
MAX_LISTED = 6
#: At most this many channels of a feature map are drawn.
MAX_CHANNELS = 8
#: A heat map's cell is drawn at most this many pixels wide.
MAX_CELL_PX = 10
#: Heat maps are reduced to at most this many cells a side before encoding.
MAX_CELLS = 96


# -- heat maps --------------------------------------------------------------------------------
def png_bytes(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB image ``(H, W, 3)`` as PNG file bytes (no dependency but zlib)."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + \
        chunk(b"IEND", b"")


def heat_rgb(values: np.ndarray, signed: bool | None = None) -> np.ndarray:
    """A 2-D array as colours: blue–white–red around 0 for signed data, white–black for
    data that is never negative (an image), scaled by the largest magnitude. NaN is grey."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    signed = bool(np.any(v[finite] < 0)) if signed is None else signed
    scale = float(np.max(np.abs(v[finite]))) if np.any(finite) else 0.0
    u = np.where(finite, v, 0.0) / scale if scale > 0 else np.zeros_like(v)
    rgb = np.empty((*v.shape, 3))
    if signed:
        pos, neg = np.clip(u, 0, 1)[..., None], np.clip(-u, 0, 1)[..., None]
        white = np.array([255.0, 255.0, 255.0])
        rgb[...] = white - pos * (white - np.array([178.0, 24.0, 43.0])) \
            - neg * (white - np.array([33.0, 102.0, 172.0]))
    else:
        rgb[...] = (255.0 * (1.0 - np.clip(u, 0, 1)))[..., None]
    rgb[~finite] = 160.0
    return np.rint(rgb).astype(np.uint8)


def reduce_cells(m: np.ndarray, cells: int = MAX_CELLS) -> np.ndarray:
    """``m`` (2-D) reduced by blocks so that neither side exceeds ``cells``: each block shows
    its entry of largest magnitude, sign kept, so that a sparse gradient stays visible."""
    h, w = m.shape
    fh, fw = max(1, math.ceil(h / cells)), max(1, math.ceil(w / cells))
    if fh == 1 and fw == 1:
        return m
    ph, pw = -h % fh, -w % fw
    padded = np.pad(m.astype(np.float64), ((0, ph), (0, pw)), constant_values=0.0)
    blocks = padded.reshape(padded.shape[0] // fh, fh, padded.shape[1] // fw, fw).transpose(0, 2, 1, 3)
    flat = blocks.reshape(*blocks.shape[:2], fh * fw)
    with np.errstate(invalid="ignore"):
        pick = np.argmax(np.where(np.isfinite(flat), np.abs(flat), -1.0), axis=-1)
    return np.take_along_axis(flat, pick[..., None], axis=-1)[..., 0]


def heat_tiles(value: np.ndarray, image: bool = False) -> tuple[list[np.ndarray], Callable[[int], str], bool]:
    """The 2-D maps to draw for one sample's array, the note on what was left out once ``k``
    of them are drawn, and whether to keep their aspect.
    ``image``: a flat vector of a square size is drawn as the square image it was (784 = 28²)."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 3:  # (C, H, W): the first channels side by side
        channels = v.shape[0]
        return ([reduce_cells(c) for c in v[:MAX_CHANNELS]],
                lambda k: f"channels 1–{k} of {channels}" if k < channels else "", True)
    if v.ndim == 4:  # convolution filters (F, C, kh, kw): the first channel of the first ones
        filters, depth = v.shape[:2]
        return ([reduce_cells(f) for f in v[:MAX_CHANNELS, 0]],
                lambda k: f"filters 1–{k} of {filters}, channel 1" if k < filters or depth > 1 else "", True)
    if v.ndim == 2:  # a matrix: stretched to the space there is
        return [reduce_cells(v.T if v.shape[0] > v.shape[1] else v)], no_note, False
    flat = v.reshape(-1)
    side = math.isqrt(flat.size)
    if image and side * side == flat.size and side >= 4:
        return [reduce_cells(flat.reshape(side, side))], no_note, True
    cols = min(flat.size, 50)
    rows = math.ceil(flat.size / cols)
    grid = np.full(rows * cols, np.nan)
    grid[: flat.size] = flat
    return [reduce_cells(grid.reshape(rows, cols))], no_note, False


def no_note(drawn: int) -> str:
    return ""


def value_summary(value: np.ndarray) -> str:
    """The values when few, else min / mean / max (and the share of zeros when notable)."""
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size == 0:
        return "empty"
    if v.size <= MAX_LISTED:
        return "[" + ", ".join(format_number(x, 3) for x in v) + "]"
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return "no finite values"
    text = (f"min {format_number(float(finite.min()), 3)}  mean {format_number(float(finite.mean()), 3)}"
            f"  max {format_number(float(finite.max()), 3)}")
    zeros = float(np.mean(v == 0))
    if zeros >= 0.05:
        text += f"  ({zeros:.0%} zero)"
    if finite.size < v.size:
        text += f"  {v.size - finite.size} not finite"
    return text


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + (",)" if len(shape) == 1 else ")")
