"""Safetensors files read strictly: the whole header checked before one tensor byte is read.

A safetensors file is an 8-byte little-endian header length ``n``, ``n`` bytes of JSON
(``{"name": {"dtype": "F32", "shape": [784, 50], "data_offsets": [begin, end]}, ...,
"__metadata__": {text: text}}``) and the tensors' bytes. The header is the file's own claim
about itself, so it is parsed here, not trusted: its length is capped
(:data:`MAX_HEADER_BYTES`), every dtype must be one NumPy holds, every shape must need exactly
the bytes its offsets span, and the offsets must tile the data the file really has (its size
on disk), without gap or overlap. Only then may a caller compare the shapes with what it
expects (a model file's architecture) and ask for the data, which is read into arrays of
exactly the checked sizes. A header claiming a terabyte in a 4 KB file, or in a sparse file of
a terabyte, costs a few kilobytes and a clear :class:`~layerwise.errors.DataError`.

The tensors' integrity digest (:func:`tensor_digest`, stored under :data:`DIGEST_KEY` in the
metadata) is SHA-256 over the tensors in the order of their names (Unicode code points); for
each, one line of JSON ``[name, dtype, shape, nbytes]`` and a newline, then its bytes
(little-endian, C order).

A file that is not safetensors at all is named when it can be: an ONNX model, a PyTorch
file, a pickle, a zip archive, NumPy's ``.npy``, HDF5, gzip.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from layerwise.errors import DataError, short_repr

__all__ = ["MAX_HEADER_BYTES", "DIGEST_KEY", "TensorSpec", "Header", "read_header", "read_tensors",
           "tensor_digest", "identify_foreign"]

#: The longest header (in bytes) a file may have. A layerwise checkpoint's header grows with
#: its history by a few hundred bytes an epoch; 16 MiB is tens of thousands of epochs.
MAX_HEADER_BYTES = 16 * 2**20

#: The metadata entry holding the tensors' SHA-256 digest (64 lowercase hex digits).
DIGEST_KEY = "tensors_sha256"

#: Safetensors dtype names NumPy holds, as NumPy dtypes (little-endian, as the format is).
NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code) for name, code in (
        ("BOOL", "|b1"), ("U8", "|u1"), ("I8", "|i1"), ("U16", "<u2"), ("I16", "<i2"), ("U32", "<u4"),
        ("I32", "<i4"), ("U64", "<u8"), ("I64", "<i8"), ("F16", "<f2"), ("F32", "<f4"), ("F64", "<f8"),
        ("C64", "<c8"))}
#: Safetensors dtype names NumPy cannot hold.
_FOREIGN_DTYPES = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "E8M0", "C32"}
_NAMES = {dtype: name for name, dtype in NUMPY_DTYPES.items()}
_MAX_DIMS = 64


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as the header describes it (nothing read): ``dtype`` and ``shape`` as an
    array's, and ``begin``/``end``, its bytes' offsets in the data section."""

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """A checked header: the tensors by name, the metadata, where the data starts, the file's size."""

    tensors: dict[str, TensorSpec]
    metadata: dict[str, str]
    data_start: int
    size: int


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {short_repr(key)} appears twice")
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_header(path: str | os.PathLike[str], what: str = "layerwise file") -> Header:
    """The checked header of the safetensors file ``path`` (see the module docstring).

    ``what`` names the file the caller expected (``"layerwise model file"``), for the message
    about a file of another kind. Raises :class:`~layerwise.errors.DataError` naming the file,
    and the tensor or entry, what was expected and what was found.
    """
    p = Path(path)
    if not p.is_file():
        if p.is_dir():
            raise DataError(f"{p}: is a folder, expected a safetensors file")
        if p.exists():
            raise DataError(f"{p}: is not a regular file (a device, pipe or socket), expected a "
                            "safetensors file")
        raise DataError(f"{p}: no such file")
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            first = f.read(9)
            if first[8:9] != b"{":  # every safetensors header is a JSON object
                foreign = identify_foreign(f, size)
                if foreign is not None:
                    raise DataError(f"{p}: this is {foreign}, not a {what} (.safetensors); layerwise reads "
                                    "the .safetensors files that save_model and `layerwise train` write")
            n = int.from_bytes(first[:8], "little")
            if len(first) < 8:
                raise DataError(f"{p}: not a readable safetensors file: {size} bytes, too short for its "
                                "8-byte header length")
            if n > size - 8:
                raise DataError(f"{p}: not a readable safetensors file: its header length says {n} "
                                f"bytes, the file has {size - 8} after the length")
            if n > MAX_HEADER_BYTES:
                raise DataError(f"{p}: not a readable safetensors file: a header of {n} bytes, more "
                                f"than the {MAX_HEADER_BYTES} a file may have")
            f.seek(8)
            raw = f.read(n)
    except OSError as exc:
        raise DataError(f"{p}: could not be read ({exc.strerror or exc})") from None
    return _parse_header(p, raw, size)


def _parse_header(p: Path, raw: bytes, size: int) -> Header:
    def fail(why: str) -> DataError:
        return DataError(f"{p}: not a readable safetensors file: header: {why}")

    try:
        text = raw.decode("utf-8")
        # parse_constant: NaN and Infinity are not JSON; a depth limit as for metadata
        header = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except RecursionError:
        raise fail("JSON nested too deep") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, duplicate keys
        raise fail(f"invalid JSON or UTF-8 ({short_repr(str(exc))})") from None
    if not isinstance(header, dict):
        raise fail(f"expected a JSON object, found {short_repr(header)}")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail(f"__metadata__: expected an object of text entries, found {short_repr(metadata)}")
    data_size = size - 8 - len(raw)
    specs = {name: _spec(p, name, entry, data_size) for name, entry in header.items()}
    at = 0
    for spec in sorted(specs.values(), key=lambda s: (s.begin, s.end)):
        if spec.begin != at:
            how = ("overlaps the tensor before it" if spec.begin < at
                   else f"leaves a gap of {spec.begin - at} bytes")
            raise fail(f"tensor {short_repr(spec.name)}: data_offsets [{spec.begin}, {spec.end}] {how}; "
                       "expected the tensors to follow each other")
        at = spec.end
    if at != data_size:
        raise fail(f"the tensors hold {at} bytes, the file has {data_size} after the header")
    return Header(specs, metadata, 8 + len(raw), size)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _spec(p: Path, name: str, entry: Any, data_size: int) -> TensorSpec:
    def fail(why: str) -> DataError:
        return DataError(f"{p}: not a readable safetensors file: tensor {short_repr(name)}: {why}")

    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise fail(f"expected an object with dtype, shape and data_offsets, found {short_repr(entry)}")
    dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype_name in _FOREIGN_DTYPES:
        raise DataError(f"{p}: tensor {short_repr(name)} has dtype {dtype_name}, which NumPy cannot hold; "
                        "expected float32 or another dtype save_model writes")
    if not isinstance(dtype_name, str) or dtype_name not in NUMPY_DTYPES:
        raise fail(f"expected a safetensors dtype such as F32, found {short_repr(dtype_name)}")
    if not (isinstance(shape, list) and len(shape) <= _MAX_DIMS
            and all(_is_int(d) and d >= 0 for d in shape)):
        raise fail(f"shape: expected a list of at most {_MAX_DIMS} integers >= 0, found {short_repr(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise fail(f"data_offsets: expected [begin, end] with 0 <= begin <= end, found {short_repr(offsets)}")
    dtype = NUMPY_DTYPES[dtype_name]
    begin, end = offsets
    nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if nbytes != end - begin:
        raise fail(f"shape {short_repr(shape)} of {dtype_name} needs {short_repr(nbytes)} bytes, its "
                   f"data_offsets span {short_repr(end - begin)}")
    if end > data_size:
        raise fail(f"data_offsets end at byte {short_repr(end)}, the file holds {data_size} bytes of data")
    return TensorSpec(name, dtype, tuple(shape), begin, end)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def read_tensors(path: str | os.PathLike[str], header: Header) -> dict[str, np.ndarray]:
    """The tensors of a file whose header is ``header``, each read into an array of exactly
    its checked size (native byte order). Refuses data larger than this machine's memory."""
    p = Path(path)
    total = header.size - header.data_start
    memory = _physical_memory()
    if memory is not None and total > memory:
        raise DataError(f"{p}: its tensors need {total} bytes, more than this machine's memory "
                        f"({memory} bytes)")
    tensors: dict[str, np.ndarray] = {}
    try:
        with open(p, "rb") as f:
            for spec in sorted(header.tensors.values(), key=lambda s: s.begin):
                arr = np.empty(spec.shape, dtype=spec.dtype)
                f.seek(header.data_start + spec.begin)
                got = f.readinto(arr.reshape(-1).view(np.uint8).data) if arr.size else 0
                if got != spec.end - spec.begin:
                    raise DataError(f"{p}: tensor {short_repr(spec.name)}: read {got} of "
                                    f"{spec.end - spec.begin} bytes (the file changed while being read?)")
                tensors[spec.name] = arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
    except OSError as exc:
        raise DataError(f"{p}: could not be read ({exc.strerror or exc})") from None
    return {name: tensors[name] for name in header.tensors}


def tensor_digest(tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) over ``tensors`` in the order of their names: for each, the JSON line
    ``[name, dtype, shape, nbytes]`` and a newline, then its little-endian C-order bytes."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        little = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        dtype_name = _NAMES.get(arr.dtype.newbyteorder("<"), _NAMES.get(arr.dtype, str(arr.dtype)))
        h.update(json.dumps([name, dtype_name, list(arr.shape), little.nbytes]).encode() + b"\n")
        h.update(little.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


# -- files of other kinds -------------------------------------------------------------------------
_MAGIC = [
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (such as a Keras .h5 model)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
]
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
# Fields of ONNX's ModelProto and their protobuf wire types (0: varint, 2: length-delimited).
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def identify_foreign(f: BinaryIO, size: int) -> str | None:
    """What the file open as ``f`` (``size`` bytes) is, when it is a known kind of file that
    is not safetensors: ``"an ONNX model"``, ``"a PyTorch file (torch.save)"``...; else None."""
    f.seek(0)
    head = f.read(1 << 16)
    if head.startswith(b"PK\x03\x04"):
        if b"data.pkl" in head:
            return "a PyTorch file (torch.save)"
        return "a zip archive (such as NumPy's .npz)"
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return "a PyTorch file (torch.save, legacy format)"
    if len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle's PROTO opcode
        return "a Python pickle"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if _is_onnx(f, size):
        return "an ONNX model"
    return None


def _varint(data: bytes) -> tuple[int, int] | None:
    """The varint at the start of ``data`` and its length in bytes; None if there is none."""
    value = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    return None


def _is_onnx(f: BinaryIO, size: int) -> bool:
    """Whether the file is a protobuf ModelProto: its top-level fields (keys and lengths
    only; payloads are skipped) are ONNX's, the first is ir_version, and a graph is there."""
    pos, seen = 0, set[int]()
    for _ in range(10_000):
        if pos == size:
            return 7 in seen
        f.seek(pos)
        data = f.read(20)
        key = _varint(data)
        if key is None:
            return False
        field, wire = key[0] >> 3, key[0] & 7
        if _ONNX_FIELDS.get(field) != wire or (not seen and field != 1):
            return False
        value = _varint(data[key[1]:])
        if value is None:
            return False
        pos += key[1] + value[1] + (value[0] if wire == 2 else 0)
        if pos > size:
            return False
        seen.add(field)
    return False
