"""`puente serve` under load, as a real server process (issue 15): several workers share rate-limit and lockout
state through the store, and a soak of many clients in bursts with pauses (the server's idle threads retire
between them) gives no errors, nothing but 2xx and 429, and never more PostgreSQL connections than the pool.

Slow tier. The full-length soak is ``PUENTE_SOAK_SECONDS=60 PUENTE_SOAK_PAUSE=30``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest

from puente.node import Node
from tests.api_seed import PASSWORD, US_FILES, add_users, ingest_all

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: Path, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "puente", "--home", str(home), "serve", "--port", str(port),
                             "--workers", str(workers)],
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/model", timeout=5).status_code == 401:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, "the server exited"
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("the server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


def _pg_apps(url: str) -> list[str]:
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        rows = admin.execute("SELECT application_name FROM pg_stat_activity WHERE datname = %s", [dbname]).fetchall()
    return [r[0] for r in rows]


@pytest.mark.postgres
def test_workers_share_rate_limit_and_lockout(tmp_path: Path, pg_url: str) -> None:
    """`puente serve --workers 2` and a second server process on the same store: one rate limit and one lockout.
    (Which worker accepts a connection is the kernel's choice, so the second process makes the split certain.)"""
    node = Node.init(tmp_path / "us", "us-workers", "US", pg_url)
    with node.open_store() as store:
        tokens = add_users(store)
    env = {"PUENTE_RATE_LIMIT": "40", "PUENTE_POOL_SIZE": "3"}
    ports = [_port(), _port()]
    procs = [_serve(node.home, ports[0], 2, env)]
    try:
        procs.append(_serve(node.home, ports[1], 1, env))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # each worker opens its pool when it has loaded the app
            workers = {a for a in _pg_apps(pg_url) if a.startswith("puente-api-")}
            if len(workers) == 3:
                break
            time.sleep(0.5)
        assert len(workers) == 3  # two workers of one server and a second server, each with its own pool
        bases = [f"http://127.0.0.1:{p}/api/v1" for p in ports]

        def burst(n: int, call) -> list[int]:  # type: ignore[no-untyped-def]
            out: list[int] = []
            start = threading.Barrier(n)

            def one(i: int) -> None:
                start.wait()
                with httpx.Client(timeout=60) as c:  # a connection each, half of them to each server
                    out.append(call(c, bases[i % 2]))

            threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return out

        # lockout: 12 concurrent wrong passwords over both servers, then the right one is refused too
        bad = burst(12, lambda c, base: c.post(f"{base}/auth/login", json={"username": "analyst",
                                                                             "password": "wrong password!"}).status_code)
        assert Counter(bad) == {401: 12}
        right = httpx.post(f"{bases[1]}/auth/login", json={"username": "analyst", "password": PASSWORD}, timeout=60)
        assert right.status_code == 401
        # rate limit: 70 requests with one token, 35 to each server: 40 allowed in the minute in all
        if time.time() % 60 > 40:  # start the burst in a fresh minute, so it falls in one window
            time.sleep(61 - time.time() % 60)
        t0 = time.time()
        codes = burst(70, lambda c, base: c.get(f"{base}/me", headers={"Authorization": f"Bearer {tokens['steward']}"})
                      .status_code)
        assert int(t0 // 60) == int(time.time() // 60)
        assert Counter(codes) == {200: 40, 429: 30}
    finally:
        for proc in procs:
            _stop(proc)


async def _clients(base: str, tokens: list[str], clients: int, seconds: float, paths: list[str],
                   result: Counter[str]) -> None:
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def one(i: int) -> None:
            n = i
            while time.monotonic() < deadline:
                path = paths[n % len(paths)]
                n += 7
                try:
                    r = await client.get(path, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
                    result[str(r.status_code)] += 1
                except httpx.HTTPError as exc:
                    result[f"error {type(exc).__name__}"] += 1

        await asyncio.gather(*(one(i) for i in range(clients)))


@pytest.mark.parametrize("backend", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_soak(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    clients = int(os.environ.get("PUENTE_SOAK_CLIENTS", "200"))
    seconds = float(os.environ.get("PUENTE_SOAK_SECONDS", "20"))
    pause = float(os.environ.get("PUENTE_SOAK_PAUSE", "12"))  # longer than the thread pool keeps idle threads
    pool_size = 4
    node = Node.init(tmp_path / "us", "us-soak", "US", url)
    ingest_all(node, US_FILES)
    with node.open_store() as store:
        tokens = add_users(store)
        ids = [r[0] for r in store.query("SELECT id FROM seizure ORDER BY id LIMIT 3")]
    purpose = "purpose=soak+test+reading"
    paths = ["/api/v1/records/seizure?per_page=5", "/api/v1/records/seizure?drug=fentanyl&admin1=California",
             "/api/v1/records/seizure?date_from=2024-01-01&date_to=2024-03-31&page=2&per_page=2",
             f"/api/v1/records/seizure?{purpose}", "/api/v1/records/person?q=a", "/api/v1/status",
             "/api/v1/stats/monthly", *(f"/api/v1/records/seizure/{i}" for i in ids)]
    port = _port()
    proc = _serve(node.home, port, 1, {"PUENTE_RATE_LIMIT": "20000", "PUENTE_POOL_SIZE": str(pool_size)})
    result: Counter[str] = Counter()
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, len([a for a in _pg_apps(url) if a.startswith("puente-api-")]))  # type: ignore[arg-type]
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    if url:
        sampler.start()
    try:
        for round_ in range(3):
            if round_:
                time.sleep(pause)
            asyncio.run(_clients(f"http://127.0.0.1:{port}", [tokens["analyst"], tokens["steward"]], clients,
                                 seconds, paths, result))
    finally:
        stop.set()
        _stop(proc)
    if url:
        sampler.join()
    served = sum(n for k, n in result.items() if k.startswith("2"))
    print(f"\nsoak {backend}: {dict(result)}; peak PostgreSQL connections {peak} (pool {pool_size})")
    assert served > 100
    assert set(result) <= {"200", "429"}, result  # no errors, nothing but 2xx and rate-limit answers
    if url:
        assert 1 <= peak <= pool_size
