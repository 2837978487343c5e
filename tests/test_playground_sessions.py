"""Training sessions under load (issue 29): a session is never dropped between create and
start, nor while it runs; past the limit creation is refused with a 429 naming it; a session
that ended lets go of its network, its caches and its optimizer's state."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._asgi import asgi_request
from tests._optional import require

require("starlette", 'the playground extra: pip install -e ".[playground]"')


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    from layerwise.playground.digits import DigitModel, default_network
    from layerwise.playground.server import create_app

    application = create_app(DigitModel(default_network()), tmp_path)
    yield application
    application.state.sessions.close()


def wait_for(session: Any, predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(session):
        assert time.monotonic() < deadline, session.describe()
        time.sleep(0.02)


def test_more_sessions_than_the_limit_none_is_dropped_before_it_starts(app: Any) -> None:
    from layerwise.playground.training import MAX_SESSIONS

    created, refusals = [], []
    for _ in range(MAX_SESSIONS + 3):  # 19 tabs, as in the issue
        status, got = asgi_request(app, "POST", "/api/train/sessions", {"epochs": 1, "batch_size": 1000})
        if status == 201:
            created.append(got["id"])
        else:
            refusals.append((status, got["error"]))
    assert len(created) == MAX_SESSIONS
    assert refusals and all(status == 429 and f"MAX_SESSIONS = {MAX_SESSIONS}" in error
                            for status, error in refusals), refusals
    for sid in created:
        status, got = asgi_request(app, "POST", f"/api/train/sessions/{sid}/start")
        assert status == 200 and got["state"] in ("running", "finished"), got
    for sid in created:
        assert asgi_request(app, "POST", f"/api/train/sessions/{sid}/stop")[0] == 200


def test_a_finished_session_makes_room_and_its_tab_is_told_why(app: Any) -> None:
    from layerwise.playground.training import MAX_SESSIONS

    ids = [asgi_request(app, "POST", "/api/train/sessions", {})[1]["id"] for _ in range(MAX_SESSIONS)]
    assert asgi_request(app, "POST", f"/api/train/sessions/{ids[3]}/stop")[1]["state"] == "stopped"
    status, _ = asgi_request(app, "POST", "/api/train/sessions", {})
    assert status == 201
    status, got = asgi_request(app, "GET", f"/api/train/sessions/{ids[3]}")
    assert status == 404 and "make room" in got["error"] and "stopped" in got["error"], got
    for sid in ids[:3] + ids[4:]:  # the others, not started, are all there
        assert asgi_request(app, "GET", f"/api/train/sessions/{sid}")[0] == 200


def test_a_session_left_unstarted_past_the_abandon_time_makes_room(tmp_path: Path) -> None:
    from layerwise.playground.training import Sessions

    sessions = Sessions(tmp_path, max_sessions=2, abandoned_after=0.0)
    first = sessions.create({})
    sessions.create({})
    sessions.create({})
    with pytest.raises(Exception, match="unused for 0 minutes"):
        sessions.get(first.id)


def test_a_running_session_is_never_dropped_to_make_room(tmp_path: Path) -> None:
    from layerwise.playground.training import Sessions
    from layerwise.playground.validation import BadRequest

    sessions = Sessions(tmp_path, max_sessions=1, abandoned_after=0.0)
    running = sessions.create({"epochs": 100})
    running.start()
    try:
        with pytest.raises(BadRequest, match="limit") as info:
            sessions.create({})
        assert info.value.status == 429
        assert sessions.get(running.id) is running and running.state == "running"
    finally:
        running.stop()


@pytest.mark.parametrize("how", ["stopped", "finished", "never started"])
def test_a_session_that_ended_lets_go_of_its_network_and_can_still_save(tmp_path: Path, how: str) -> None:
    import layerwise as lw
    from layerwise.playground.training import TrainingSession

    session = TrainingSession({"network": "SimpleConvNet", "epochs": 1 if how == "finished" else 50,
                               "batch_size": 200, "optimizer": "Adam", "lr": 0.001}, tmp_path)
    net = weakref.ref(session.net)
    if how != "never started":
        session.start()
        wait_for(session, lambda s: s.iteration >= 2 or s.finished)
    if how == "finished":
        wait_for(session, lambda s: s.finished)
    else:
        session.stop()
    assert session.finished
    gc.collect()
    assert net() is None, "the network (its layers' caches, the optimizer's state) is still held"
    weights = session.weights()
    saved = lw.load_model(session.save())
    for key, value in weights.items():
        np.testing.assert_array_equal(saved.params[key], value)


def test_every_bad_setting_is_reported_at_once(app: Any) -> None:
    status, got = asgi_request(app, "POST", "/api/train/sessions",
                               {"lr": 0, "batch_size": 0, "epochs": 10**6, "optimizer": "Lion", "colour": "red"})
    assert status == 422, got
    error = got["error"]
    assert "\n" not in error and error.startswith("5 settings to fix")
    for field in ("lr:", "batch_size:", "epochs:", "optimizer:", "'colour'"):
        assert field in error, (field, error)


def test_a_run_whose_loss_explodes_ends_diverged_with_a_smaller_learning_rate_suggested(tmp_path: Path) -> None:
    from layerwise.playground.training import TrainingSession

    session = TrainingSession({"network": "TwoLayerNet", "lr": 9, "epochs": 3}, tmp_path)
    session.start()
    wait_for(session, lambda s: s.finished)
    assert session.state == "diverged", session.message
    assert "diverged" in session.message and "smaller learning rate, e.g. 0.9" in session.message
    assert session.events_since(0)[-1]["data"]["state"] == "diverged"
