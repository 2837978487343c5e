"""Read and write IDX files, the format of the MNIST database (raw or gzip-compressed).

Layout (all integers big-endian)::

    offset 0   0x00 0x00       magic: two zero bytes
    offset 2   type code       0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                               0x0D float32, 0x0E float64
    offset 3   ndim            number of dimensions, >= 1
    offset 4   ndim x uint32   size of each dimension
    then       the data, C order, big-endian, exactly prod(dims) items, nothing after it

The reader checks every one of these and raises :class:`~layerwise.errors.DataError` naming the
file, what was expected and what was found.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from layerwise.errors import DataError
from layerwise.fileio import atomic_write

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

#: IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _type_code(dtype: np.dtype[Any]) -> int | None:
    for code, idx_dtype in IDX_DTYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    return None


def _read_exact(f: _Readable, n: int) -> bytearray:
    """Read up to ``n`` bytes in chunks, so a corrupt header cannot make us allocate its claim."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def read_idx(path: str | os.PathLike[str]) -> np.ndarray[Any, np.dtype[Any]]:
    """Read an IDX file (raw, or gzip-compressed: detected from its first bytes).

    Parameters
    ----------
    path : path-like
        File to read, e.g. ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray of shape dims
        A writable array in native byte order whose shape is the header's dimensions, e.g.
        ``(60000, 28, 28)`` uint8 for MNIST training images or ``(60000,)`` for its labels.

    Raises
    ------
    DataError
        Bad magic number, unknown type code, truncated header or payload, bytes after the payload,
        or a corrupt/truncated gzip stream. ``FileNotFoundError`` if the file does not exist.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        try:
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    return _parse(gz, path, compressed)
            return _parse(raw, path, compressed)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # EOFError: the gzip stream stops before its end marker (truncated download);
            # zlib.error / BadGzipFile: corrupt deflate data, bad CRC or length trailer.
            raise DataError(
                f"{path}: corrupt or truncated gzip data: expected a complete gzip stream, "
                f"found {type(exc).__name__}: {exc}"
            ) from exc


def _parse(f: _Readable, path: Path, compressed: bool) -> np.ndarray[Any, np.dtype[Any]]:
    where = f"{path}" + (" (after gzip decompression)" if compressed else "")
    magic = _read_exact(f, 4)
    if len(magic) < 4:
        raise DataError(
            f"{where}: truncated IDX header: expected 4 magic bytes, found {len(magic)}"
        )
    if magic[0] != 0 or magic[1] != 0:
        raise DataError(
            f"{where}: not an IDX file: expected magic bytes 00 00 <type> <ndim>, "
            f"found {magic.hex(' ')}"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(
            f"{where}: unknown IDX type code: expected one of {known}, found 0x{code:02X}"
        )
    if ndim == 0:
        raise DataError(f"{where}: bad IDX header: expected at least 1 dimension, found 0")
    dims_raw = _read_exact(f, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(
            f"{where}: truncated IDX header: expected {4 * ndim} bytes of dimensions for "
            f"ndim={ndim}, found {len(dims_raw)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(bytes(dims_raw), dtype=">u4"))
    dtype = IDX_DTYPES[code]
    n_bytes = math.prod(dims) * dtype.itemsize
    payload = _read_exact(f, n_bytes)
    if len(payload) < n_bytes:
        raise DataError(
            f"{where}: truncated IDX payload: expected {n_bytes} bytes for shape {dims} of "
            f"{dtype.newbyteorder('=').name}, found {len(payload)}"
        )
    extra = f.read(_CHUNK)
    if extra:
        n_extra = len(extra)
        while chunk := f.read(_CHUNK):
            n_extra += len(chunk)
        raise DataError(
            f"{where}: trailing bytes after IDX payload: expected {4 + 4 * ndim + n_bytes} bytes "
            f"in all, found {n_extra} more"
        )
    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
    if dtype.itemsize == 1:
        return array  # backed by our own bytearray: already writable, byte order is moot
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray[Any, np.dtype[Any]]) -> Path:
    """Write ``array`` as an IDX file, atomically; gzip-compressed if ``path`` ends in ``.gz``.

    The gzip header carries no timestamp and no file name, so the same array always gives the
    same bytes (and SHA-256).

    Parameters
    ----------
    path : path-like
        Destination, e.g. ``train-images-idx3-ubyte.gz``.
    array : ndarray of any shape with ndim >= 1
        dtype uint8, int8, int16, int32, float32 or float64; each dimension below 2**32.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The dtype has no IDX type code (e.g. int64: cast it first), ``ndim`` is 0 or above 255,
        or a dimension does not fit in 32 bits.
    """
    path = Path(path)
    a = np.asarray(array)
    code = _type_code(a.dtype)
    if code is None:
        raise ValueError(
            f"write_idx({path}): dtype {a.dtype} has no IDX type code; expected one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"write_idx({path}): expected 1 to 255 dimensions, found {a.ndim}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"write_idx({path}): dimensions must be below 2**32, found {a.shape}")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()
    with atomic_write(path) as f:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            f.write(header)
            f.write(payload)
    return path
