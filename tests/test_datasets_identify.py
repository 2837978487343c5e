"""identify() and DataSource: a folder is called a known data set only when its files prove it.

Defect #10: an 8,000-image folder or a 1-image folder was reported as "full MNIST", and a
Fashion-MNIST folder given with ``--data auto`` was called MNIST.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from _datasets_server import FILE_NAMES, go_offline
from hypothesis import given, settings
from hypothesis import strategies as st

import layerwise.datasets.source
from layerwise.datasets import (
    DATASETS,
    DataSource,
    identify,
    load_mnist,
    load_split,
    locate,
    read_idx,
    resolve_auto,
    write_idx,
)
from layerwise.datasets.catalog import SPLIT_FILES, FileSpec
from layerwise.errors import ConfigError, DataError

NAMES = FILE_NAMES
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
SAMPLE = DATASETS["mnist-sample"].bundled_dir
assert SAMPLE is not None
needs_debian = pytest.mark.skipif(
    not all((DEBIAN_FASHION / n).is_file() for n in NAMES.values()),
    reason="Debian package dataset-fashion-mnist not installed",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private empty cache; every mirror unreachable; no proxy between us and 127.0.0.1."""
    return go_offline(tmp_path, monkeypatch)


def make_dataset(folder: Path, n_train: int = 30, n_test: int = 20, *, gz: bool = True, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, a in arrays.items():
        write_idx(folder / (NAMES[key] if gz else NAMES[key].removesuffix(".gz")), a)


def decompress_into(src: Path, dest: Path, keys: tuple[str, ...] = tuple(NAMES)) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for key in keys:
        with gzip.open(src / NAMES[key]) as f:
            (dest / NAMES[key].removesuffix(".gz")).write_bytes(f.read())


def pretend_mnist_is(monkeypatch: pytest.MonkeyPatch, folder: Path, n_train: int, n_test: int) -> None:
    """Make the catalog's 'mnist' the .gz files in ``folder``, with no raw digests, as MNIST's are."""
    files = {
        key: FileSpec(NAMES[key], hashlib.sha256((folder / NAMES[key]).read_bytes()).hexdigest())
        for key in SPLIT_FILES
    }
    spec = dataclasses.replace(DATASETS["mnist"], files=files, n_train=n_train, n_test=n_test)
    monkeypatch.setitem(DATASETS, "mnist", spec)


# --- honest descriptions --------------------------------------------------------------------


@pytest.mark.parametrize(("n_train", "n_test"), [(800, 100), (1, 1)])
def test_a_small_folder_is_not_called_full_mnist(tmp_path: Path, n_train: int, n_test: int) -> None:
    folder = tmp_path / "d"
    make_dataset(folder, n_train, n_test)
    source = identify(folder)
    assert source.name is None and not source.complete
    assert source.counts == {"train": n_train, "test": n_test}
    expected = f"MNIST-format data, not a known data set ({n_train:,} train / {n_test:,} test) in {folder}"
    assert source.describe() == expected
    name, reason = resolve_auto(data_dir=folder)
    assert name == "mnist" and reason == expected  # loads as MNIST-format files, labelled honestly
    assert "full MNIST" not in reason


def test_a_small_cache_is_not_called_full_mnist(isolated: Path) -> None:
    make_dataset(isolated / "mnist", 8, 2)
    name, reason = resolve_auto()
    assert name == "mnist"
    assert reason == f"MNIST-format data, not a known data set (8 train / 2 test) in {isolated / 'mnist'}"


@needs_debian
def test_debian_fashion_mnist_is_verified() -> None:
    source = identify(DEBIAN_FASHION)
    assert source.name == "fashion-mnist" and source.complete
    assert source.counts == {"train": 60_000, "test": 10_000}
    assert source.describe() == (
        "Fashion-MNIST (60,000 train / 10,000 test, verified) in /usr/share/datasets/fashion-mnist"
    )


@needs_debian
def test_auto_with_a_fashion_folder_says_fashion_mnist() -> None:
    name, reason = resolve_auto(data_dir=DEBIAN_FASHION)
    assert name == "fashion-mnist"
    assert reason == "Fashion-MNIST (60,000 train / 10,000 test, verified) in /usr/share/datasets/fashion-mnist"
    assert identify(DEBIAN_FASHION).record()["name"] == "fashion-mnist"


@needs_debian
def test_debian_files_are_the_mirrors_files_under_another_gzip_header() -> None:
    """The assumption behind fashion-mnist's raw digests, checked.

    Debian recompressed nothing: its deflate streams, given back the gzip header the mirror's
    files have (FNAME set, the file name, the mtime of August 2017), hash to the catalog's
    SHA-256 of the mirror's files; so the decompressed digests taken from Debian's copy are
    those of the published data.
    """
    mtimes = {"train": 1504176606, "t10k": 1504176627}
    for key in SPLIT_FILES:
        name = NAMES[key]
        body = (DEBIAN_FASHION / name).read_bytes()
        assert body[:4] == b"\x1f\x8b\x08\x00"  # deflate, no FNAME: the header Debian wrote
        header = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtimes[name.split("-")[0]]) + b"\x00\x03"
        mirror_file = header + name.removesuffix(".gz").encode() + b"\x00" + body[10:]
        assert hashlib.sha256(mirror_file).hexdigest() == DATASETS["fashion-mnist"].files[key].sha256


@needs_debian
def test_a_decompressed_copy_of_fashion_mnist_is_verified_with_the_same_fingerprint(tmp_path: Path) -> None:
    decompress_into(DEBIAN_FASHION, tmp_path, ("test_images", "test_labels"))
    copy = identify(tmp_path, splits=("test",))
    original = identify(DEBIAN_FASHION, splits=("test",))
    assert copy.name == "fashion-mnist" and copy.complete
    assert copy.describe() == f"Fashion-MNIST (10,000 test, verified) in {tmp_path}"
    assert copy.fingerprints == original.fingerprints
    assert copy.matches(original) is True


def test_the_bundled_sample_is_verified() -> None:
    source = identify(SAMPLE)
    assert source.name == "mnist-sample" and source.complete
    assert source.describe() == (
        f"mnist-sample, the bundled MNIST subset (4,000 train / 1,000 test, verified) in {SAMPLE}"
    )


def test_a_recompressed_or_decompressed_copy_of_the_sample_is_verified(tmp_path: Path) -> None:
    decompress_into(SAMPLE, tmp_path / "raw")
    (tmp_path / "gz").mkdir()
    for key in SPLIT_FILES:
        write_idx(tmp_path / "gz" / NAMES[key], read_idx(SAMPLE / NAMES[key]))  # other gzip bytes
    original = identify(SAMPLE)
    for folder in (tmp_path / "raw", tmp_path / "gz"):
        source = identify(folder)
        assert source.name == "mnist-sample" and source.complete
        assert source.fingerprints == original.fingerprints
    # such a copy loads under the generic name; resolve_auto gives the name that loads it
    assert resolve_auto(data_dir=tmp_path / "raw")[0] == "mnist"


def test_one_changed_label_is_no_longer_the_sample(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "s")
    labels = read_idx(SAMPLE / NAMES["test_labels"])
    labels[0] = (labels[0] + 1) % 10
    write_idx(tmp_path / "s" / NAMES["test_labels"], labels)
    source = identify(tmp_path / "s")
    assert source.name is None
    assert source.split_names == {"train": "mnist-sample", "test": None}
    assert source.describe() == (
        "MNIST-format data, not one known data set (4,000 train / 1,000 test; train is from "
        f"mnist-sample, the bundled MNIST subset; test is not a known data set) in {tmp_path / 's'}"
    )
    assert source.fingerprints["train"] == identify(SAMPLE).fingerprints["train"]
    assert source.fingerprints["test"] != identify(SAMPLE).fingerprints["test"]


def test_decompressed_mnist_is_not_verified_as_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MNIST's raw digests are unknown: a decompressed copy can only be 'not verified'."""
    make_dataset(tmp_path / "gz", 30, 20)
    pretend_mnist_is(monkeypatch, tmp_path / "gz", 30, 20)
    assert identify(tmp_path / "gz").describe() == f"MNIST (30 train / 20 test, verified) in {tmp_path / 'gz'}"
    decompress_into(tmp_path / "gz", tmp_path / "raw")
    source = identify(tmp_path / "raw")
    assert source.name is None and not source.complete
    assert source.unverifiable == {"train": ("mnist",), "test": ("mnist",)}
    assert source.describe() == (
        "MNIST-format data, not verified (30 train / 20 test; it may be MNIST, whose decompressed "
        f"files have no known digest to check) in {tmp_path / 'raw'}"
    )
    assert source.fingerprints == identify(tmp_path / "gz").fingerprints


def test_a_partly_verified_folder_says_which_part_is_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dataset(tmp_path, 30, 20)
    pretend_mnist_is(monkeypatch, tmp_path, 30, 20)
    for key in ("test_images", "test_labels"):
        gz = tmp_path / NAMES[key]
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    source = identify(tmp_path)
    assert source.name is None and source.split_names == {"train": "mnist", "test": None}
    assert source.describe() == (
        "MNIST-format data, not one known data set (30 train / 20 test; train is from MNIST; "
        f"test may be from MNIST (unverifiable)) in {tmp_path}"
    )


def test_a_folder_of_other_counts_cannot_be_unverified_mnist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dataset(tmp_path, 30, 20, gz=False)
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], n_train=30, n_test=21))
    source = identify(tmp_path)
    assert source.unverifiable == {"train": ("mnist",), "test": ()}
    assert "not one known data set" not in source.describe()
    assert source.describe().startswith("MNIST-format data, not a known data set (30 train / 20 test)")


# --- fingerprints and records ---------------------------------------------------------------


def test_fingerprint_is_the_hash_of_images_then_labels_decompressed(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    source = identify(tmp_path)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        raw = b"".join(
            gzip.decompress((tmp_path / f"{prefix}-{kind}-ubyte.gz").read_bytes())
            for kind in ("images-idx3", "labels-idx1")
        )
        assert source.fingerprints[split] == hashlib.sha256(raw).hexdigest()


def test_record_is_json_and_round_trips(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    source = identify(tmp_path)
    record = json.loads(json.dumps(source.record()))
    assert record == {
        "name": None,
        "folder": str(tmp_path),
        "counts": {"train": 30, "test": 20},
        "fingerprints": source.fingerprints,
    }
    back = DataSource.from_record(record)
    assert back.matches(source) is True and back.matches(source, "train") is True
    assert back.describe() == source.describe()


def test_matches_tells_other_data_apart(tmp_path: Path) -> None:
    make_dataset(tmp_path / "a", seed=1)
    make_dataset(tmp_path / "b", seed=2)
    a, b = identify(tmp_path / "a"), identify(tmp_path / "b")
    assert a.matches(b) is False
    assert a.matches(identify(tmp_path / "b", splits=("train",))) is None  # no test split to compare


@pytest.mark.parametrize(
    "record",
    [
        [],
        {"name": 3, "folder": "/x", "counts": {}, "fingerprints": {}},
        {"name": None, "counts": {}, "fingerprints": {}},
        {"name": None, "folder": "/x", "counts": {"val": 3}, "fingerprints": {}},
        {"name": None, "folder": "/x", "counts": {"test": -1}, "fingerprints": {}},
        {"name": None, "folder": "/x", "counts": {"test": True}, "fingerprints": {}},
        {"name": None, "folder": "/x", "counts": {}, "fingerprints": {"test": 5}},
    ],
)
def test_a_malformed_record_is_a_data_error(record: object) -> None:
    with pytest.raises(DataError, match="data source record"):
        DataSource.from_record(record)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
records = st.fixed_dictionaries(
    {},
    optional={
        "name": st.none() | st.sampled_from([*DATASETS, "cifar"]) | json_values,
        "folder": st.text(max_size=10) | json_values,
        "counts": st.dictionaries(st.sampled_from(["train", "test", "x"]), st.integers(-2, 70_000) | json_values),
        "fingerprints": st.dictionaries(st.sampled_from(["train", "test", "x"]), st.text(max_size=8) | json_values),
    },
)


@settings(max_examples=150, database=None, deadline=None)
@given(record=records | json_values)
def test_any_record_gives_a_data_source_or_a_data_error(record: object) -> None:
    """Records come back from model files: outside bytes like any other."""
    try:
        source = DataSource.from_record(record)  # type: ignore[arg-type]
    except DataError:
        return
    assert isinstance(source.describe(), str)
    assert DataSource.from_record(json.loads(json.dumps(source.record()))) == source


# --- folders identify cannot use --------------------------------------------------------------


def test_identify_names_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"^{tmp_path / 'none'}: no such folder$"):
        identify(tmp_path / "none")
    make_dataset(tmp_path / "d")
    (tmp_path / "d" / NAMES["train_labels"]).unlink()
    with pytest.raises(DataError, match=r"d: lacks train-labels-idx1-ubyte\.gz \(gzip-compressed or not\)"):
        identify(tmp_path / "d")
    assert identify(tmp_path / "d", splits=("test",)).counts == {"test": 20}
    with pytest.raises(ConfigError, match="split"):
        identify(tmp_path / "d", splits=("dev",))


def test_identify_refuses_an_empty_split(tmp_path: Path) -> None:
    make_dataset(tmp_path, n_test=0)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: holds 0 images, expected at least 1"):
        identify(tmp_path)


# --- one read per run -------------------------------------------------------------------------


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []
    real = layerwise.datasets.source.read_idx_hashed

    def counting(path, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(Path(path))
        return real(path, **kwargs)

    monkeypatch.setattr(layerwise.datasets.source, "read_idx_hashed", counting)
    return reads


def test_identify_after_loading_reads_nothing_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dataset(tmp_path)
    reads = _count_reads(monkeypatch)
    load_mnist(data_dir=tmp_path)
    assert len(reads) == 4
    source = identify(locate("mnist", tmp_path))  # type: ignore[arg-type]
    assert len(reads) == 4 and source.counts == {"train": 30, "test": 20}


def test_loading_after_identify_reads_nothing_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dataset(tmp_path)
    reads = _count_reads(monkeypatch)
    name, _ = resolve_auto(data_dir=tmp_path)  # identifies the folder
    assert len(reads) == 4
    (x, t), (x_test, _) = load_mnist(name, data_dir=tmp_path, normalize=False)
    assert len(reads) == 4 and x.shape == (30, 784) and x_test.shape == (20, 784)
    x[...] = 0  # the arrays handed over are the caller's: a second load reads afresh
    (x2, _), _ = load_mnist(name, data_dir=tmp_path, normalize=False)
    assert len(reads) == 8 and x2.any()


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    make_dataset(tmp_path, seed=1)
    before = identify(tmp_path)
    make_dataset(tmp_path, seed=2)  # rewritten under the same names
    assert identify(tmp_path).fingerprints != before.fingerprints
    x, _ = load_split("mnist", "test", data_dir=tmp_path, normalize=False)
    np.testing.assert_array_equal(x.reshape(20, 28, 28), read_idx(tmp_path / NAMES["test_images"]))
