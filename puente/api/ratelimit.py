"""Per-client rate limiting (fixed one-minute windows), as pure ASGI middleware.

The client is the bearer token's hash when there is one, else the peer address. Over the
limit, the API answers 429 problem+json with Retry-After. ``rate_limit = 0`` turns it off.

A request refused for its credentials (401) also counts against its peer address (``401:<address>``), and an
address over the limit of failures gets 429 whatever header it sends: otherwise a made-up token per request
(a new header, a new budget) would guess tokens, or spray passwords over many accounts, without any limit.

On PostgreSQL the count lives in the store (``api_rate_windows``, one atomic upsert per request), so every
worker process and every node process sharing the store counts against the same limit. A DuckDB store is
served by exactly one process (DuckDB locks its file), so there the process's memory is the whole state.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from puente.store.base import Store

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
_COUNT = ("INSERT INTO api_rate_windows (client, minute, used) VALUES (?, ?, 1) ON CONFLICT (client, minute) "
          "DO UPDATE SET used = api_rate_windows.used + 1 RETURNING used")


class RateLimit:
    def __init__(self, app: ASGIApp, per_minute: int, prefix: str = "/api/",
                 store: Callable[[], Store] | None = None) -> None:
        """``store`` gives the request's store where the count is shared (PostgreSQL); None counts in memory."""
        self.app, self.per_minute, self.prefix, self.store = app, per_minute, prefix, store
        self.window = 0
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def _client(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return hashlib.sha256(value).hexdigest()[:32]
        return self._address(scope)

    @staticmethod
    def _address(scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "-"

    def _admit(self, scope: Scope, now: float) -> tuple[bool, int]:
        """Counts the request against its client; refused too while its address is over the limit of failures."""
        ok, retry = self.allow(self._client(scope), now)
        return ok and self.failures(self._address(scope), now) < self.per_minute, retry

    def failures(self, address: str, now: float) -> int:
        """Requests from ``address`` refused for their credentials in this minute (read, not counted)."""
        window = int(now // 60)
        if self.store is not None:
            store = self.store()
            got = store.retrying(lambda: store.query("SELECT used FROM api_rate_windows WHERE client = ? AND minute = ?",
                                                     ["401:" + address, window]))
            return int(got[0][0]) if got else 0
        with self.lock:
            return self.counts.get("401:" + address, 0) if window == self.window else 0

    def allow(self, client: str, now: float) -> tuple[bool, int]:
        window = int(now // 60)
        if self.store is not None:
            return self._allow_shared(client, window), 60 - int(now % 60)
        with self.lock:
            if window != self.window:
                self.window, self.counts = window, {}
            used = self.counts.get(client, 0) + 1
            self.counts[client] = used
        return used <= self.per_minute, 60 - int(now % 60)

    def _allow_shared(self, client: str, window: int) -> bool:
        assert self.store is not None
        store = self.store()
        if window != self.window:  # a new minute: forget windows that ended (any worker may; all are idempotent)
            self.window = window
            store.retrying(lambda: store.execute("DELETE FROM api_rate_windows WHERE minute < ?", [window - 1]))
        used = store.retrying(lambda: store.query(_COUNT, [client, window]))[0][0]
        return int(used) <= self.per_minute

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.per_minute <= 0 or scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        if self.store is None:
            ok, retry = self._admit(scope, time.time())
        else:  # a store statement: in the thread pool, off the event loop
            ok, retry = await run_in_threadpool(self._admit, scope, time.time())
        if ok:
            status = 0

            async def watch(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, watch)
            if status == 401:  # a failed credential: counted against the address as well
                failed = "401:" + self._address(scope)
                if self.store is None:
                    self.allow(failed, time.time())
                else:
                    await run_in_threadpool(self.allow, failed, time.time())
            return
        body = orjson.dumps({"type": "about:blank", "title": "Too Many Requests", "status": 429,
                             "detail": f"rate limit of {self.per_minute} requests per minute exceeded; "
                                       f"retry in {retry} s / límite de solicitudes excedido",
                             "instance": scope["path"]})
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", str(retry).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
