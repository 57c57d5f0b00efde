"""What every request needs: the node, a store for this thread, the caller, and the access log."""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from puente.api.auth import Principal, authenticate
from puente.api.problems import ApiProblem
from puente.node import Node
from puente.store.base import Store, open_store


@functools.cache
def _duckdb_cursor_class() -> type:
    from puente.store.duckdb_store import DuckDBStore

    class DuckDBCursor(DuckDBStore):
        """A cursor of the server's one DuckDB database, for one thread; statements pass a shared gate."""

        def __init__(self, url: str, base: Store, gate: threading.BoundedSemaphore) -> None:
            self.url, self.con, self._depth, self.gate = url, base.con.cursor(), 0, gate  # type: ignore[attr-defined]
            self.path = base.path  # type: ignore[attr-defined]

        def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
            with self.gate:
                return super().query(sql, params)

        def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
            with self.gate:
                return super().query_arrow(sql, params)

    return DuckDBCursor


def _DuckDBCursor(url: str, base: Store, gate: threading.BoundedSemaphore) -> Store:
    return _duckdb_cursor_class()(url, base, gate)  # type: ignore[no-any-return]


class _Held:
    """A thread's store; when the thread ends (its thread-local dies) a PostgreSQL connection is closed and a
    DuckDB cursor goes back to the pool for the next thread (closing a DuckDB cursor from a dying thread or
    during interpreter exit can abort the process)."""

    def __init__(self, store: Store, generation: int, recycle: list[Store] | None) -> None:
        self.store, self.generation, self.recycle = store, generation, recycle

    def __del__(self) -> None:
        if self.recycle is not None:
            self.recycle.append(self.store)
            return
        try:
            self.store.close()
        except Exception:  # noqa: BLE001,S110 - already closed by the pool, or the interpreter is exiting
            pass


class StorePool:
    """One store connection per live server thread (DuckDB: cursors of one database; PostgreSQL: connections).

    A connection lives exactly as long as its thread: the server's thread pool retires idle threads and starts
    new ones, and a connection kept past its thread would leak until PostgreSQL refuses new clients. So the
    pool holds each store only weakly; the thread's own local storage holds it, and when the thread ends the
    store is closed. The number of open connections is therefore bounded by the number of live threads.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.base: Store | None = open_store(url)  # runs migrations once
        self.generation = 0
        # DuckDB runs each query on all cores: more queries at once than cores only thrash
        self.gate = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self.local = threading.local()
        self.live: weakref.WeakSet[_Held] = weakref.WeakSet()
        self.free: list[Store] = []  # DuckDB cursors of threads that ended, for the next thread

    def get(self) -> Store:
        held: _Held | None = getattr(self.local, "held", None)
        if held is None or held.generation != self.generation:
            with self.lock:
                if self.base is None:  # reopened after a shutdown (e.g. an ASGI lifespan per test client)
                    self.base = open_store(self.url)
                duckdb = self.base.dialect == "duckdb"
                store = self.free.pop() if duckdb and self.free else self._new(self.base)
                held = _Held(store, self.generation, self.free if duckdb else None)
                self.live.add(held)
            self.local.held = held
        return held.store

    def open_count(self) -> int:
        """Stores held by live threads (what the server holds open besides its base connection)."""
        return len(self.live)

    def _new(self, base: Store) -> Store:
        if base.dialect == "duckdb":
            return _DuckDBCursor(self.url, base, self.gate)
        from puente.store.postgres_store import PostgresStore

        return PostgresStore(self.url)

    def close(self) -> None:
        with self.lock:
            for store in [held.store for held in self.live] + self.free:
                try:
                    store.close()
                except Exception:  # noqa: BLE001,S110 - best effort on shutdown
                    pass
            for held in list(self.live):
                held.recycle = []  # already closed: nothing to close or reuse when its thread ends
            self.live, self.free = weakref.WeakSet(), []
            if self.base is not None:
                self.base.close()
                self.base = None
            self.generation += 1


@dataclass
class Ctx:
    node: Node
    pool: StorePool
    extras: dict[str, Any] = field(default_factory=dict)
    audit_lock: threading.Lock = field(default_factory=threading.Lock)  # appends move one head: one at a time

    @property
    def store(self) -> Store:
        return self.pool.get()


def ctx(request: Request) -> Ctx:
    return request.app.state.ctx  # type: ignore[no-any-return]


_bearer = HTTPBearer(auto_error=False, description="A session token from /api/v1/auth/login or an API token "
                                                   "from `puente users token`.")


def principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or not creds.credentials:
        raise ApiProblem(401, "api_no_token", headers={"WWW-Authenticate": "Bearer"})
    who = authenticate(ctx(request).store, creds.credentials)
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
