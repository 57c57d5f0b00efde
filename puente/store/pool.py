"""A bounded pool of store connections for concurrent readers (the API server), one implementation per backend.

PostgreSQL (:class:`puente.store.postgres_store.PostgresReaders`): a ``psycopg_pool.ConnectionPool`` of at most
``size`` connections, so the process never holds more, whatever its threads do. DuckDB
(:class:`puente.store.duckdb_store.DuckDBReaders`): at most ``size`` cursors of the one database, which DuckDB
runs concurrently on its own worker threads (it admits any number of readers; the bound is the setting).

A caller leases a connection with :meth:`ReaderPool.acquire` and gives it back with :meth:`ReaderPool.release`;
waiting longer than ``timeout`` for a free one raises :class:`PoolBusy`. :meth:`ReaderPool.close` closes every
connection (on shutdown); the next :meth:`ReaderPool.acquire` opens the pool again. A connection leased before a
close is not returned to the new pool: releasing it just closes it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from puente.errors import StoreError
from puente.settings import setting
from puente.store.base import Store, dialect_of


class PoolBusy(StoreError):
    """No pooled connection became free within the pool's timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__("store_pool_busy", seconds=int(timeout))
        self.timeout = timeout


class ReaderPool(ABC):
    """What every backend's pool provides. ``leased`` counts connections out of the pool now."""

    def __init__(self, url: str, size: int | None = None, timeout: float | None = None) -> None:
        self.url = url
        self.dialect = dialect_of(url)
        self.size = max(1, size if size is not None else int(setting("pool_size")))
        self.timeout = timeout if timeout is not None else float(setting("pool_timeout"))
        self.lock = threading.Lock()
        self.leased = 0
        self.open()

    @abstractmethod
    def open(self) -> None:
        """Open the pool (runs the store's migrations once); a no-op while it is open."""

    @abstractmethod
    def acquire(self) -> Store:
        """A connection for one caller (blocks while all are leased; :class:`PoolBusy` after ``timeout``)."""

    @abstractmethod
    def release(self, store: Store) -> None:
        """Give back a connection :meth:`acquire` returned (a transaction left open is rolled back)."""

    @abstractmethod
    def open_count(self) -> int:
        """Connections the pool holds open (leased or idle)."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection of the pool."""


def open_readers(url: str, size: int | None = None, timeout: float | None = None) -> ReaderPool:
    """The reader pool of the store at ``url``: ``size`` connections at most (setting ``pool_size``), waiting at
    most ``timeout`` seconds for one (setting ``pool_timeout``)."""
    return dialect_of(url).reader_pool(url, size, timeout)
