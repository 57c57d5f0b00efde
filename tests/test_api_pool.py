"""The API's per-thread store pool never leaks connections when server threads come and go."""

from __future__ import annotations

import gc
import threading

import psycopg
import pytest

from puente.api.context import StorePool
from puente.node import Node


def _connections(url: str) -> int:
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [dbname]).fetchone()
    return int(row[0]) if row else 0


def _churn(pool: StorePool, threads: int) -> None:
    """What the server's thread pool does over time: threads serve a request, retire, and new ones start."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            assert pool.get().query("SELECT 1") == [(1,)]
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    for _ in range(threads // 10):
        batch = [threading.Thread(target=work) for _ in range(10)]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    assert not errors, errors


@pytest.mark.postgres
def test_retired_threads_close_their_postgres_connections(make_node, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-pool", "US", pg_url)
    pool = StorePool(node.store_url)
    try:
        _churn(pool, 120)
        gc.collect()
        assert pool.open_count() == 0
        # the pool's base connection only: 120 threads came and went, none left a connection behind
        assert _connections(pg_url) <= 1
        # a live thread keeps its one connection, and uses it again
        assert pool.get().query("SELECT 2") == [(2,)]
        assert pool.get() is pool.get()
        assert pool.open_count() == 1
    finally:
        pool.close()
    gc.collect()
    assert _connections(pg_url) == 0


def test_duckdb_cursors_follow_their_threads(make_node) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-pool", "US")
    pool = StorePool(node.store_url)
    try:
        _churn(pool, 50)
        gc.collect()
        assert pool.open_count() == 0
        assert pool.get().query("SELECT 1") == [(1,)]
    finally:
        pool.close()
