"""Ctrl-C and concurrent ingests, with real processes (the point is the process: its signal
handling, its exit code, its connections).

* SIGINT in the middle of a file: exit 130 with one line, and nothing of the file stored, on
  DuckDB and PostgreSQL (a scheduled job must not report success).
* Two ingests of the same file at once on PostgreSQL: the second waits for the first (one line
  on stderr says so), both exit 0, and the records are stored once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _files import read_position, signal_when, start_ingest

from bench.seizures import write_csv
from puente.node import Node

ROWS = 60_000


def _interrupt_when(proc: subprocess.Popen[str], ready: Callable[[], bool]) -> tuple[str, str]:
    signal_when(proc, ready, signal.SIGINT)
    return proc.communicate(timeout=120)


def _assert_interrupted(proc: subprocess.Popen[str], out: str, err: str, node: Node) -> None:
    assert proc.returncode == 130, (proc.returncode, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("puente: interrupted: the file in progress was rolled back"), err
    assert "rows read" not in out  # no summary: the file was not stored
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure") == 0
        assert store.scalar("SELECT COUNT(*) FROM batches") == 0
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 0


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("sigint") / "seizures.csv", ROWS)


def test_sigint_mid_file_duckdb_exits_130_and_stores_nothing(make_node, big_file: Path) -> None:  # type: ignore[no-untyped-def]
    if not Path("/proc/self/fdinfo").is_dir():
        pytest.skip("needs Linux /proc to see how far the ingest has read")
    node: Node = make_node("us-sigint", "US")
    proc = start_ingest(node.home, big_file)
    third = big_file.stat().st_size // 3
    first_seen: list[float] = []

    def mid_file() -> bool:  # past the hashing pass (one quick read of the whole file), a third in
        pos = read_position(proc.pid, big_file)
        if pos and not first_seen:
            first_seen.append(time.monotonic())
        return bool(first_seen) and time.monotonic() - first_seen[0] > 0.5 and pos > third

    out, err = _interrupt_when(proc, mid_file)
    _assert_interrupted(proc, out, err, node)


@pytest.mark.postgres
def test_sigint_mid_file_postgres_exits_130_and_stores_nothing(make_node, pg_url: str, big_file: Path) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    node: Node = make_node("us-sigint-pg", "US", pg_url)
    dbname = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as watcher:
        def writing() -> bool:  # the ingest's transaction has written rows
            row = watcher.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s "
                                  "AND backend_xid IS NOT NULL", [dbname]).fetchone()
            return bool(row and row[0])

        proc = start_ingest(node.home, big_file)
        out, err = _interrupt_when(proc, writing)
    _assert_interrupted(proc, out, err, node)


@pytest.mark.postgres
def test_concurrent_ingests_of_one_file_take_turns_on_postgres(make_node, pg_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    node: Node = make_node("us-twice", "US", pg_url)
    path = write_csv(tmp_path / "twice.csv", 3000)
    # 1. another ingest holds the store's ingest lock: the command says it waits, then proceeds
    with psycopg.connect(pg_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtext('puente:ingest'))")
        waiting = start_ingest(node.home, path)
        assert waiting.stderr is not None
        assert "waiting for another ingest into this store to finish" in waiting.stderr.readline()
        time.sleep(0.5)
        assert waiting.poll() is None  # still blocked while the lock is held
        holder.commit()
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "rows read 3000 = stored 3000 +" in out
    # 2. a new file twice at once: both succeed, one stores it, the other finds only duplicates
    other = write_csv(tmp_path / "other.csv", 3000, seed=11)
    first, second = start_ingest(node.home, other), start_ingest(node.home, other)
    results = sorted(p.communicate(timeout=300) for p in (first, second))
    assert [p.returncode for p in (first, second)] == [0, 0], results
    assert "rows read 3000 = stored 0 + updated 0 + conflicts 0 + quarantined 0 + duplicates 3000" in results[0][0]
    assert "rows read 3000 = stored 3000 + updated 0 + conflicts 0 + quarantined 0 + duplicates 0" in results[1][0]
    assert all("UniqueViolation" not in r[1] and "bug" not in r[1] for r in results)
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure") == 6000
        assert store.scalar("SELECT COUNT(DISTINCT id) FROM seizure") == 6000
        assert store.scalar("SELECT COUNT(*) FROM batches") == 3
