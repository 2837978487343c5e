"""The playground's web server: a Starlette app, served by uvicorn on a socket we bind.

Endpoints (JSON in and out; every refusal is ``{"error": "..."}`` with a 4xx status):

- ``GET /`` the page; ``GET /static/...`` its files (in the package, nothing from elsewhere);
- ``GET /api/graphs``: the figures and their inputs; ``POST /api/graphs/{name}``
  ``{"params": {...}}``: the figure computed with those inputs (page 1);
- ``GET /api/digits/status`` (the model, or its training progress), ``GET /api/digits/samples``
  (test images), ``POST /api/digits/predict`` with ``{"width", "height", "pixels"}`` or
  ``{"sample": i}``, and an optional ``"label"`` for the trace (page 2);
- ``GET /api/train/options``; ``POST /api/train/sessions`` (settings) creates a session;
  ``GET /api/train/sessions/{id}``; ``POST /api/train/sessions/{id}/{start|pause|resume|stop|save}``;
  ``GET /api/train/sessions/{id}/events``: server-sent events (page 3).

Safety: the socket is bound to 127.0.0.1 unless the caller chooses another host; on the
loopback the ``Host`` header must name it too (a web page elsewhere cannot reach the server
by DNS rebinding); request bodies are JSON only (no cross-site form posts), at most
:data:`~layerwise.playground.validation.MAX_BODY_BYTES`; no request names a file: models are
saved under names the server makes, in the folder given at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from layerwise.errors import ConfigError
from layerwise.playground import graphs
from layerwise.playground.digits import N_CLASSES, DigitModel, parse_image
from layerwise.playground.training import DEFAULTS, NETWORKS, OPTIMIZERS, Sessions
from layerwise.playground.validation import MAX_BODY_BYTES, BadRequest, get_int, parse_json_body

__all__ = ["create_app", "Playground", "STATIC_DIR", "is_loopback"]

STATIC_DIR = Path(str(resources.files("layerwise.playground") / "static"))

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Everything the page loads comes from this server; inline style attributes are for the SVG.
_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self' "
     b"'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class _SecurityHeaders:
    """Adds :data:`_HEADERS` to every response (plain ASGI: server-sent events pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _finite(value: Any) -> Any:
    """``value`` with every float JSON cannot carry as the string ``"inf"``, ``"-inf"`` or ``"nan"``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """``value`` as standard JSON: an infinite loss or gradient norm is sent as ``"inf"``,
    never as ``Infinity`` (which the browser's ``JSON.parse`` refuses) nor as a 500."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json_text(content).encode("utf-8")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object body, read at most ``limit`` bytes far (413 beyond)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise BadRequest(f"request body of {declared} bytes is over the limit of {limit}", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"request body is over the limit of {limit} bytes", 413)
        chunks.append(chunk)
    return parse_json_body(b"".join(chunks), request.headers.get("content-type"), limit)


def _label(data: dict[str, Any]) -> int | None:
    if data.get("label") is None:
        return None
    return get_int(data, "label", 0, N_CLASSES - 1)


def create_app(model: DigitModel | None = None, save_dir: str | Path = ".", *,
               trusted_hosts: list[str] | None = None) -> Starlette:
    """The playground's ASGI app.

    ``model`` is page 2's network (by default one trained at start-up); ``save_dir`` the
    existing folder models are saved in; ``trusted_hosts`` the ``Host`` names accepted
    (default: the loopback names; ``["*"]`` when serving on another interface).
    """
    digits = model if model is not None else DigitModel()
    folder = Path(save_dir).resolve()
    if not folder.is_dir():
        raise ConfigError(f"save folder {folder} does not exist")
    sessions = Sessions(folder)
    closing = threading.Event()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def list_figures(request: Request) -> Response:
        return _JSON({"figures": graphs.figure_specs()})

    async def compute_figure(request: Request) -> Response:
        data = await read_json(request)
        name = request.path_params["name"]
        graph = await run_in_threadpool(graphs.compute_figure, name, data.get("params"))
        return _JSON(graphs.figure_json(graph))

    async def digit_status(request: Request) -> Response:
        return _JSON(digits.status())

    async def digit_samples(request: Request) -> Response:
        return _JSON({"samples": await run_in_threadpool(digits.samples)})

    async def predict(request: Request) -> Response:
        data = await read_json(request)
        unknown = sorted(set(data) - {"width", "height", "pixels", "sample", "label"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r}; expected width, height, pixels or sample, "
                             "and label", 422)
        label = _label(data)
        if "sample" in data:
            index = get_int(data, "sample", 0, 10**9)
            result = await run_in_threadpool(digits.analyse_sample, index, label)
        else:
            image = parse_image(data)
            result = await run_in_threadpool(digits.analyse, image, label)
        return _JSON(result)

    async def train_options(request: Request) -> Response:
        return _JSON({
            "networks": [{"name": k, "about": v[0]} for k, v in NETWORKS.items()],
            "optimizers": list(OPTIMIZERS), "save_dir": str(folder),
            "defaults": {k: v for k, v in DEFAULTS.items() if k != "seed"}})

    async def create_session(request: Request) -> Response:
        data = await read_json(request)
        session = await run_in_threadpool(sessions.create, data)
        return _JSON(session.describe(), status_code=201)

    async def session_info(request: Request) -> Response:
        return _JSON(sessions.get(request.path_params["sid"]).describe())

    async def session_action(request: Request) -> Response:
        session = sessions.get(request.path_params["sid"])
        action = request.path_params["action"]
        if action == "save":
            path = await run_in_threadpool(session.save)
            return _JSON({**session.describe(), "file": path.name, "path": str(path)})
        handlers = {"start": session.start, "pause": session.pause, "resume": session.resume,
                    "stop": session.stop}
        handler = handlers.get(action)
        if handler is None:
            raise BadRequest(f"unknown action {action!r}; actions: {', '.join([*handlers, 'save'])}", 404)
        await run_in_threadpool(handler)
        return _JSON(session.describe())

    async def session_events(request: Request) -> Response:
        session = sessions.get(request.path_params["sid"])
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def stream() -> AsyncIterator[str]:
            n = start
            yield "retry: 1000\n\n"
            while not closing.is_set():
                finished = session.finished
                events = session.events_since(n)
                for ev in events:
                    yield f"id: {ev['id']}\nevent: {ev['type']}\ndata: {json_text(ev['data'])}\n\n"
                n += len(events)
                if finished and not events:
                    yield "event: end\ndata: {}\n\n"
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        return _JSON({"error": exc.message}, status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _JSON({"error": str(exc.detail)}, status_code=exc.status_code)

    async def bug(request: Request, exc: Exception) -> Response:
        print(f"layerwise playground: internal error on {request.url.path}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return _JSON({"error": "internal error in the playground (a bug in layerwise); "
                                      "the server's terminal has the details"}, status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        digits.start()
        try:
            yield
        finally:
            closing.set()
            await run_in_threadpool(sessions.close)
            await run_in_threadpool(digits.close)

    routes = [
        Route("/", index),
        Route("/api/graphs", list_figures),
        Route("/api/graphs/{name}", compute_figure, methods=["POST"]),
        Route("/api/digits/status", digit_status),
        Route("/api/digits/samples", digit_samples),
        Route("/api/digits/predict", predict, methods=["POST"]),
        Route("/api/train/options", train_options),
        Route("/api/train/sessions", create_session, methods=["POST"]),
        Route("/api/train/sessions/{sid}", session_info),
        Route("/api/train/sessions/{sid}/events", session_events),
        Route("/api/train/sessions/{sid}/{action}", session_action, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    hosts = trusted_hosts if trusted_hosts is not None else ["127.0.0.1", "localhost", "[::1]", "::1"]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        exception_handlers={BadRequest: refused, HTTPException: http_error, Exception: bug},
        lifespan=lifespan,
    )
    app.state.digits = digits
    app.state.sessions = sessions
    app.state.closing = closing
    return app


class Playground:
    """The app served by uvicorn on a socket bound now: ``port=0`` picks a free port, and
    :attr:`url` is known before serving starts. :meth:`serve` blocks (the command);
    :meth:`start` serves in a thread and :meth:`stop` ends it (tests, the benchmark)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self.socket = sock
        self.host, self.port = sock.getsockname()[:2]
        self.app = app
        config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                                lifespan="on", ws="none")
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self) -> None:
        """Serve until Ctrl-C (uvicorn then re-raises it, after a clean shutdown)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.app.state.closing.set()
            self.socket.close()

    def start(self, timeout: float = 30.0) -> Playground:
        """Serve in a background thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.serve, name="playground-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the playground server did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Shut the server down cleanly and wait for its thread."""
        self.app.state.closing.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout)
