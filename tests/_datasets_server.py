"""A throw-away HTTP server on 127.0.0.1 for the download tests; no public host is ever contacted.

The first path segment chooses the behaviour, the rest names a file from ``server.files``:

- ``/ok/NAME``: 200 with Content-Length;
- ``/nolen/NAME``: 200 without Content-Length, the body ended by closing the connection;
- ``/drop/NAME``: a Content-Length 1000 bytes too big, half the body, then close;
- ``/slow/NAME``: waits ``slow_s`` seconds before answering;
- ``/404/NAME``, ``/500/NAME``: that HTTP error.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True  # a /slow handler must not hold up shutdown
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.slow_s = 2.0

    def url(self, mode: str, name: str = "") -> str:
        """Base URL for ``mode`` (a mirror, ending in '/'), or the full URL of ``name``."""
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}/{name}"


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        _, mode, name = self.path.split("/", 2)
        if mode in ("404", "500"):
            self.send_error(int(mode))
            return
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        if mode == "slow":
            time.sleep(self.server.slow_s)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "drop":
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode != "nolen":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def local_server() -> Iterator[LocalServer]:
    """Start a :class:`LocalServer` in a thread; stop and close it afterwards."""
    server = LocalServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def unreachable_url() -> str:
    """A 127.0.0.1 URL on a port nothing listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


#: The four IDX file names every data set in the catalog uses, by split file key.
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def go_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private empty cache, no proxy, and every mirror pointing at a closed 127.0.0.1 port;
    returns the cache folder."""
    from layerwise.datasets import DATASETS

    cache = tmp_path.parent / f"{tmp_path.name}-cache"  # beside tmp_path, which stays as the test made it
    cache.mkdir(exist_ok=True)  # LAYERWISE_DATA names a folder: it must exist
    monkeypatch.setenv("LAYERWISE_DATA", str(cache))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    dead = unreachable_url()
    for name, spec in list(DATASETS.items()):
        if spec.mirrors:
            monkeypatch.setitem(DATASETS, name, dataclasses.replace(spec, mirrors=(dead,)))
    return cache


def checkpoint_epoch(path: Path) -> int:
    """The epoch a checkpoint file holds, read from its header; 0 while there is none."""
    try:
        with open(path, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        return int(header["__metadata__"]["epoch"])
    except (OSError, ValueError, KeyError):
        return 0
