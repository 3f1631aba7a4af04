"""What every request goes through before any route: the browser guard (Host, Origin,
Content-Type), the token check and the body-size limit.

A plain ASGI middleware (not a FastAPI dependency) so that it covers every path, the OpenAPI
description and unknown routes included, and refuses a request before its body is parsed.

Why the browser guard: a loopback server is reachable from any web page the artist opens, by
DNS rebinding (the page's own name resolves to 127.0.0.1, so `Host` is the page's name) and by
cross-origin "simple" requests that need no CORS preflight (no Content-Type, text/plain, form
encodings). Jupyter's answer, taken here: check `Host` against the names of the bound address,
refuse any `Origin` not listed, and require `Content-Type: application/json` on every body (a
browser cannot send that cross-origin without a preflight, which this server never approves).
"""

from __future__ import annotations

import json

from ..shot import MAX_DEPTH
from .errors import error_body
from .security import host_name, token_matches

#: An oversized body declared up to this size is read (and dropped) before answering 413, so that
#: a client still sending reads the answer instead of a reset connection. A larger declared
#: Content-Length is answered 413 at once, without reading the body, and the connection closed.
DRAIN_LIMIT = 4 * 1024**2

#: Methods whose requests carry a JSON body here; any request with a body needs the JSON type too.
BODY_METHODS = (b"POST", b"PUT", b"PATCH")


class RequestGuard:
    """Refuse, in this order: a `Host` that is not a name of the bound address (403
    forbidden_host), an `Origin` not in allow_origins (403 forbidden_origin), a missing or wrong
    token when one is set (401), a body that is not `Content-Type: application/json` (415), a
    body over max_body_bytes by Content-Length or as streamed (413)."""

    def __init__(self, app, *, token: str | None, max_body_bytes: int, allowed_hosts=(), allow_origins=()):
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes
        self.allowed_hosts = frozenset(name.lower() for name in allowed_hosts)
        self.allow_origins = frozenset(origin.rstrip("/").lower() for origin in allow_origins)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.lower(): value for name, value in scope["headers"]}
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if host not in self.allowed_hosts:
            return await _refuse(send, 403, "forbidden_host",
                                 "the Host header does not name this bridge (see --allowed-host)")
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").rstrip("/").lower() not in self.allow_origins:
            return await _refuse(send, 403, "forbidden_origin",
                                 "requests from web pages are refused (see --allow-origin)")
        if self.token is not None and not token_matches(headers.get(b"authorization"), self.token):
            return await _refuse(send, 401, "unauthorized", "missing or wrong token: send `Authorization: Bearer <token>`",
                                 [(b"www-authenticate", b"Bearer")])
        length = headers.get(b"content-length", b"")
        has_body = scope["method"].encode() in BODY_METHODS or length not in (b"", b"0") \
            or b"transfer-encoding" in headers
        if has_body and not _is_json(headers.get(b"content-type", b"")):
            return await _refuse(send, 415, "unsupported_media_type",
                                 "the body must be sent with `Content-Type: application/json`", close=True)
        too_large = f"the body is larger than the bridge's limit of {self.max_body_bytes} bytes"
        if length:
            if not length.isdigit():
                return await _refuse(send, 400, "bad_request", "Content-Length is not a number", close=True)
            if int(length) > self.max_body_bytes:
                if int(length) <= DRAIN_LIMIT:
                    await _drain(receive, DRAIN_LIMIT)
                return await _refuse(send, 413, "payload_too_large", too_large, close=True)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away (or was dropped by the read timeout)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body_bytes:
                if more:
                    await _drain(receive, DRAIN_LIMIT - size)
                return await _refuse(send, 413, "payload_too_large", too_large, close=True)
        body, replayed = b"".join(chunks), False
        problem = _json_problem(body) if has_body else None
        if problem is not None:
            return await _refuse(send, 400, "invalid_json", problem)

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list) -> dict:
    """json's object_pairs_hook: an object with a key given twice is an error (json.loads would
    keep the last silently, so the request would not say what the client meant)."""
    keys = set()
    for key, _value in pairs:
        if key in keys:
            raise _DuplicateKey(f"key {key[:80]!r} is given twice in one object")
        keys.add(key)
    return dict(pairs)


def _json_problem(body: bytes) -> str | None:
    """Why a request body is refused before FastAPI parses it: a key given twice, nesting deeper
    than shot files allow (MAX_DEPTH). None when neither; other JSON errors are FastAPI's."""
    try:
        data = json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return f"the body is not valid: {exc}"
    except RecursionError:
        return f"the body is nested deeper than {MAX_DEPTH} levels"
    except ValueError:
        return None  # malformed JSON: answered by the request validation (400 invalid_json)
    level, depth = [data], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return f"the body is nested deeper than {MAX_DEPTH} levels"
        level = [child for value in level if isinstance(value, (dict, list))
                 for child in (value.values() if isinstance(value, dict) else value)]
    return None


def _is_json(content_type: bytes) -> bool:
    """Whether a Content-Type value is application/json (parameters such as charset allowed)."""
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


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


async def _refuse(send, status: int, code: str, message: str, headers: list | None = None, *,
                  close: bool = False) -> None:
    """Answer with the bridge's error shape; close: end the connection after it (its body, if
    any, was not read)."""
    body = json.dumps(error_body(code, message)).encode()
    extra = [(b"connection", b"close")] if close else []
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra,
        *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
