"""The store's reader pool (puente/store/pool.py), the same contract on both backends: bounded, busy after the
timeout, reused, closed on close and usable again after it; a connection leased before a close is not
returned to the reopened pool."""

from __future__ import annotations

import pytest

from puente.store.base import dialect_of
from puente.store.pool import PoolBusy, open_readers


def test_reader_pool_is_bounded_reused_and_reopens(store_url: str) -> None:
    pool = open_readers(store_url, size=2, timeout=0.2)
    assert type(pool).__name__ == {"duckdb": "DuckDBReaders", "postgres": "PostgresReaders"}[dialect_of(store_url)]
    try:
        first, second = pool.acquire(), pool.acquire()
        assert first.query("SELECT 41 + 1") == [(42,)] and second.scalar("SELECT 2") == 2
        assert pool.leased == 2 and pool.open_count() == 2
        with pytest.raises(PoolBusy) as busy:  # a third waits for the timeout, then is refused with one line
            pool.acquire()
        assert "0 s" in str(busy.value)
        pool.release(first)
        again = pool.acquire()  # the freed connection, not a new one
        assert again.con is first.con and pool.open_count() == 2  # type: ignore[attr-defined]
        with again.transaction():  # each leased connection keeps its own transactions
            again.execute("CREATE TEMP TABLE t_pool (x INTEGER)")
            again.execute("INSERT INTO t_pool VALUES (1)")
        assert again.scalar("SELECT COUNT(*) FROM t_pool") == 1
        pool.release(again)
        pool.close()
        assert pool.open_count() == 0
        pool.release(second)  # leased before the close: not taken into the next pool
        assert pool.leased == 0
        reopened = pool.acquire()  # the next use opens the pool again
        assert reopened.scalar("SELECT 3") == 3 and reopened.con is not second.con  # type: ignore[attr-defined]
        pool.release(reopened)
        assert pool.leased == 0 and pool.open_count() >= 1
    finally:
        pool.close()
