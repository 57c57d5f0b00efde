"""What every request needs: the node, a store connection leased from a bounded pool, the caller, the access log."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from puente.api.auth import Principal, authenticate
from puente.api.cache import VersionedCache
from puente.api.known import Known
from puente.api.problems import ApiProblem
from puente.node import Node
from puente.settings import setting
from puente.store.base import Store
from puente.store.pool import PoolBusy, ReaderPool, open_readers


class StorePool:
    """The server process's bounded pool of store connections, shared by all its requests: the store's own
    reader pool (:mod:`puente.store.pool`: ``psycopg_pool`` on PostgreSQL, DuckDB cursors), which answers 503
    problem+json when no connection becomes free within ``pool_timeout``.

    A request leases one connection the first time it touches the store and gives it back when its response is
    done (:class:`StoreLeases`), so its statements and transactions stay on one connection. Closed on shutdown;
    reopened on the next use (an ASGI lifespan per test client).
    """

    def __init__(self, url: str, size: int | None = None, timeout: float | None = None) -> None:
        self.readers: ReaderPool = open_readers(url, size, timeout)
        self.url, self.size, self.timeout = url, self.readers.size, self.readers.timeout
        self.dialect = self.readers.dialect

    def open(self) -> None:
        self.readers.open()

    def acquire(self) -> Store:
        """A connection for one request (blocks while all are leased; 503 after ``pool_timeout``)."""
        try:
            return self.readers.acquire()
        except PoolBusy as busy:
            raise ApiProblem(503, "api_pool_busy", headers={"Retry-After": "1"}, seconds=int(busy.timeout)) from None

    def release(self, store: Store) -> None:
        self.readers.release(store)

    @property
    def leased(self) -> int:
        return self.readers.leased

    def open_count(self) -> int:
        """Connections the pool holds open (leased or idle)."""
        return self.readers.open_count()

    def close(self) -> None:
        self.readers.close()


class _Lease:
    """One request's store connection, taken from the pool on first use."""

    __slots__ = ("pool", "store")

    def __init__(self, pool: StorePool) -> None:
        self.pool: StorePool = pool
        self.store: Store | None = None

    def get(self) -> Store:
        if self.store is None:
            self.store = self.pool.acquire()
        return self.store

    def release(self) -> None:
        if self.store is not None:
            store, self.store = self.store, None
            self.pool.release(store)


_LEASE: contextvars.ContextVar[_Lease | None] = contextvars.ContextVar("puente_store_lease", default=None)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class StoreLeases:
    """ASGI middleware: each HTTP request gets a lease; its connection goes back to the pool when the request ends
    (the thread pool's threads hold no connection of their own, so threads coming and going leak nothing).

    A request first waits on the event loop for one of ``pool_size`` permits, so a request never waits for a
    connection inside a thread-pool thread: otherwise requests holding every connection could wait for a thread
    while every thread waits for a connection. Waiting longer than ``pool_timeout`` answers 503."""

    def __init__(self, app: ASGIApp, pool: StorePool) -> None:
        self.app, self.pool = app, pool
        self.permits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        permits = self.permits.get(loop)
        if permits is None:  # one per event loop (a test client runs one per session)
            permits = self.permits[loop] = asyncio.Semaphore(self.pool.size)
        try:
            await asyncio.wait_for(permits.acquire(), self.pool.timeout)
        except TimeoutError:
            await _busy(scope, send, self.pool.timeout)
            return
        lease = _Lease(self.pool)
        token = _LEASE.set(lease)
        try:
            await self.app(scope, receive, send)
        finally:
            _LEASE.reset(token)
            try:
                lease.release()
            finally:
                permits.release()


async def _busy(scope: Scope, send: Any, seconds: float) -> None:
    from puente.i18n import t

    body = orjson.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                         "detail": t("api_pool_busy", seconds=int(seconds)), "instance": scope["path"]})
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/problem+json"), (b"retry-after", b"1"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Ctx:
    node: Node
    pool: StorePool
    extras: dict[str, Any] = field(default_factory=dict)
    audit_lock: threading.Lock = field(default_factory=threading.Lock)  # appends move one head: one at a time
    # answers and counts, per data version (puente.api.cache); api_cache_mb = 0 turns both off
    responses: VersionedCache = field(default_factory=lambda: VersionedCache(int(float(setting("api_cache_mb")) * 2**20)))
    counts: VersionedCache = field(default_factory=lambda: VersionedCache(
        4 * 2**20 if float(setting("api_cache_mb")) > 0 else 0))
    # list answers served before routing (puente.api.answers): the same bodies as ``responses`` holds
    answers: VersionedCache = field(default_factory=lambda: VersionedCache(int(float(setting("api_cache_mb")) * 2**20)))
    # tokens and the data version known without a query while the change epoch is unchanged (puente.api.known)
    known: Known = field(default_factory=lambda: Known(None))

    @property
    def store(self) -> Store:
        """This request's store connection (leased from the pool on first use)."""
        lease = _LEASE.get()
        if lease is None or lease.pool is not self.pool:
            raise RuntimeError("the store is leased per request: use it inside a request of this app")
        return lease.get()


async def ctx(request: Request) -> Ctx:
    return request.app.state.ctx  # type: ignore[no-any-return]


_bearer = HTTPBearer(auto_error=False, description="A session token from /api/v1/auth/login or an API token "
                                                   "from `puente users token`.")


async def principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or not creds.credentials:
        raise ApiProblem(401, "api_no_token", headers={"WWW-Authenticate": "Bearer"})
    c: Ctx = request.app.state.ctx
    who = await run_in_threadpool(lambda: authenticate(c.store, creds.credentials))  # the store call blocks
    if who is None:
        raise ApiProblem(401, "api_bad_token", headers={"WWW-Authenticate": "Bearer"})
    request.state.principal = who
    return who


def log_access(c: Ctx, who: Principal, action: str, kind: str, ids: list[str], owners: set[str],
               purpose: str | None) -> None:
    """Write a read of partner or sensitive data to the access log and, in the same transaction, to the node's
    tamper-evident audit log (user, purpose and the ids of every record read)."""
    at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    shown = ids[:200]
    from puente.audit import log as audit

    store = c.store
    partner_owners = sorted(o for o in owners if o != c.node.name)
    reason = (f"api {action}: {len(ids)} {kind} records (owners: {', '.join(sorted(owners)) or '-'}) "
              f"by {who.username} ({who.role}); purpose: {purpose}")
    with c.audit_lock, store.transaction():
        store.execute("INSERT INTO api_access_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [at, who.username, who.role, action, kind, ",".join(shown), ",".join(sorted(owners)),
                       purpose, len(ids)])
        action_name = "read" if partner_owners else ("partner-pull" if who.is_partner else "read-sensitive")
        audit.append(store, c.node, f"{who.username} ({who.role})", action_name,
                     ids, None, reason)
