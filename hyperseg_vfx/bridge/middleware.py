"""What every request goes through before any route: the token check and the body-size limit.

A plain ASGI middleware (not a FastAPI dependency) so that it covers every path, the OpenAPI
description and unknown routes included, and refuses an oversized body before it is parsed.
"""

from __future__ import annotations

import json

from .errors import error_body
from .security import token_matches

#: Bytes of an oversized body still read (and dropped) before answering 413, so that the client,
#: still sending, reads the answer instead of a reset connection. Beyond that the connection closes.
DRAIN_LIMIT = 64 * 1024**2


class RequestGuard:
    """Refuse requests without `Authorization: Bearer <token>` (401; when a token is set) and
    bodies over max_body_bytes, by Content-Length or as streamed (413)."""

    def __init__(self, app, *, token: str | None, max_body_bytes: int):
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.lower(): value for name, value in scope["headers"]}
        if self.token is not None and not token_matches(headers.get(b"authorization", b"").decode("latin-1"), self.token):
            return await _refuse(send, 401, "unauthorized", "missing or wrong token: send `Authorization: Bearer <token>`",
                                 [(b"www-authenticate", b"Bearer")])
        length = headers.get(b"content-length", b"")
        too_large = f"the body is larger than the bridge's limit of {self.max_body_bytes} bytes"
        if length:
            if not length.isdigit():
                return await _refuse(send, 400, "bad_request", "Content-Length is not a number")
            if int(length) > self.max_body_bytes:
                await _drain(receive, DRAIN_LIMIT)
                return await _refuse(send, 413, "payload_too_large", too_large)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body_bytes:
                if more:
                    await _drain(receive, DRAIN_LIMIT - size)
                return await _refuse(send, 413, "payload_too_large", too_large)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _drain(receive, limit: int) -> None:
    """Read and drop the rest of a body, up to `limit` bytes."""
    read = 0
    while read <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send, status: int, code: str, message: str, headers: list | None = None) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
