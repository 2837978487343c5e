"""The playground's HTTP API, against the real server (uvicorn in a thread, a free port).

Every bad request gets a 4xx and a one-line JSON message, never a 500 or a traceback; no
request can name a file; two sessions train apart.
"""

from __future__ import annotations

import json
import math
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._optional import require

# the server needs the playground extra: without it every test here is skipped (fails in CI)
require("starlette", 'the playground extra: pip install -e ".[playground]"')
require("uvicorn", 'the playground extra: pip install -e ".[playground]"')


@pytest.fixture(scope="module")
def save_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("saved")


@pytest.fixture(scope="module")
def server(save_dir: Path) -> Iterator[Any]:
    from layerwise.playground.digits import DigitModel
    from layerwise.playground.server import Playground, create_app

    pg = Playground(create_app(DigitModel(), save_dir)).start()
    pg.app.state.digits.wait()
    try:
        yield pg
    finally:
        pg.stop()


def call(server: Any, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         content_type: str = "application/json", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request; never raises for an HTTP error status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(server.url.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    assert b"Traceback" not in text
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode("utf-8", "replace")


def refused(server: Any, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, str]:
    status, got = call(server, method, path, body, **kw)
    assert 400 <= status < 500, (status, got)
    assert isinstance(got, dict) and isinstance(got["error"], str) and "\n" not in got["error"], got
    return status, got["error"]


# -- page 1 -------------------------------------------------------------------------------------

def test_every_figure_of_the_library_is_offered_with_its_inputs(server: Any) -> None:
    from layerwise.figures.graph import FIGURES

    status, got = call(server, "GET", "/api/graphs")
    assert status == 200
    assert [f["name"] for f in got["figures"]] == list(FIGURES)
    apple = got["figures"][0]
    assert [(p["name"], p["default"]) for p in apple["params"]] == [("price", 100.0), ("num", 2.0), ("tax", 1.1)]


def test_a_figure_is_computed_by_the_library_with_the_inputs_given(server: Any) -> None:
    from layerwise.figures.graph.figures import apple_orange

    status, got = call(server, "POST", "/api/graphs/apple-orange", {"params": {"apple_price": 120, "tax": 1.2}})
    assert status == 200
    g = apple_orange(apple_price=120, tax=1.2)
    assert [e["grad"] for e in got["edges"]] == [None if e.grad is None else e.grad.tolist() for e in g.edges]
    assert [e["value"] for e in got["edges"]] == [e.value.tolist() for e in g.edges]
    assert got["nodes"][g.node("tax").id]["grad"] == pytest.approx(float(g.node("tax").grad))


@pytest.mark.parametrize("body, status, words", [
    ({"params": {"price": "cheap"}}, 400, "price"),
    ({"params": {"price": [1, 2]}}, 400, "price"),
    ({"params": {"colour": 1}}, 422, "no input 'colour'"),
    ({"params": [1, 2]}, 400, "params"),
    ({"params": {"price": 1e308, "num": 1e308}}, 422, "float64"),
])
def test_bad_figure_inputs_are_refused_with_a_message(server: Any, body: Any, status: int, words: str) -> None:
    got_status, message = refused(server, "POST", "/api/graphs/apple", body)
    assert got_status == status and words in message, message


def test_figure_errors_of_the_library_reach_the_page(server: Any) -> None:
    status, message = refused(server, "POST", "/api/graphs/softmax-loss", {"params": {"t": 3}})
    assert status == 422 and "out of range" in message
    status, message = refused(server, "POST", "/api/graphs/softmax-loss", {"params": {"x": [1.0] * 21}})
    assert status == 422 and "at most 20" in message
    status, message = refused(server, "POST", "/api/graphs/softmax-loss", {"params": {"x": [1, 2], "y": [0.5, 0.5]}})
    assert status == 422 and "not both" in message
    status, message = refused(server, "POST", "/api/graphs/affine", {"params": {"n": 10**6}})
    assert status == 422
    assert refused(server, "POST", "/api/graphs/nonsense", {})[0] == 404


@pytest.mark.parametrize("raw", [b'{"params": {"price": NaN}}', b'{"params": {"price": Infinity}}',
                                 b'{"params": {"price": -Infinity}}'])
def test_nan_and_infinity_in_a_body_are_refused(server: Any, raw: bytes) -> None:
    status, message = refused(server, "POST", "/api/graphs/apple", raw=raw)
    assert status == 400 and "not a number JSON allows" in message


def test_malformed_bodies_are_refused(server: Any) -> None:
    assert refused(server, "POST", "/api/graphs/apple", raw=b"{not json")[0] == 400
    assert refused(server, "POST", "/api/graphs/apple", raw=b"[1, 2]")[0] == 400
    assert refused(server, "POST", "/api/graphs/apple", raw=b"\xff\xfe")[0] == 400
    assert refused(server, "POST", "/api/graphs/apple", raw=b"[" * 100_000 + b"]" * 100_000)[0] in (400, 413)
    status, message = refused(server, "POST", "/api/graphs/apple", raw=b"price=1",
                              content_type="application/x-www-form-urlencoded")
    assert status == 415 and "JSON" in message


def raw_request(server: Any, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: Any) -> None:
    from layerwise.playground.validation import MAX_BODY_BYTES

    head = (f"POST /api/digits/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {10 * MAX_BODY_BYTES}\r\n"
            "Connection: close\r\n\r\n").encode()
    reply = raw_request(server, head, b'{"pixels": [0,')  # the rest never comes
    assert reply.startswith(b"HTTP/1.1 413") and b"over the limit" in reply


def test_a_chunked_body_over_the_limit_is_refused(server: Any) -> None:
    """No Content-Length to go by: the server counts while it reads, and answers at the limit."""
    import select

    from layerwise.playground.validation import MAX_BODY_BYTES

    head = (f"POST /api/digits/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    piece = b"0," * 20_000
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        while not select.select([sock], [], [], 0.01)[0]:  # until the server answers
            assert sent < 3 * MAX_BODY_BYTES, "the server read on past its limit"
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:  # the rest of our body was never read: fine
            pass
    assert reply.startswith(b"HTTP/1.1 413") and b"over the limit" in reply
    assert sent >= MAX_BODY_BYTES


# -- page 2 -------------------------------------------------------------------------------------

def drawn(width: int = 112, height: int = 112) -> dict[str, Any]:
    img = np.zeros((height, width))
    img[height // 5 : height * 4 // 5, width // 2 - 4 : width // 2 + 4] = 1.0  # a "1"
    return {"width": width, "height": height, "pixels": img.ravel().tolist()}


def test_a_drawn_digit_is_centred_predicted_and_traced_to_the_input(server: Any) -> None:
    status, got = call(server, "POST", "/api/digits/predict", {**drawn(), "label": 7})
    assert status == 200
    assert len(got["input"]) == 784 and len(got["probs"]) == 10
    assert sum(got["probs"]) == pytest.approx(1.0)
    assert got["label"] == 7
    steps = got["trace"]["steps"]
    net = server.app.state.digits.network
    assert [s["name"] for s in steps] == [*net.layers, "SoftmaxWithLoss"]
    assert steps[-1]["dx"]["values"][7] < 0  # y − t at the label
    assert len(got["trace"]["input_grad"]) == 784 and any(v != 0 for v in got["trace"]["input_grad"])
    assert [layer["name"] for layer in got["layers"]] == list(net.layers)
    assert "maps" in got["layers"][0]["out"]  # a conv net: feature maps


def test_the_trace_of_a_sample_is_that_of_the_network(server: Any) -> None:
    import layerwise as lw
    from layerwise.playground.digits import sample_data

    _, (x_test, t_test) = sample_data()
    status, got = call(server, "POST", "/api/digits/predict", {"sample": 10, "label": int(t_test[10])})
    assert status == 200 and got["sample"] == {"index": 10, "label": int(t_test[10])}
    net = server.app.state.digits.network
    loss = net.loss(x_test[10:11], t_test[10:11])
    assert got["trace"]["loss"] == pytest.approx(loss, rel=1e-5)
    grads = net.gradient(x_test[10:11], t_test[10:11])
    conv = got["trace"]["steps"][0]
    assert conv["grads"]["W1"]["norm"] == pytest.approx(float(np.linalg.norm(grads["W1"])), rel=1e-4)
    probs = lw.softmax(np.asarray(net.predict(x_test[10:11]), dtype=np.float64))[0]
    np.testing.assert_allclose(got["probs"], probs, rtol=1e-9)


def test_the_network_reads_centred_digits_as_it_reads_mnist(server: Any) -> None:
    """The centring is MNIST's: test digits put through it are predicted as before."""
    from layerwise.playground.digits import sample_data
    from layerwise.playground.preprocess import center_like_mnist

    _, (x_test, _) = sample_data()
    net = server.app.state.digits.network
    again = np.stack([center_like_mnist(x_test[i, 0]) for i in range(300)])[:, None]
    same = np.argmax(net.predict(again), axis=1) == np.argmax(net.predict(x_test[:300]), axis=1)
    assert same.mean() > 0.9


@pytest.mark.parametrize("change, status, words", [
    ({"width": 112, "height": 100}, 422, "112×100"),
    ({"width": 4, "height": 4, "pixels": [0.0] * 16}, 422, "width"),
    ({"width": 1000, "height": 1000}, 422, "width"),
    ({"width": "112"}, 400, "width"),
    ({"pixels": "abc"}, 400, "pixels"),
    ({"label": 10}, 422, "label"),
    ({"label": -1}, 422, "label"),
    ({"label": "3"}, 400, "label"),
    ({"label": 2.5}, 400, "label"),
    ({"path": "/etc/passwd"}, 422, "unknown field"),
])
def test_bad_images_and_labels_are_refused(server: Any, change: dict[str, Any], status: int, words: str) -> None:
    got_status, message = refused(server, "POST", "/api/digits/predict", {**drawn(), **change})
    assert got_status == status and words in message, message


def test_bad_pixel_values_are_refused(server: Any) -> None:
    body = drawn()
    for bad, status in ((2.0, 422), (-0.5, 422), ("x", 400), (None, 400), (True, 400), ([0.5], 400)):
        pixels = list(body["pixels"])
        pixels[5] = bad
        got_status, message = refused(server, "POST", "/api/digits/predict", {**body, "pixels": pixels})
        assert got_status == status and "pixels[5]" in message, (bad, message)
    raw = json.dumps(body).replace("[0.0, ", "[NaN, ", 1).encode()
    assert refused(server, "POST", "/api/digits/predict", raw=raw)[0] == 400
    raw = json.dumps(body).replace("[0.0, ", "[1e999, ", 1).encode()  # parses as inf
    assert refused(server, "POST", "/api/digits/predict", raw=raw) == (422, "pixels[0]: expected a number in 0..1, got inf")


def test_a_blank_image_and_a_sample_out_of_range_are_refused(server: Any) -> None:
    blank = {"width": 28, "height": 28, "pixels": [0.0] * 784}
    assert refused(server, "POST", "/api/digits/predict", blank) == (422, "the image is blank: draw a digit first")
    status, message = refused(server, "POST", "/api/digits/predict", {"sample": 1000})
    assert status == 422 and "0..999" in message
    assert refused(server, "POST", "/api/digits/predict", {"sample": -1})[0] == 422


def test_before_the_model_is_ready_a_prediction_is_refused_and_progress_is_shown(save_dir: Path) -> None:
    from layerwise.playground.digits import DigitModel
    from layerwise.playground.server import Playground, create_app

    model = DigitModel()  # not started: as the server is between binding and training
    pg = Playground(create_app(model, save_dir))
    app_model = pg.app.state.digits
    assert app_model is model
    # no lifespan ran, so nothing trains: the state stays "waiting"
    status = model.status()
    assert status["state"] == "waiting" and status["progress"] == 0.0
    from layerwise.playground.validation import BadRequest

    with pytest.raises(BadRequest) as info:
        model.analyse(np.ones((28, 28)), None)
    assert info.value.status == 409 and "not ready" in info.value.message
    pg.socket.close()


def test_the_status_reports_training_progress_then_the_model(server: Any) -> None:
    status, got = call(server, "GET", "/api/digits/status")
    assert status == 200 and got["state"] == "ready" and got["progress"] == 1.0
    assert "test accuracy" in got["description"]


# -- page 3 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, status, words", [
    ({"network": "ResNet"}, 422, "network"),
    ({"optimizer": "Lion"}, 422, "optimizer"),
    ({"lr": 0}, 422, "lr"),
    ({"lr": -1}, 422, "lr"),
    ({"lr": 1e9}, 422, "lr"),
    ({"lr": "fast"}, 400, "lr"),
    ({"batch_size": 0}, 422, "batch_size"),
    ({"batch_size": 1.5}, 400, "batch_size"),
    ({"epochs": 10**6}, 422, "epochs"),
    ({"save_path": "/tmp/x.safetensors"}, 422, "unknown setting"),
])
def test_bad_training_settings_are_refused(server: Any, settings: dict[str, Any], status: int, words: str) -> None:
    got_status, message = refused(server, "POST", "/api/train/sessions", settings)
    assert got_status == status and words in message, message


def test_session_actions_out_of_turn_are_refused(server: Any) -> None:
    status, s = call(server, "POST", "/api/train/sessions", {"epochs": 1})
    assert status == 201
    sid = s["id"]
    assert refused(server, "POST", f"/api/train/sessions/{sid}/pause")[0] == 409
    assert refused(server, "POST", f"/api/train/sessions/{sid}/resume")[0] == 409
    assert refused(server, "POST", f"/api/train/sessions/{sid}/explode")[0] == 404
    assert refused(server, "POST", "/api/train/sessions/no-such-id/start")[0] == 404
    assert refused(server, "GET", "/api/train/sessions/no-such-id/events")[0] == 404
    assert call(server, "POST", f"/api/train/sessions/{sid}/stop")[1]["state"] == "stopped"
    assert refused(server, "POST", f"/api/train/sessions/{sid}/start")[0] == 409


def wait_for(session: Any, predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(session):
        assert time.monotonic() < deadline, session.describe()
        time.sleep(0.02)


def test_two_sessions_train_apart_and_save_their_own_files(server: Any, save_dir: Path) -> None:
    import layerwise as lw

    ids = []
    for net, opt in (("TwoLayerNet", "SGD"), ("MLP", "Adam")):
        status, s = call(server, "POST", "/api/train/sessions",
                         {"network": net, "optimizer": opt, "lr": 0.1 if opt == "SGD" else 0.001, "epochs": 50})
        assert status == 201
        ids.append(s["id"])
    for sid in ids:
        assert call(server, "POST", f"/api/train/sessions/{sid}/start")[1]["state"] == "running"
    sessions = [server.app.state.sessions.get(sid) for sid in ids]
    for s in sessions:
        wait_for(s, lambda s: s.iteration >= 5)
    files = []
    for sid in ids:  # saved while both train
        status, got = call(server, "POST", f"/api/train/sessions/{sid}/save")
        assert status == 200 and Path(got["path"]).parent == save_dir and got["file"] == Path(got["path"]).name
        files.append(save_dir / got["file"])
    assert call(server, "POST", f"/api/train/sessions/{ids[0]}/pause")[1]["state"] == "paused"
    paused_at = sessions[0].iteration  # pause returns once the step under way is done
    time.sleep(0.3)
    assert sessions[0].iteration == paused_at
    assert call(server, "POST", f"/api/train/sessions/{ids[0]}/resume")[1]["state"] == "running"
    for sid in ids:
        assert call(server, "POST", f"/api/train/sessions/{sid}/stop")[1]["state"] == "stopped"
    a, b = (lw.load_model(f) for f in files)
    assert type(a).__name__ == "TwoLayerNet" and type(b).__name__ == "MultiLayerNet"
    assert files[0].stat().st_size > 0 and all(f.is_file() for f in files)
    # stopping kept the files as saved; a save after stopping writes the weights as they stopped
    status, got = call(server, "POST", f"/api/train/sessions/{ids[0]}/save")
    final = lw.load_model(save_dir / got["file"])
    for key, value in sessions[0].weights().items():
        np.testing.assert_array_equal(final.params[key], value)
    assert lw.load_model(files[0]).params["W1"].shape == (784, 50)


def test_training_events_stream_steps_epochs_and_the_end(server: Any) -> None:
    status, s = call(server, "POST", "/api/train/sessions", {"network": "TwoLayerNet", "epochs": 1, "batch_size": 200})
    call(server, "POST", f"/api/train/sessions/{s['id']}/start")
    req = urllib.request.Request(server.url + f"api/train/sessions/{s['id']}/events")
    kinds, data = [], []
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        for line in resp:
            text = line.decode().strip()
            if text.startswith("event: "):
                kinds.append(text[7:])
            if text.startswith("data: "):
                data.append(json.loads(text[6:]))
            if kinds and kinds[-1] == "end":
                break
    assert kinds[0] == "state" and kinds[-1] == "end"
    assert "step" in kinds and kinds.count("epoch") == 1
    step = data[kinds.index("step")]
    assert set(step["grad_norms"]) == {"Affine1", "Affine2"} and math.isfinite(step["loss"])
    assert data[kinds.index("epoch")]["test_acc"] > 0.1
    assert data[kinds.index("state", 1)]["state"] == "finished"


def test_a_diverging_run_stops_with_a_message_and_the_last_good_weights(tmp_path: Path) -> None:
    from layerwise.playground.training import TrainingSession

    session = TrainingSession({"network": "TwoLayerNet", "epochs": 3}, tmp_path)
    before = {k: v.copy() for k, v in session.net.params.items()}
    real = session.net.loss_and_gradient

    def diverging(x: Any, t: Any) -> Any:
        loss, grads = real(x, t)
        return (float("nan") if session.iteration >= 3 else loss), grads

    session.net.loss_and_gradient = diverging  # type: ignore[method-assign]
    session.start()
    wait_for(session, lambda s: s.finished)
    assert session.state == "diverged" and "smaller learning rate" in session.message
    assert session.iteration == 3
    for key, value in session.weights().items():  # back to the start: no epoch was complete
        np.testing.assert_array_equal(value, before[key])
    assert session.events_since(0)[-1]["data"]["state"] == "diverged"


# -- the server itself --------------------------------------------------------------------------

def test_the_server_listens_on_the_loopback_only_by_default(server: Any) -> None:
    assert server.host == "127.0.0.1"
    assert server.socket.getsockname()[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_a_foreign_host_header_is_refused(server: Any) -> None:
    """A page elsewhere cannot reach the server through a name of its own (DNS rebinding)."""
    status, text = call(server, "GET", "/api/graphs", headers={"Host": f"evil.example:{server.port}"})
    assert status == 400
    assert call(server, "GET", "/api/graphs", headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_no_request_reads_a_file_outside_the_static_folder(server: Any) -> None:
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                 "/static/%2e%2e%2f%2e%2e%2fpyproject.toml", "/static//etc/passwd", "/etc/passwd"):
        status, got = call(server, "GET", path)
        assert status == 404, (path, status)
        assert "import" not in str(got)


def test_unknown_routes_and_methods_get_json_errors(server: Any) -> None:
    assert refused(server, "GET", "/api/nothing")[0] == 404
    assert refused(server, "GET", "/api/digits/predict")[0] == 405
    assert refused(server, "DELETE", "/api/train/sessions")[0] == 405


def test_pages_are_served_with_a_policy_that_allows_this_server_only(server: Any) -> None:
    with urllib.request.urlopen(server.url, timeout=10) as resp:
        html = resp.read().decode()
        policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "http" not in policy
    assert "http://" not in html and "https://" not in html
    from layerwise.playground.server import STATIC_DIR

    for asset in STATIC_DIR.iterdir():
        text = asset.read_text()
        assert "https://" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", ""), asset
        with urllib.request.urlopen(server.url + f"static/{asset.name}", timeout=10) as resp:
            assert resp.status == 200


def test_stop_shuts_the_server_down_and_frees_the_port(save_dir: Path) -> None:
    from layerwise.playground.digits import DigitModel
    from layerwise.playground.server import Playground, create_app

    pg = Playground(create_app(DigitModel(), save_dir)).start()
    port = pg.port
    assert call(pg, "GET", "/api/graphs")[0] == 200
    pg.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_the_page_shows_the_librarys_trace_and_its_frames(server: Any) -> None:
    """The digit page's trace is layerwise.trace's, and its figures are the trace's frames."""
    import layerwise as lw
    from layerwise.playground.digits import sample_data

    status, got = call(server, "POST", "/api/digits/predict", {"sample": 0, "label": 3})
    assert status == 200 and got["trace"]["source"] == "layerwise.trace"
    model = server.app.state.digits.network
    _, (x_test, _) = sample_data()
    expected = lw.trace(model.eval(), x_test[:1].astype(model.dtype), np.array([3]))
    assert [s["name"] for s in got["trace"]["steps"]] == [s.name for s in expected.steps]
    from layerwise.figures.trace_figure import layered_svg

    assert got["trace"]["svg"] == layered_svg(expected)
    assert got["trace"]["loss"] == pytest.approx(expected.loss, rel=1e-6)
    assert call(server, "GET", "/api/digits/status")[1]["trace"] == "layerwise.trace"


def test_a_given_mlp_shows_its_activations_as_vectors_and_its_input_gradient() -> None:
    import layerwise as lw
    from layerwise.playground.digits import DigitModel, sample_data

    _, (x_test, t_test) = sample_data()
    net = lw.TwoLayerNet(784, 20, 10, rng=3)
    got = DigitModel(net, "mine").analyse_sample(2, None)
    assert [layer["name"] for layer in got["layers"]] == ["Affine1", "Relu1", "Affine2"]
    assert [len(layer["out"]["values"]) for layer in got["layers"]] == [20, 20, 10]
    grad = np.asarray(got["trace"]["input_grad"]).reshape(28, 28)
    x = x_test[2:3].reshape(1, -1).astype(np.float64)
    t = np.array([got["prediction"]])
    net64 = net.copy().astype(np.float64)
    # the input gradient by central differences, at the pixel where it is largest
    i = int(np.argmax(np.abs(grad)))
    up, down = x.copy(), x.copy()
    up[0, i] += 1e-4
    down[0, i] -= 1e-4
    numeric = (net64.loss(up, t) - net64.loss(down, t)) / 2e-4
    assert numeric == pytest.approx(grad.ravel()[i], rel=1e-3)


def test_every_static_file_ships_in_the_wheel() -> None:
    """package-data names ``playground/static/*``: no subfolders there, which it would miss."""
    from layerwise.playground.server import STATIC_DIR

    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"playground/static/*"' in pyproject
    assert all(p.is_file() for p in STATIC_DIR.iterdir())
    html = (STATIC_DIR / "index.html").read_text()
    assert "/static/app.js" in html and (STATIC_DIR / "app.js").is_file()
