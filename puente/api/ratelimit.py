"""Per-client rate limiting (fixed one-minute windows), as pure ASGI middleware.

The client is the bearer token's hash when there is one, else the peer address. Over the
limit, the API answers 429 problem+json with Retry-After. ``rate_limit = 0`` turns it off.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class RateLimit:
    def __init__(self, app: ASGIApp, per_minute: int, prefix: str = "/api/") -> None:
        self.app, self.per_minute, self.prefix = app, per_minute, prefix
        self.window = 0
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def _client(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return hashlib.sha256(value).hexdigest()[:32]
        client = scope.get("client")
        return str(client[0]) if client else "-"

    def allow(self, client: str, now: float) -> tuple[bool, int]:
        window = int(now // 60)
        with self.lock:
            if window != self.window:
                self.window, self.counts = window, {}
            used = self.counts.get(client, 0) + 1
            self.counts[client] = used
        return used <= self.per_minute, 60 - int(now % 60)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.per_minute <= 0 or scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        ok, retry = self.allow(self._client(scope), time.time())
        if ok:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"type": "about:blank", "title": "Too Many Requests", "status": 429,
                             "detail": f"rate limit of {self.per_minute} requests per minute exceeded; "
                                       f"retry in {retry} s / límite de solicitudes excedido",
                             "instance": scope["path"]})
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", str(retry).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
