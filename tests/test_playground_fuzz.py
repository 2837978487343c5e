"""Every playground route fed hypothesis-generated JSON: an answer or a 4xx naming the field,
never a 5xx (issue 29: a 400-digit integer, an infinite intermediate, nested objects).

The app is called in this process (:mod:`tests._asgi`); the routes are read from the app, so a
route added later is fuzzed too.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._asgi import asgi_request
from tests._optional import require

require("starlette", 'the playground extra: pip install -e ".[playground]"')

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FIELDS = ["params", "network", "optimizer", "lr", "batch_size", "epochs", "seed", "width", "height",
          "pixels", "sample", "label"]
#: The fields a route reads, so most bodies get past its check for unknown fields (a route not
#: listed gets any of FIELDS).
ROUTE_FIELDS = {"/api/graphs/{name}": ["params"],
                "/api/train/sessions": ["network", "optimizer", "lr", "batch_size", "epochs", "seed"],
                "/api/digits/predict": ["width", "height", "pixels", "sample", "label"]}
ACTIONS = ["start", "pause", "resume", "stop", "save"]

#: Numbers at the edges: beyond float64 as integers, the largest floats, exp's overflow.
EXTREMES = st.sampled_from([-1000, 1000, -1e308, 1e308, 5e-324, -0.0, 10**400, -(10**400), 2**63, 2**64])
numbers = st.one_of(
    EXTREMES,
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=12)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from layerwise.playground.digits import DigitModel, default_network
    from layerwise.playground.server import create_app

    application = create_app(DigitModel(default_network()), tmp_path_factory.mktemp("saved"))
    yield application
    application.state.sessions.close()


def figure_inputs() -> dict[str, list[str]]:
    from layerwise.playground.graphs import figure_specs

    return {f["name"]: [p["name"] for p in f["params"]] for f in figure_specs()}


def bodies(template: str) -> st.SearchStrategy[Any]:
    inputs = sorted({p for names in figure_inputs().values() for p in names})
    values = st.one_of(EXTREMES, numbers, json_values)
    params = st.dictionaries(st.sampled_from(inputs), values, max_size=3)
    fields = st.dictionaries(st.sampled_from(ROUTE_FIELDS.get(template, FIELDS)), values, max_size=4)
    stray = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=4), json_values, max_size=4)
    with_params = st.builds(lambda d, p: {**d, "params": p}, stray, params)
    image = st.fixed_dictionaries({"width": st.just(8), "height": st.just(8),
                                   "pixels": st.lists(numbers, min_size=64, max_size=64)},
                                  optional={"label": json_values})
    if template == "/api/graphs/{name}":
        return st.one_of(st.fixed_dictionaries({"params": params}), with_params, json_values)
    return st.one_of(fields, fields, image if "pixels" in ROUTE_FIELDS.get(template, FIELDS) else fields,
                     stray, with_params, json_values)


def routes(app: Any = None) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app, mounts as a template of their own."""
    from starlette.routing import Mount, Route

    if app is None:  # at collection: an app of its own, its model untrained (nothing runs)
        from layerwise.playground.digits import DigitModel, default_network
        from layerwise.playground.server import create_app

        app = create_app(DigitModel(default_network()), tempfile.gettempdir())
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(m, route.path) for m in sorted(route.methods or {"GET"}) if m != "HEAD"]
        elif isinstance(route, Mount):
            found.append(("GET", route.path + "/{path}"))
    return found


def fill(template: str, draw: Any, session_id: str) -> str:
    from urllib.parse import quote

    known = {"name": list(figure_inputs()), "sid": [session_id], "action": ACTIONS, "path": ["app.js"]}

    def one(match: re.Match[str]) -> str:
        values = known.get(match.group(1))
        other = st.text(min_size=1, max_size=6)
        choice = draw(st.one_of(st.sampled_from(values), st.sampled_from(values), other) if values else other)
        return quote(choice, safe="")

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, template)


def test_the_fuzz_reaches_every_route_of_the_app(app: Any) -> None:
    paths = {p for _, p in routes(app)}
    assert {"/api/graphs/{name}", "/api/digits/predict", "/api/train/sessions",
            "/api/train/sessions/{sid}/{action}"} <= paths


@pytest.mark.parametrize(("method", "template"), routes())
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_json_body_gets_a_server_error_on_any_route(app: Any, method: str, template: str,
                                                       data: st.DataObject) -> None:
    status, created = asgi_request(app, "POST", "/api/train/sessions", {"epochs": 1, "batch_size": 1000})
    sid = created["id"] if status == 201 else "none"
    path = fill(template, data.draw, sid)
    body = data.draw(bodies(template), label="body")
    status, got = asgi_request(app, method, path, body)
    assert 200 <= status < 500, (method, path, body, status, got)
    if status >= 400 and path.startswith("/api/"):
        assert isinstance(got, dict) and isinstance(got["error"], str) and "\n" not in got["error"], got


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/graphs/apple", {"params": {"price": 10**400}}, "price"),
    ("/api/graphs/apple", {"params": {"num": -(10**400)}}, "num"),
    ("/api/graphs/softmax-loss", {"params": {"x": [1, 10**400]}}, "x[1]"),
    ("/api/graphs/affine", {"params": {"seed": 10**400}}, "seed"),
    ("/api/train/sessions", {"lr": 10**400}, "lr"),
    ("/api/train/sessions", {"epochs": 10**400}, "epochs"),
    ("/api/digits/predict", {"width": 8, "height": 8, "pixels": [0] * 63 + [10**400]}, "pixels[63]"),
    ("/api/digits/predict", {"sample": 10**400}, "sample"),
])
def test_a_400_digit_integer_is_refused_naming_its_field(app: Any, path: str, body: Any, field: str) -> None:
    status, got = asgi_request(app, "POST", path, body)
    assert 400 <= status < 500 and got["error"].startswith(field + ":"), (status, got)
    assert len(got["error"]) < 200, got  # the number is not written out whole


def test_an_infinite_intermediate_is_sent_as_the_string_inf() -> None:
    from layerwise.playground.digits import DigitModel, default_network
    from layerwise.playground.server import create_app

    application = create_app(DigitModel(default_network()), Path.cwd())
    status, got = asgi_request(application, "POST", "/api/graphs/sigmoid", {"params": {"x": -1000}})
    assert status == 200, got
    exp_edge = next(e for e in got["edges"] if e["fwd"].startswith("exp(−x)"))
    assert exp_edge["value"] == "inf" and exp_edge["fwd"].endswith("inf")
    status, got = asgi_request(application, "POST", "/api/graphs/softmax-loss",
                               {"params": {"x": [1000, 0, 0], "t": 1}})
    assert status == 200, got
    softmax = next(n for n in got["nodes"] if n["op"] == "softmax")
    assert softmax["grad"][1] == "-inf"  # −t/y with y[1] = 0, as the CLI's figure draws it
