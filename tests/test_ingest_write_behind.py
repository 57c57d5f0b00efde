"""The columnar write hands each slice to a second thread that inserts it while the next slice is made
(``write_behind``, issue 12 speed): the rows land in order and whole, the two sides really overlap, and an
error on either side stops both before the caller's transaction rolls back, leaving nothing stored."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from puente.ingest.pipeline import write_behind
from puente.store.duckdb_store import DuckDBStore


def _slices(count: int, rows: int = 1000) -> Iterator[pa.Table]:
    for k in range(count):
        yield pa.table(
            {
                "n": pa.array(range(k * rows, (k + 1) * rows), pa.int64()),
                "label": pa.array([f"s{k}"] * rows, pa.string()),
            }
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(f"duckdb:///{tmp_path / 'wb.duckdb'}")
    s.execute("CREATE TABLE t (n BIGINT, label VARCHAR)")
    yield s
    s.close()


def test_every_slice_lands_whole_and_in_order(store: DuckDBStore) -> None:
    with store.transaction():
        assert write_behind(store, "t", _slices(7)) == 7000
    assert [r[0] for r in store.query("SELECT n FROM t")] == list(range(7000))  # insertion order, no ORDER BY
    assert store.query("SELECT count(DISTINCT label) FROM t") == [(7,)]


def test_the_next_slice_is_made_while_one_is_inserted(tmp_path: Path) -> None:
    """The first insert waits (up to 20 s) for the producer to start on the second slice: written one after
    the other, that never happens and the flag stays unset."""
    started_next = threading.Event()
    overlapped: list[bool] = []

    class Watching(DuckDBStore):
        def insert_arrow(self, table: str, data: pa.Table) -> None:
            if not overlapped:
                overlapped.append(started_next.wait(timeout=20))
            super().insert_arrow(table, data)

    def produce() -> Iterator[pa.Table]:
        for k, part in enumerate(_slices(3)):
            if k == 1:
                started_next.set()
            yield part

    s = Watching(f"duckdb:///{tmp_path / 'wb.duckdb'}")
    try:
        s.execute("CREATE TABLE t (n BIGINT, label VARCHAR)")
        with s.transaction():
            write_behind(s, "t", produce())
        assert overlapped == [True]
        assert s.query("SELECT count(*) FROM t") == [(3000,)]
    finally:
        s.close()


def test_a_failing_insert_stops_the_producer_and_rolls_back(store: DuckDBStore) -> None:
    made: list[int] = []

    def produce() -> Iterator[pa.Table]:
        for k, part in enumerate(_slices(50)):
            made.append(k)
            # the fourth slice does not fit the table (a text where a number goes): the insert fails
            yield part if k != 3 else pa.table({"n": pa.array(["x"] * 10), "label": pa.array(["bad"] * 10)})

    with pytest.raises(Exception, match="(?i)convert|cast"), store.transaction():
        write_behind(store, "t", produce())
    assert len(made) < 50  # the producer was stopped, not run to the end
    assert store.query("SELECT count(*) FROM t") == [(0,)]
    assert not [t for t in threading.enumerate() if t.name == "puente-write-behind"]


def test_a_failing_producer_stops_the_writer_before_the_rollback(store: DuckDBStore) -> None:
    def produce() -> Iterator[pa.Table]:
        yield from _slices(4)
        raise KeyboardInterrupt  # as a Ctrl-C in the middle of the file

    with pytest.raises(KeyboardInterrupt), store.transaction():
        write_behind(store, "t", produce())
    assert not [t for t in threading.enumerate() if t.name == "puente-write-behind"]
    assert store.query("SELECT count(*) FROM t") == [(0,)]
    with store.transaction():  # the connection is usable: nothing still writes on it
        write_behind(store, "t", _slices(2))
    assert store.query("SELECT count(*) FROM t") == [(2000,)]
