"""Read and write IDX files, the format of the MNIST database (raw or gzip-compressed).

Layout (all integers big-endian)::

    offset 0   0x00 0x00       magic: two zero bytes
    offset 2   type code       0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                               0x0D float32, 0x0E float64
    offset 3   ndim            number of dimensions, >= 1
    offset 4   ndim x uint32   size of each dimension
    then       the data, C order, big-endian, exactly prod(dims) items, nothing after it

The reader checks every one of these and raises :class:`~layerwise.errors.DataError` naming the
file, what was expected and what was found; whatever the bytes (random, truncated, a hostile
header, a gzip bomb), it returns a valid array or raises that error, and reads no more than the
header claims (at most ``max_bytes``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import stat
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from layerwise.errors import ConfigError, DataError
from layerwise.files.fileio import atomic_write

__all__ = ["read_idx", "read_idx_hashed", "write_idx", "IdxDigests", "IDX_DTYPES", "MAX_PAYLOAD_BYTES"]

#: IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Default ``max_bytes`` of :func:`read_idx`: the largest payload a header may claim (2 GiB).
#: MNIST's training images are 47 MB and EMNIST's largest file 0.55 GB; a gzip file is read
#: only as far as its header says, so this bounds what a hostile header (a gzip bomb) can make
#: us hold in memory.
MAX_PAYLOAD_BYTES = 1 << 31

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# NumPy 1.x arrays have at most 32 dimensions, NumPy 2 at most 64; IDX allows 255.
_MAX_NDIM = 64 if int(np.__version__.split(".")[0]) >= 2 else 32
_MAX_INTP = int(np.iinfo(np.intp).max)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Sink(Protocol):
    def update(self, data: bytes, /) -> None: ...


class _Tee:
    """A reader that feeds every byte it returns to some hashers."""

    def __init__(self, f: _Readable, sinks: Sequence[_Sink]) -> None:
        self._f = f
        self._sinks = sinks

    def read(self, size: int = -1, /) -> bytes:
        data = self._f.read(size)
        for sink in self._sinks:
            sink.update(data)
        return data

    def seek(self, offset: int, /) -> int:  # part of gzip's protocol; reading never seeks
        raise io.UnsupportedOperation("a hashing reader cannot seek")


@dataclass(frozen=True)
class IdxDigests:
    """SHA-256 digests of one IDX file, taken while it was read.

    Attributes
    ----------
    sha256 : str
        Of the file as stored (the ``.gz`` bytes for a compressed file).
    raw_sha256 : str
        Of the IDX bytes: after decompression, so the same for every gzip encoding of the
        same data; equal to ``sha256`` for an uncompressed file.
    compressed : bool
        Whether the file was gzip-compressed.
    """

    sha256: str
    raw_sha256: str
    compressed: bool


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


def read_idx(
    path: str | os.PathLike[str], *, max_bytes: int | None = MAX_PAYLOAD_BYTES
) -> np.ndarray[Any, np.dtype[Any]]:
    """Read an IDX file (raw, or gzip-compressed: detected from its first bytes).

    Parameters
    ----------
    path : path-like
        File to read, e.g. ``train-images-idx3-ubyte.gz``.
    max_bytes : int or None, default :data:`MAX_PAYLOAD_BYTES`
        Refuse a header that claims a larger payload; None: no limit.

    Returns
    -------
    ndarray of shape dims
        A writable array in native byte order whose shape is the header's dimensions, e.g.
        ``(60000, 28, 28)`` uint8 for MNIST training images or ``(60000,)`` for its labels.

    Raises
    ------
    DataError
        The file is missing, a folder or not a regular file, or cannot be read; bad magic
        number, unknown type code, more dimensions than NumPy allows, a payload above
        ``max_bytes``, truncated header or payload, bytes after the payload, or a
        corrupt/truncated gzip stream. Nothing else, whatever the bytes.
    """
    return read_idx_hashed(path, max_bytes=max_bytes)[0]


def read_idx_hashed(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = MAX_PAYLOAD_BYTES,
    raw_sinks: Sequence[_Sink] = (),
) -> tuple[np.ndarray[Any, np.dtype[Any]], IdxDigests]:
    """:func:`read_idx`, also returning the file's SHA-256 digests, taken in the same pass.

    Parameters
    ----------
    path, max_bytes
        As for :func:`read_idx`.
    raw_sinks : sequence of hash objects, optional
        Extra ``hashlib`` objects fed the IDX bytes (decompressed) as they are read, e.g. one
        digest spanning two files.

    Returns
    -------
    array : ndarray
        As :func:`read_idx` returns it.
    digests : IdxDigests
        SHA-256 of the stored file and of its IDX bytes.
    """
    path = Path(path)
    size = _regular_file_size(path)
    stored, raw_digest = hashlib.sha256(), hashlib.sha256()
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == _GZIP_MAGIC
            f.seek(0)
            if compressed:
                disk = _Tee(f, [stored])
                try:
                    with gzip.GzipFile(fileobj=disk, mode="rb") as gz:
                        array = _parse(_Tee(gz, [raw_digest, *raw_sinks]), path, True, None, max_bytes)
                except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                    # EOFError: the gzip stream stops before its end marker (truncated download);
                    # zlib.error / BadGzipFile: corrupt deflate data, bad CRC or length trailer.
                    raise DataError(
                        f"{path}: corrupt or truncated gzip data: expected a complete gzip stream, "
                        f"found {type(exc).__name__}: {exc}"
                    ) from exc
                while disk.read(_CHUNK):  # gzip stopped at its end marker; hash all the same
                    pass
                digests = IdxDigests(stored.hexdigest(), raw_digest.hexdigest(), True)
            else:
                array = _parse(_Tee(f, [raw_digest, *raw_sinks]), path, False, size, max_bytes)
                digest = raw_digest.hexdigest()
                digests = IdxDigests(digest, digest, False)
    except OSError as exc:  # EIO, a file removed or made unreadable under us, ...
        raise DataError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    except MemoryError as exc:
        raise DataError(f"{path}: not enough memory to hold the payload its header claims") from exc
    return array, digests


def idx_file_problem(path: Path) -> tuple[int, str | None]:
    """``(size, None)`` if ``path`` is a readable regular file, else ``(0, why)``: one phrase
    saying what it is instead ("is a folder, expected an IDX file"), ``why`` starting with
    "no such file" when nothing is there.

    Checked before opening, so a FIFO (whose ``open`` would block) is refused, not waited on.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            return 0, "is a broken symbolic link, expected an IDX file"
        return 0, "no such file, expected an IDX file"
    except OSError as exc:
        return 0, f"cannot read it: {exc.strerror or exc}"
    except ValueError:  # a NUL byte: no such path can exist
        return 0, "not a usable file name (it holds a NUL byte)"
    if stat.S_ISDIR(st.st_mode):
        return 0, "is a folder, expected an IDX file"
    if not stat.S_ISREG(st.st_mode):
        return 0, "is not a regular file (a device, pipe or socket), expected an IDX file"
    if not os.access(path, os.R_OK):
        return 0, "is not readable (permission denied)"
    return st.st_size, None


def _regular_file_size(path: Path) -> int:
    """The size of ``path``, or DataError saying why it is not a readable regular file."""
    size, problem = idx_file_problem(path)
    if problem is not None:
        shown = repr(str(path)) if "NUL byte" in problem else str(path)
        raise DataError(f"{shown}: {problem}")
    return size


def _parse(
    f: _Readable, path: Path, compressed: bool, size: int | None, max_bytes: int | None
) -> np.ndarray[Any, np.dtype[Any]]:
    """Parse the IDX stream ``f``; ``size`` is the file's length when it is not compressed."""
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
    if ndim > _MAX_NDIM:
        raise DataError(
            f"{where}: bad IDX header: expected at most {_MAX_NDIM} dimensions (NumPy's limit), "
            f"found {ndim}"
        )
    dims_raw = _read_exact(f, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(
            f"{where}: truncated IDX header: expected {4 * ndim} bytes of dimensions for "
            f"ndim={ndim}, found {len(dims_raw)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(bytes(dims_raw), dtype=">u4"))
    dtype = IDX_DTYPES[code]
    kind = dtype.newbyteorder("=").name
    header = 4 + 4 * ndim
    n_bytes = math.prod(dims) * dtype.itemsize
    # NumPy refuses a shape whose nonzero dimensions overflow its index type, even when
    # another dimension is 0 and the array would be empty.
    if math.prod(max(d, 1) for d in dims) * dtype.itemsize > _MAX_INTP:
        raise DataError(
            f"{where}: bad IDX header: shape {dims} of {kind} is too large for an array "
            f"(over {_MAX_INTP} bytes)"
        )
    if size is not None and size != header + n_bytes:
        # An uncompressed file's length is known before reading: no need to read a lie.
        if size < header + n_bytes:
            raise DataError(
                f"{where}: truncated IDX payload: expected {n_bytes} bytes for shape {dims} of "
                f"{kind}, found {size - header}"
            )
        raise DataError(
            f"{where}: trailing bytes after IDX payload: expected {header + n_bytes} bytes "
            f"in all, found {size - header - n_bytes} more"
        )
    if max_bytes is not None and n_bytes > max_bytes:
        raise DataError(
            f"{where}: IDX header claims {n_bytes} bytes for shape {dims} of {kind}, above "
            f"the limit of {max_bytes} bytes (read_idx's max_bytes)"
        )
    payload = _read_exact(f, n_bytes)
    if len(payload) < n_bytes:
        raise DataError(
            f"{where}: truncated IDX payload: expected {n_bytes} bytes for shape {dims} of "
            f"{kind}, found {len(payload)}"
        )
    # One chunk is enough to know there is more: counting all of it could mean decompressing
    # gigabytes of a gzip bomb.
    extra = len(f.read(_CHUNK))
    if extra:
        more = f"{extra}" if extra < _CHUNK else f"at least {extra}"
        raise DataError(
            f"{where}: trailing bytes after IDX payload: expected {header + n_bytes} bytes "
            f"in all, found {more} more"
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
    ConfigError
        (a ``ValueError``) The dtype has no IDX type code (e.g. int64: cast it first),
        ``ndim`` is 0 or above 255, or a dimension does not fit in 32 bits.
    """
    path = Path(path)
    a = np.asarray(array)
    code = _type_code(a.dtype)
    if code is None:
        raise ConfigError(
            f"write_idx({path}): dtype {a.dtype} has no IDX type code; expected one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    if not 1 <= a.ndim <= 255:
        raise ConfigError(f"write_idx({path}): expected 1 to 255 dimensions, found {a.ndim}")
    if any(d >= 2**32 for d in a.shape):
        raise ConfigError(f"write_idx({path}): dimensions must be below 2**32, found {a.shape}")
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
