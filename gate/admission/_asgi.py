"""Plain ASGI for the two admission routes, which every Pod creation in the cluster reaches.

FastAPI's middleware stack, router and ``Request``/``Response`` objects cost ~65 µs of CPU per
warm review (a third of what gate's own code spent on it, in-process). :class:`AdmissionApp` answers
``POST /validate`` and ``POST /mutate`` before that stack and hands everything else (other
routes, other methods, lifespan) to FastAPI, where the same handlers are also routed, so a
request FastAPI sees is answered alike. Bodies are read with a cap, as Starlette would stream them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from gate.errors import GateError, LimitExceeded

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON = b"application/json"


class TooLarge(LimitExceeded):
    """A request body over its byte limit: answered 413."""


class Disconnected(GateError):  # noqa: N818 - an event, as Starlette's ClientDisconnect
    """The client went away before its body was read; there is nobody to answer."""


class AdmissionApp(FastAPI):
    """FastAPI with ``hot`` (path -> plain ASGI handler) answered first for ``POST``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hot: dict[str, Handler] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.hot.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if handler is None:
            await super().__call__(scope, receive, send)
        else:
            await handler(scope, receive, send)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body, refused past ``limit`` bytes without reading it all.

    Raises:
        TooLarge: Content-Length or the streamed body exceeds ``limit``.
        Disconnected: the client closed the connection first.
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise TooLarge(f"body of {value.decode()} bytes exceeds the {limit}-byte limit")
            break
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Disconnected("the client closed the connection before sending its whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(send: Send, body: bytes, status: int = 200, content_type: bytes = JSON) -> None:
    """One complete response, with the headers a Starlette ``Response`` would send."""
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", content_type)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_body(message: str) -> bytes:
    """``{"error": message}`` encoded as FastAPI's ``JSONResponse`` encodes it."""
    return json.dumps({"error": message}, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
