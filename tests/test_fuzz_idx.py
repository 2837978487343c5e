"""Fuzzing the IDX and gzip readers, and the loaders over folders of hostile files.

Property, for every input: a valid result or :class:`~layerwise.errors.DataError`, never another
exception (NumPy's ValueError, OSError, EOFError, zlib.error, MemoryError, struct.error), never a
hang, never a file written. A gzip bomb is read no further than its IDX header says is needed.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerwise.datasets import IDX_DTYPES, identify, load_mnist, load_split, read_idx
from layerwise.errors import DataError

FUZZ = settings(
    max_examples=150,
    deadline=2000,  # ms per example: generous for a shared machine, still catches a hang
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def header(code: int, dims: list[int] | tuple[int, ...], magic: bytes = b"\x00\x00") -> bytes:
    return magic + bytes([code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def idx_bytes(a: np.ndarray) -> bytes:
    code = next(c for c, d in IDX_DTYPES.items() if d.newbyteorder("=") == a.dtype)
    return header(code, a.shape) + a.astype(IDX_DTYPES[code]).tobytes()


@contextmanager
def file_with(content: bytes, name: str = "f") -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        yield path
        assert sorted(os.listdir(tmp)) == [name]  # reading wrote nothing


def read_or_data_error(path: Path, **kwargs: Any) -> np.ndarray | None:
    """read_idx's result, checked for sanity, or None when it raised DataError naming the file."""
    try:
        a = read_idx(path, **kwargs)
    except DataError as exc:
        assert str(path) in str(exc)
        return None
    assert isinstance(a, np.ndarray) and a.ndim >= 1 and a.dtype.isnative
    assert a.dtype in [d.newbyteorder("=") for d in IDX_DTYPES.values()]
    assert a.flags.writeable
    return a


# --- strategies -------------------------------------------------------------------------------

dtypes = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
shapes = st.lists(st.integers(0, 6), min_size=1, max_size=4).map(tuple)


@st.composite
def valid_arrays(draw: st.DrawFn) -> np.ndarray:
    shape, dtype = draw(shapes), draw(dtypes)
    raw = draw(st.binary(min_size=int(np.prod(shape)) * np.dtype(dtype).itemsize,
                         max_size=int(np.prod(shape)) * np.dtype(dtype).itemsize))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


@st.composite
def damaged(draw: st.DrawFn, content: bytes) -> bytes:
    """``content`` with a few random byte flips, truncations, insertions or appendages."""
    data = bytearray(content)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "append", "delete"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "append":
            data += draw(st.binary(min_size=1, max_size=64))
        elif op == "delete" and data:
            del data[i : i + draw(st.integers(1, 8))]
    return bytes(data)


huge_dim = st.sampled_from([2**32 - 1, 2**31, 2**16 + 1, 60_000, 47_040_000])
dims_lists = st.integers(0, 255).flatmap(
    lambda n: st.lists(st.one_of(st.integers(0, 5), huge_dim, st.integers(0, 2**32 - 1)),
                       min_size=n, max_size=n)
)


@st.composite
def hostile_headers(draw: st.DrawFn) -> bytes:
    magic = draw(st.one_of(st.just(b"\x00\x00"), st.binary(min_size=2, max_size=2)))
    code = draw(st.one_of(st.sampled_from(list(IDX_DTYPES)), st.integers(0, 255)))
    dims = draw(dims_lists)
    body = header(code, dims, magic)
    if draw(st.booleans()):  # lie about ndim: fewer dimension bytes than it says
        body = body[: draw(st.integers(0, len(body)))]
    return body + draw(st.binary(max_size=300))


def maybe_gzip(draw: st.DrawFn, content: bytes) -> bytes:
    return gzip.compress(content, compresslevel=1) if draw(st.booleans()) else content


# --- read_idx -------------------------------------------------------------------------------


@FUZZ
@given(content=st.binary(max_size=2000))
def test_random_bytes(content: bytes) -> None:
    with file_with(content) as path:
        read_or_data_error(path)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_random_bytes_gzip_compressed(content: bytes) -> None:
    with file_with(gzip.compress(content)) as path:
        read_or_data_error(path)


@FUZZ
@given(a=valid_arrays(), gz=st.booleans())
def test_valid_files_read_back_exactly(a: np.ndarray, gz: bool) -> None:
    content = idx_bytes(a)
    with file_with(gzip.compress(content) if gz else content) as path:
        b = read_or_data_error(path)
        assert b is not None and b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_array_equal(b.view(np.uint8), np.ascontiguousarray(a).view(np.uint8))


@FUZZ
@given(data=st.data(), a=valid_arrays(), where=st.sampled_from(["raw", "inside-gzip", "gzip-bytes"]))
def test_damaged_valid_files(data: st.DataObject, a: np.ndarray, where: str) -> None:
    content = idx_bytes(a)
    if where == "raw":
        content = data.draw(damaged(content))
    elif where == "inside-gzip":
        content = gzip.compress(data.draw(damaged(content)))
    else:
        content = data.draw(damaged(gzip.compress(content)))
    with file_with(content) as path:
        read_or_data_error(path)


@FUZZ
@given(data=st.data(), content=hostile_headers())
def test_hostile_headers(data: st.DataObject, content: bytes) -> None:
    with file_with(maybe_gzip(data.draw, content)) as path:
        read_or_data_error(path)


@FUZZ
@given(
    flags=st.integers(0, 255),
    rest=st.binary(max_size=200),
    tail=st.sampled_from([b"", b"\x00", gzip.compress(header(8, (1,)) + b"\x05")]),
)
def test_gzip_garbage_after_the_magic(flags: int, rest: bytes, tail: bytes) -> None:
    """A gzip header with any flags (FEXTRA, FNAME, FCOMMENT, FHCRC, reserved) and junk."""
    with file_with(b"\x1f\x8b\x08" + bytes([flags]) + rest + tail) as path:
        read_or_data_error(path)


@FUZZ
@given(a=valid_arrays(), data=st.data())
def test_truncated_gzip(a: np.ndarray, data: st.DataObject) -> None:
    body = gzip.compress(idx_bytes(a))
    cut = data.draw(st.integers(0, len(body) - 1))
    with file_with(body[:cut]) as path:
        assert read_or_data_error(path) is None


@FUZZ
@given(a=valid_arrays(), members=st.integers(1, 4), data=st.data())
def test_a_file_split_over_several_gzip_members_is_valid(a: np.ndarray, members: int, data: st.DataObject) -> None:
    content = idx_bytes(a)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), min_size=members - 1, max_size=members - 1)))
    pieces = [content[i:j] for i, j in zip([0, *cuts], [*cuts, len(content)], strict=True)]
    with file_with(b"".join(gzip.compress(p) for p in pieces)) as path:
        b = read_or_data_error(path)
        assert b is not None and b.shape == a.shape


# --- gzip bombs -----------------------------------------------------------------------------


@functools.cache
def zeros_member() -> bytes:
    """One gzip member of 16 MiB of zeros, about 16 kB."""
    return gzip.compress(bytes(1 << 24), compresslevel=9)


def bomb(claim: tuple[int, ...], gib: int) -> bytes:
    """A gzip file whose IDX header claims ``claim`` (uint8) and that inflates to ~``gib`` GiB."""
    first = gzip.compress(header(8, claim) + bytes(min(int(np.prod(claim)), 1 << 20)))
    return first + zeros_member() * (64 * gib)


@contextmanager
def bounded(seconds: float, mib: int) -> Iterator[None]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert peak < mib << 20, f"peak {peak / 2**20:.0f} MiB"


def test_a_gzip_bomb_is_read_only_as_far_as_its_header_says() -> None:
    content = bomb((1, 28, 28), gib=4)
    assert len(content) < 5 << 20  # 4 GiB once inflated
    with file_with(content) as path, bounded(seconds=3, mib=16):
        with pytest.raises(DataError, match=r"trailing bytes.*found at least 1048576 more"):
            read_idx(path)


def test_a_gzip_bomb_claiming_more_than_the_limit_is_refused_before_inflating() -> None:
    with file_with(bomb((2**16, 2**16), gib=1)) as path, bounded(seconds=1, mib=4):
        with pytest.raises(DataError, match=r"claims 4294967296 bytes.*above the limit"):
            read_idx(path)
    with file_with(bomb((64, 1 << 20), gib=1)) as path, bounded(seconds=1, mib=4):
        with pytest.raises(DataError, match=r"claims 67108864 bytes.*limit of 1048576 bytes"):
            read_idx(path, max_bytes=1 << 20)


def test_a_gzip_bomb_in_a_data_folder(tmp_path: Path) -> None:
    write_split(tmp_path, "train", n=3)
    write_split(tmp_path, "test", n=2)
    (tmp_path / NAMES["test_images"]).write_bytes(bomb((2, 28, 28), gib=2))
    for call in (
        lambda: load_mnist(data_dir=tmp_path, download=False),
        lambda: load_split("mnist", "test", data_dir=tmp_path, download=False),
        lambda: identify(tmp_path),
    ):
        with bounded(seconds=3, mib=24), pytest.raises(DataError, match="t10k-images.*trailing bytes"):
            call()


# --- the loaders over folders of hostile files ---------------------------------------------


def write_split(folder: Path, split: str, n: int) -> None:
    rng = np.random.default_rng(n)
    prefix = "train" if split == "train" else "t10k"
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)), compresslevel=1)
    )
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(rng.integers(0, 10, n, dtype=np.uint8)))
    )


@st.composite
def entries(draw: st.DrawFn, key: str) -> Callable[[Path], None]:
    """How file ``key`` appears in a folder: fine, damaged, hostile, absent, a folder, raw..."""
    n = draw(st.integers(0, 3))
    kind = "images" if key.endswith("images") else "labels"
    good = idx_bytes(
        np.zeros((n, 28, 28), np.uint8) if kind == "images" else np.arange(n, dtype=np.uint8)
    )
    what = draw(st.sampled_from(["good", "damaged", "hostile", "absent", "folder", "raw", "other-type"]))
    if what == "damaged":
        content = gzip.compress(draw(damaged(good)))
    elif what == "hostile":
        content = maybe_gzip(draw, draw(hostile_headers()))
    elif what == "other-type":
        content = idx_bytes(draw(valid_arrays()))
    elif what == "raw":
        content = good
    else:
        content = gzip.compress(good)
    name = NAMES[key] if what != "raw" else NAMES[key].removesuffix(".gz")

    def make(folder: Path) -> None:
        if what == "absent":
            return
        if what == "folder":
            (folder / name).mkdir()
            return
        (folder / name).write_bytes(content)

    return make


@st.composite
def folders(draw: st.DrawFn) -> list[Callable[[Path], None]]:
    return [draw(entries(key)) for key in NAMES]


def check_split(x: np.ndarray, t: np.ndarray) -> None:
    assert x.ndim == 2 and x.shape[1] == 784 and x.shape[0] >= 1
    assert t.shape == (x.shape[0],) and t.min() >= 0 and t.max() <= 9


@settings(FUZZ, max_examples=120)
@given(makers=folders())
def test_loaders_and_identify_on_hostile_folders(makers: list[Callable[[Path], None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for make in makers:
            make(folder)
        before = sorted(os.listdir(folder))
        try:
            (x, t), (x_test, t_test) = load_mnist(data_dir=folder, download=False)
            check_split(x, t)
            check_split(x_test, t_test)
        except DataError:
            pass
        try:
            check_split(*load_split("mnist", "test", data_dir=folder, download=False))
        except DataError:
            pass
        for splits in (("train", "test"), ("test",)):
            try:
                source = identify(folder, splits)
                assert source.describe() and set(source.counts) == set(splits)
            except DataError:
                pass
        assert sorted(os.listdir(folder)) == before  # nothing written, nothing left behind


def test_zlib_and_struct_errors_do_not_escape(tmp_path: Path) -> None:
    """Hand-made cases of the kinds above that once raised other exceptions."""
    good = gzip.compress(header(8, (2, 3)) + bytes(6))
    cases = {
        "bad-deflate": good[:10] + b"\xff" * 20,
        "bad-crc": good[:-8] + b"\x00\x00\x00\x00" + good[-4:],
        "fextra-too-long": b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\x03\xff\xff",
        "fname-unterminated": b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\x03abc",
        "only-magic": b"\x1f\x8b",
        "raw-deflate": zlib.compress(header(8, (1,)) + b"\x01"),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataError, match=name):
            read_idx(tmp_path / name)
