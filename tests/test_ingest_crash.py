"""SIGKILL during an ingest leaves a store that opens and holds the whole batch or none of it."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _files import read_position, signal_when, start_ingest

from bench.seizures import write_csv
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node

ROWS = 60_000
# a 60,000-row file and a real process killed mid-batch, per backend: the full tier (make test-all)
pytestmark = pytest.mark.slow


def _kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    signal_when(proc, ready, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("crash") / "seizures.csv", ROWS)


def test_sigkill_mid_batch_duckdb(make_node, tmp_path: Path, big_file: Path) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-crash", "US")
    if not Path("/proc/self/fdinfo").is_dir():
        pytest.skip("needs Linux /proc to see how far the ingest has read")
    proc = start_ingest(node.home, big_file)
    # kill once the ingest has read past half the file: chunks of 5,000 rows have been written
    # into its open transaction (DuckDB keeps them out of the WAL until commit)
    # (the file is first read whole for its hash, in milliseconds; wait past that phase)
    half = big_file.stat().st_size // 2
    first_seen: list[float] = []

    def mid_file() -> bool:
        pos = read_position(proc.pid, big_file)
        if pos and not first_seen:
            first_seen.append(time.monotonic())
        return bool(first_seen) and time.monotonic() - first_seen[0] > 0.5 and pos > half

    _kill_when(proc, mid_file)
    with node.open_store() as store:  # opens (replays the WAL) after the crash
        count = store.scalar("SELECT COUNT(*) FROM seizure")
        batches = store.scalar("SELECT COUNT(*) FROM batches")
        assert (count, batches) == (0, 0)  # none of the batch
        # and the file then ingests whole
        report = ingest_file(node, store, big_file, get_profile("seizure-us"))
        assert report.rows_read == ROWS and report.balanced
        assert store.scalar("SELECT COUNT(*) FROM seizure") == report.stored


@pytest.mark.postgres
def test_sigkill_mid_columnar_ingest_duckdb(make_node, tmp_path: Path, big_file: Path) -> None:  # type: ignore[no-untyped-def]
    """The columnar path too: killed while it works inside the file's transaction, nothing is stored. (Into
    a DuckDB store the work runs in a database attached to the store's own, nothing to see from outside: the
    process is killed once it has spent 60% of the CPU time a whole run of the same file takes, well past
    start-up and the file's hash and before the commit.)"""
    if not Path("/proc/self/stat").is_file():
        pytest.skip("needs Linux /proc to see the process's CPU time")
    reference: Node = make_node("us-crash-col-ref", "US")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    whole = start_ingest(reference.home, big_file, columnar_temp=tmp_path)
    whole.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert whole.returncode == 0
    needed = 0.6 * (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    node: Node = make_node("us-crash-col", "US")
    proc = start_ingest(node.home, big_file, columnar_temp=tmp_path)
    ticks = os.sysconf("SC_CLK_TCK")

    def working() -> bool:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return (int(fields[11]) + int(fields[12])) / ticks >= needed  # utime + stime

    _kill_when(proc, working)
    with node.open_store() as store:
        assert (store.scalar("SELECT COUNT(*) FROM seizure"), store.scalar("SELECT COUNT(*) FROM batches")) == (0, 0)
        report = ingest_file(node, store, big_file, get_profile("seizure-us"), engine="columnar")
        assert (report.rows_read, report.engine) == (ROWS, "columnar") and report.balanced
        assert store.scalar("SELECT COUNT(*) FROM seizure") == report.stored == ROWS


def test_sigkill_mid_batch_postgres(make_node, pg_url: str, big_file: Path) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    node: Node = make_node("us-crash-pg", "US", pg_url)
    dbname = pg_url.rsplit("/", 1)[1]
    watcher = psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True)

    def writing() -> bool:  # a session of the ingest holds a transaction that has written rows
        return bool(watcher.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = %s "
                                    "AND backend_xid IS NOT NULL", [dbname]).fetchone()[0])  # type: ignore[index]

    proc = start_ingest(node.home, big_file)
    _kill_when(proc, writing)
    time.sleep(0.3)  # let the server notice the dead connection
    watcher.close()
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure") == 0
        assert store.scalar("SELECT COUNT(*) FROM batches") == 0
