"""``layerwise playground`` as a command: where it listens, what it says, how it ends; and the
MNIST-style centring of drawn digits."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests._optional import require

URL = re.compile(r"layerwise playground: (http://\S+)")


def start(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """The command started with ``args``, and the address it printed."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "layerwise", "playground", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = URL.search(line)
    if match is None:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"no address printed: {line!r} {err}")
    return proc, match.group(1)


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if int(hexport, 16) == port and state == "0A":  # LISTEN
                found.add(addr)
    return found


def other_address() -> str | None:
    """An address of this machine that is not the loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


@pytest.fixture
def extras() -> Iterator[None]:
    require("starlette")
    require("uvicorn")
    yield


def test_without_host_it_listens_on_the_loopback_only(extras: None, tmp_path: Path) -> None:
    proc, url = start(cwd=tmp_path)
    try:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with urllib.request.urlopen(url + "api/graphs", timeout=10) as resp:
            assert resp.status == 200
        if Path("/proc/net/tcp").exists():
            assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing else
        other = other_address()
        if other is not None:
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()
    finally:
        code, err = interrupt(proc)
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def test_with_host_it_warns_loudly(extras: None, tmp_path: Path) -> None:
    proc, url = start("--host", "0.0.0.0", cwd=tmp_path)
    try:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/graphs", timeout=10) as resp:
            assert resp.status == 200
    finally:
        code, err = interrupt(proc)
    assert "warning" in err and "ANYONE" in err and "--host" in err


def test_sigterm_ends_it_cleanly(extras: None, tmp_path: Path) -> None:
    proc, url = start("--port", "0", cwd=tmp_path)
    time.sleep(0.2)
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err


@pytest.mark.parametrize("args, code, words", [
    (["--port", "70000"], 2, "--port"),
    (["--save-dir", "no/such/folder"], 2, "--save-dir"),
    (["--model", "missing.safetensors"], 1, "missing.safetensors"),
    (["--port", "x"], 2, "--port"),
])
def test_bad_arguments_are_one_line_errors(extras: None, tmp_path: Path, args: list[str], code: int,
                                           words: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "layerwise", "playground", "--no-browser", *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_a_port_in_use_is_a_usage_error(extras: None, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "layerwise", "playground", "--no-browser", "--port", str(port)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and f"port {port}" in proc.stderr and "Traceback" not in proc.stderr


def test_a_model_that_is_not_for_digits_is_refused(extras: None, tmp_path: Path) -> None:
    import layerwise as lw

    lw.save_model(lw.TwoLayerNet(20, 5, 3, rng=0), tmp_path / "small.safetensors")
    proc = subprocess.run([sys.executable, "-m", "layerwise", "playground", "--no-browser", "--model",
                           "small.safetensors"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "28×28" in proc.stderr and "Traceback" not in proc.stderr


def test_a_given_model_is_used_on_the_digit_page(extras: None, tmp_path: Path) -> None:
    import json

    import layerwise as lw

    lw.save_model(lw.TwoLayerNet(784, 30, 10, rng=1), tmp_path / "mine.safetensors")
    proc, url = start("--model", "mine.safetensors", cwd=tmp_path)
    try:
        with urllib.request.urlopen(url + "api/digits/status", timeout=10) as resp:
            status = json.loads(resp.read())
        assert status["state"] == "ready" and "mine.safetensors" in status["description"]
    finally:
        interrupt(proc)


# -- centring like MNIST --------------------------------------------------------------------------

def test_a_small_digit_in_a_corner_is_scaled_to_20_pixels_and_centred() -> None:
    from layerwise.playground.preprocess import center_like_mnist

    img = np.zeros((112, 112))
    img[5:35, 70:80] = 1.0  # a "1", 30 tall, 10 wide, top right
    out = center_like_mnist(img)
    assert out is not None and out.shape == (28, 28) and out.dtype == np.float32
    rows, cols = np.flatnonzero(out.max(axis=1) > 0.05), np.flatnonzero(out.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20  # the longer side is 20
    assert 6 <= cols[-1] - cols[0] + 1 <= 8  # the aspect ratio is kept
    ys, xs = np.mgrid[0:28, 0:28]
    cy, cx = (ys * out).sum() / out.sum(), (xs * out).sum() / out.sum()
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_centred_mnist_digits_fit_20_pixels_with_their_mass_at_the_centre() -> None:
    from layerwise.playground.digits import sample_data
    from layerwise.playground.preprocess import center_like_mnist

    _, (x_test, _) = sample_data()
    ys, xs = np.mgrid[0:28, 0:28]
    for i in range(100):
        out = center_like_mnist(x_test[i, 0])
        assert out is not None
        rows, cols = np.flatnonzero(out.max(axis=1) > 0.05), np.flatnonzero(out.max(axis=0) > 0.05)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21), i
        cy, cx = (ys * out).sum() / out.sum(), (xs * out).sum() / out.sum()
        assert abs(cy - 13.5) <= 0.5 + 1e-9 and abs(cx - 13.5) <= 0.5 + 1e-9, i


def test_a_blank_image_has_nothing_to_centre() -> None:
    from layerwise.playground.preprocess import center_like_mnist

    assert center_like_mnist(np.zeros((50, 60))) is None
