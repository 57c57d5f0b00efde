"""The API's store pool is bounded: however many requests and threads come and go, the server holds at most
``pool_size`` connections (PostgreSQL: counted by the server in pg_stat_activity), and closes them on shutdown."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Self

import psycopg
import pytest

from puente.api.context import StorePool
from puente.api.problems import ApiProblem
from puente.node import Node
from tests.api_seed import bearer, build_env


def _connections(url: str) -> int:
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                            [dbname]).fetchone()
    return int(row[0]) if row else 0


class _Sampler:
    """The most server connections to the database seen while it runs (sampled every 20 ms)."""

    def __init__(self, url: str) -> None:
        self.url, self.peak, self.samples = url, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        dbname = self.url.rsplit("/", 1)[1]
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            while not self.stop.is_set():
                row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [dbname]).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)
                self.samples += 1
                time.sleep(0.02)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.postgres
def test_concurrent_requests_never_exceed_the_pool(tmp_path: Path, pg_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUENTE_POOL_SIZE", "3")
    monkeypatch.setenv("PUENTE_API_CACHE_MB", "0")  # every request reads the store
    client, tokens, _us, _ = build_env(tmp_path, us_store=pg_url)
    errors: list[str] = []
    statuses: list[int] = []

    def work(i: int) -> None:
        try:
            for j in range(8):
                r = client.get("/api/v1/records/seizure", headers=bearer(tokens["analyst"]),
                               params={"per_page": 1 + (i + j) % 5})
                statuses.append(r.status_code)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    with client, _Sampler(pg_url) as sampler:
        for _ in range(2):  # two bursts: the thread pool's threads come and go between them
            threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert client.app.state.ctx.pool.open_count() <= 3
    assert not errors and statuses.count(200) == 2 * 24 * 8
    assert sampler.samples > 5 and 1 <= sampler.peak <= 3
    assert _connections(pg_url) == 0  # the app's shutdown closed every pooled connection


@pytest.mark.postgres
def test_pool_threads_share_bounded_connections(make_node, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-pool", "US", pg_url)
    pool = StorePool(node.store_url, size=2, timeout=5)
    try:
        def work() -> None:
            store = pool.acquire()
            try:
                assert store.query("SELECT 1") == [(1,)]
                time.sleep(0.01)
            finally:
                pool.release(store)

        for _ in range(6):  # 120 threads that come and go, as the server's thread pool does
            batch = [threading.Thread(target=work) for _ in range(20)]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
            assert _connections(pg_url) <= 2
        assert pool.open_count() <= 2 and pool.leased == 0
    finally:
        pool.close()
    assert _connections(pg_url) == 0


def test_duckdb_readers_run_at_once_and_are_bounded(make_node) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-pool", "US")
    pool = StorePool(node.store_url, size=6, timeout=0.3)
    try:
        held = [pool.acquire() for _ in range(6)]  # more readers at once than the old gate of 2 allowed
        assert len({id(s.con) for s in held}) == 6  # type: ignore[attr-defined]
        done = threading.Barrier(6)

        def read(store) -> None:  # type: ignore[no-untyped-def]
            assert store.query("SELECT COUNT(*) FROM range(100000)") == [(100000,)]
            done.wait(5)  # all six are inside a query's lease at the same time

        threads = [threading.Thread(target=read, args=(s,)) for s in held]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with pytest.raises(ApiProblem) as refused:  # a seventh waits, then is told the node is busy
            pool.acquire()
        assert refused.value.status == 503
        for s in held:
            pool.release(s)
        again = [pool.acquire() for _ in range(6)]
        assert {id(s) for s in again} == {id(s) for s in held} and pool.open_count() == 6  # reused, not piled up
        for s in again:
            pool.release(s)
    finally:
        pool.close()
