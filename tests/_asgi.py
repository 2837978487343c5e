"""A request sent to an ASGI app in this process, no socket (Starlette's TestClient needs
httpx, which the playground extra does not bring; this is the few lines it would do for us)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

__all__ = ["asgi_request"]


async def _request(app: Any, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    chunks: list[bytes] = []
    done = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()  # the client leaves once it has the status and the first bytes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not status.done():
            status.set_result(int(message["status"]))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            done.set()

    raw_path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": raw_path, "raw_path": raw_path.encode("utf-8"),
             "query_string": query.encode(), "root_path": "", "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 50000),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", content_type.encode()),
                         (b"content-length", str(len(body)).encode())]}

    async def run() -> None:
        # Starlette re-raises an unhandled error after sending its 500: the status is what counts
        with contextlib.suppress(Exception):
            await app(scope, receive, send)
        done.set()

    task = asyncio.ensure_future(run())
    await done.wait()
    if not task.done():  # a stream (server-sent events): its first bytes are enough
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return (status.result() if status.done() else 0), b"".join(chunks)


def asgi_request(app: Any, method: str, path: str, body: Any = None, *,
                 content_type: str = "application/json") -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request to ``app``, run to its first response bytes."""
    data = b"" if body is None else json.dumps(body).encode()
    status, text = asyncio.run(_request(app, method, path, data, content_type))
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode("utf-8", "replace")
