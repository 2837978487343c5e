"""IDX reader/writer: round trips, and each kind of corrupt file refused with a clear DataError."""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerwise.datasets import read_idx, write_idx
from layerwise.errors import DataError
from layerwise.files.fileio import atomic_write

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _random(shape: tuple[int, ...], dtype: type, rng: np.random.Generator) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (2, 1, 3, 2), (0, 28, 28)])
def test_round_trip(tmp_path: Path, suffix: str, dtype: type, shape: tuple[int, ...]) -> None:
    a = _random(shape, dtype, np.random.default_rng(0))
    path = write_idx(tmp_path / f"a.idx{suffix}", a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype)  # native byte order, not the file's big-endian
    assert b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    b[...] = 0  # the result is writable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_raw_file_layout_is_big_endian(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "a.idx", np.array([[1, 258]], dtype=np.int16))
    assert path.read_bytes() == _header(0x0B, (1, 2)) + b"\x00\x01\x01\x02"


def test_reads_mnist_style_labels_written_by_hand(tmp_path: Path) -> None:
    (tmp_path / "labels").write_bytes(_header(0x08, (4,)) + bytes([5, 0, 4, 1]))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), [5, 0, 4, 1])


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    a = np.arange(1000, dtype=np.uint8)
    first = write_idx(tmp_path / "a.gz", a).read_bytes()
    second = write_idx(tmp_path / "b.gz", a).read_bytes()
    assert first == second


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from(DTYPES),
    gz=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_random_shapes(
    tmp_path_factory: pytest.TempPathFactory,
    shape: tuple[int, ...],
    dtype: type,
    gz: bool,
    seed: int,
) -> None:
    a = _random(shape, dtype, np.random.default_rng(seed))
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a.idx")
    np.testing.assert_array_equal(read_idx(write_idx(path, a)), a)


def test_write_refuses_types_without_code(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "a.idx", np.array(3, dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(tmp_path: Path) -> None:
    """A failure mid-write leaves the old file untouched and no temporary file behind."""
    dest = write_idx(tmp_path / "a.idx", np.arange(3, dtype=np.uint8))
    before = dest.read_bytes()
    with pytest.raises(RuntimeError), atomic_write(dest) as f:
        f.write(b"half a file")
        raise RuntimeError("disk on fire")
    assert dest.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]


def test_written_file_is_not_private(tmp_path: Path) -> None:
    """Written like any new file (umask), not with the 0600 of a temp file."""
    old = os.umask(0o022)
    try:
        dest = write_idx(tmp_path / "a.idx", np.arange(3, dtype=np.uint8))
    finally:
        os.umask(old)
    assert dest.stat().st_mode & 0o777 == 0o644


# --- corrupt files ------------------------------------------------------------------------------

GOOD = _header(0x08, (2, 3)) + bytes(range(6))


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        pytest.param(
            b"\x08\x03\x00\x00" + GOOD[4:], r"magic bytes 00 00.*found 08 03 00 00", id="bad-magic"
        ),
        pytest.param(b"\x00\x01" + GOOD[2:], r"found 00 01 08 02", id="bad-magic-second-byte"),
        pytest.param(
            b"\x00\x00\x0a\x02" + GOOD[4:], r"unknown IDX type code.*found 0x0A", id="bad-dtype"
        ),
        pytest.param(b"\x00\x00\x08\x00", r"at least 1 dimension", id="zero-dims"),
        pytest.param(b"", r"expected 4 magic bytes, found 0", id="empty"),
        pytest.param(b"\x00\x00\x08", r"expected 4 magic bytes, found 3", id="truncated-magic"),
        pytest.param(
            GOOD[:9], r"truncated IDX header: expected 8 bytes.*found 5", id="truncated-dims"
        ),
        pytest.param(
            GOOD[:-1],
            r"truncated IDX payload: expected 6 bytes.*\(2, 3\).*found 5",
            id="truncated-payload",
        ),
        pytest.param(GOOD + b"\x00\x00", r"trailing bytes.*found 2 more", id="trailing-bytes"),
        pytest.param(
            _header(0x0C, (2,)) + b"\x00" * 7,
            r"expected 8 bytes.*int32.*found 7",
            id="truncated-int32",
        ),
        pytest.param(
            _header(0x08, (60000, 28, 28)) + b"\x00" * 100,
            r"expected 47040000 bytes.*found 100",
            id="header-claims-more-than-file",
        ),
    ],
)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_corrupt_file_is_refused(tmp_path: Path, content: bytes, pattern: str, gz: bool) -> None:
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DataError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert ("gzip decompression" in str(info.value)) == gz


def test_sanity_good_bytes_read(tmp_path: Path) -> None:
    """The corrupt cases above differ from this valid file only by the damage they name."""
    (tmp_path / "good").write_bytes(GOOD)
    (tmp_path / "good.gz").write_bytes(gzip.compress(GOOD))
    for name in ("good", "good.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), np.arange(6).reshape(2, 3))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated-gzip"),
        pytest.param(lambda b: b[:-4] + b"\xff\xff\xff\xff", id="bad-length-trailer"),
        pytest.param(lambda b: b[:-8] + bytes([b[-8] ^ 1]) + b[-7:], id="bad-crc"),
        pytest.param(
            lambda b: b[:12] + bytes(x ^ 0x5A for x in b[12:40]) + b[40:], id="garbled-deflate"
        ),
        pytest.param(lambda b: b + b"garbage", id="junk-after-gzip"),
    ],
)
def test_corrupt_gzip_is_refused(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    payload = _header(0x08, (100, 28, 28)) + np.random.default_rng(1).bytes(78400)
    path = tmp_path / "bad.gz"
    path.write_bytes(damage(gzip.compress(payload)))
    with pytest.raises(DataError, match=r"bad\.gz: corrupt or truncated gzip data"):
        read_idx(path)


def test_missing_file_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.gz: no such file"):
        read_idx(tmp_path / "nope.gz")


def test_folder_is_refused_as_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.gz").mkdir()
    with pytest.raises(DataError, match=r"a\.gz: is a folder, expected an IDX file"):
        read_idx(tmp_path / "a.gz")


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(DataError, match=r"pipe: is not a regular file"):
        read_idx(tmp_path / "pipe")


def test_broken_link_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(DataError, match=r"link: is a broken symbolic link"):
        read_idx(tmp_path / "link")


def test_too_many_dimensions_for_numpy(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(_header(0x08, (1,) * 100) + b"\x07")
    with pytest.raises(DataError, match=r"expected at most (32|64) dimensions.*found 100"):
        read_idx(tmp_path / "a")


def test_empty_shape_with_huge_dimensions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(_header(0x08, (0, 2**32 - 1, 2**32 - 1)))
    with pytest.raises(DataError, match=r"too large for an array"):
        read_idx(tmp_path / "a")


def test_payload_above_max_bytes_is_refused_before_reading(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "a.gz", np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match=r"claims 100 bytes.*limit of 99 bytes"):
        read_idx(path, max_bytes=99)
    assert read_idx(path, max_bytes=100).shape == (10, 10)
    assert read_idx(path, max_bytes=None).shape == (10, 10)
