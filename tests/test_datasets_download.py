"""download(): verified, atomic, mirror fallback; every failure leaves no partial file behind."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from _datasets_server import LocalServer, local_server, unreachable_url

from layerwise.datasets import download, sha256_file
from layerwise.errors import DataError, DownloadError

BODY = bytes(range(256)) * 1000  # 256 kB: several read chunks
DIGEST = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # 127.0.0.1 must be reached directly
    with local_server() as srv:
        srv.files["data.gz"] = BODY
        yield srv


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_success_with_progress(
    server: LocalServer, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = download(server.url("ok", "data.gz"), cache / "data.gz", DIGEST, progress=True)
    assert dest == cache / "data.gz"
    assert dest.read_bytes() == BODY
    assert _leftovers(cache) == ["data.gz"]
    err = capsys.readouterr().err
    assert "data.gz" in err and "100%" in err  # the tqdm bar


def test_success_quiet_creates_folder(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "new" / "sub" / "data.gz"
    download(server.url("ok", "data.gz"), dest, DIGEST.upper(), progress=False)
    assert sha256_file(dest) == DIGEST
    assert capsys.readouterr().err == ""


def test_success_without_content_length(server: LocalServer, cache: Path) -> None:
    download(server.url("nolen", "data.gz"), cache / "data.gz", DIGEST, progress=False)
    assert (cache / "data.gz").read_bytes() == BODY


def test_checksum_mismatch(server: LocalServer, cache: Path) -> None:
    url = server.url("ok", "data.gz")
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download(url, cache / "data.gz", wrong, progress=False)
    msg = str(info.value)
    assert url in msg and "checksum mismatch" in msg
    assert wrong in msg and DIGEST in msg  # expected and actual
    assert _leftovers(cache) == []


def test_failed_download_keeps_existing_file(server: LocalServer, cache: Path) -> None:
    (cache / "data.gz").write_bytes(b"old")
    with pytest.raises(DownloadError):
        download(server.url("ok", "data.gz"), cache / "data.gz", "0" * 64, progress=False)
    assert (cache / "data.gz").read_bytes() == b"old"
    assert _leftovers(cache) == ["data.gz"]


def test_dropped_connection(server: LocalServer, cache: Path) -> None:
    url = server.url("drop", "data.gz")
    with pytest.raises(DownloadError) as info:
        download(url, cache / "data.gz", DIGEST, progress=True)
    msg = str(info.value)
    assert url in msg and "connection dropped" in msg
    assert f"expected {len(BODY) + 1000} bytes" in msg and f"received {len(BODY) // 2}" in msg
    assert _leftovers(cache) == []


@pytest.mark.parametrize("status", [404, 500])
def test_http_error(server: LocalServer, cache: Path, status: int) -> None:
    url = server.url(str(status), "data.gz")
    with pytest.raises(DownloadError) as info:
        download(url, cache / "data.gz", DIGEST, progress=False)
    assert url in str(info.value) and f"found {status}" in str(info.value)
    assert _leftovers(cache) == []


def test_timeout(server: LocalServer, cache: Path) -> None:
    server.slow_s = 3.0
    url = server.url("slow", "data.gz")
    with pytest.raises(DownloadError, match="timed out") as info:
        download(url, cache / "data.gz", DIGEST, progress=False, timeout=0.3)
    assert url in str(info.value)
    assert _leftovers(cache) == []


def test_connection_refused(cache: Path) -> None:
    url = unreachable_url() + "data.gz"
    with pytest.raises(DownloadError, match="could not connect") as info:
        download(url, cache / "data.gz", DIGEST, progress=False, timeout=2)
    assert url in str(info.value)
    assert _leftovers(cache) == []


def test_mirror_fallback(server: LocalServer, cache: Path) -> None:
    mirrors = [server.url("404", "data.gz"), server.url("ok", "data.gz")]
    download(mirrors, cache / "data.gz", DIGEST, progress=False)
    assert (cache / "data.gz").read_bytes() == BODY
    assert server.requests == ["/404/data.gz", "/ok/data.gz"]  # in order
    assert _leftovers(cache) == ["data.gz"]


def test_mirror_fallback_after_corrupt_mirror(server: LocalServer, cache: Path) -> None:
    server.files["bad.gz"] = b"not the file"
    mirrors = [
        server.url("ok", "bad.gz"),
        server.url("drop", "data.gz"),
        server.url("ok", "data.gz"),
    ]
    download(mirrors, cache / "data.gz", DIGEST, progress=False)
    assert (cache / "data.gz").read_bytes() == BODY
    assert _leftovers(cache) == ["data.gz"]


def test_all_mirrors_fail(server: LocalServer, cache: Path) -> None:
    mirrors = [server.url("404", "data.gz"), server.url("drop", "data.gz")]
    with pytest.raises(DownloadError) as info:
        download(mirrors, cache / "data.gz", DIGEST, progress=False)
    msg = str(info.value)
    assert "any of 2 mirrors" in msg
    assert all(m in msg for m in mirrors)
    assert "found 404" in msg and "connection dropped" in msg
    assert _leftovers(cache) == []


def test_download_error_is_a_data_error() -> None:
    assert issubclass(DownloadError, DataError)
    assert issubclass(DownloadError, ValueError)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
def test_only_http_urls(cache: Path, url: str) -> None:
    with pytest.raises(DownloadError, match="expected an http or https URL"):
        download(url, cache / "x", DIGEST, progress=False)
    assert _leftovers(cache) == []


def test_no_urls(cache: Path) -> None:
    with pytest.raises(ValueError, match="no URL"):
        download([], cache / "x", DIGEST)


def test_a_folder_that_cannot_be_made_is_a_data_error(server: LocalServer, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(DataError, match=r"file: cannot create the folder to download data\.gz into"):
        download(server.url("ok", "data.gz"), tmp_path / "file" / "data.gz", DIGEST, progress=False)
    assert _leftovers(tmp_path) == ["file"]
