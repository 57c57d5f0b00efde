"""DuckDB store: the embedded default (one file, in process)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from puente.errors import StoreError
from puente.interrupts import uninterrupted
from puente.store.base import DUCKDB, Store
from puente.store.pool import PoolBusy, ReaderPool


def duckdb_path(url: str) -> str:
    """``duckdb:///abs/file.duckdb`` (or ``duckdb:////abs/...``) -> "/abs/file.duckdb";
    ``duckdb://relative.duckdb`` -> "relative.duckdb"; ``duckdb:///:memory:`` -> ":memory:"."""
    path = url[len("duckdb://") :]
    if path.lstrip("/") == ":memory:" or not path:
        return ":memory:"
    return "/" + path.lstrip("/") if path.startswith("/") else path


_UNITS = {"": 1, "b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _bytes(size: str) -> float:
    """``"512MB"`` or DuckDB's ``"18.6 GiB"`` in bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", size)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a memory size: {size!r}")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


STORAGE_VERSION = "v1.3.0"  # the storage format of a new DuckDB store file (readable by DuckDB >= 1.3)


def _create(path: str) -> None:
    """An empty database file in the storage format ``STORAGE_VERSION``, which the file keeps for every later
    write (opening it needs no setting, so the process's other plain connections to it stay compatible).
    DuckDB's default format for a new file is v0.10.2's; from 1.3 on, strings are stored as DICT_FSST, and the
    same 1M stored seizure rows cost ~20% less CPU to write (bench/results/ingest.md, round 7). A file made
    by an earlier Puente keeps the format it was made with."""
    maker = duckdb.connect(":memory:")
    try:
        quoted = path.replace("'", "''")
        maker.execute(f"ATTACH '{quoted}' AS puente_new_store (STORAGE_VERSION '{STORAGE_VERSION}')")
        maker.execute("DETACH puente_new_store")
    finally:
        maker.close()


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_SERIAL: dict[str, tuple[int, str]] = {}  # database path -> (appenders, its threads setting before them)
_SERIAL_GUARD = threading.Lock()


def _write_lock(path: str) -> threading.RLock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.RLock())


class DuckDBStore(Store):
    dialect = DUCKDB

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = duckdb_path(url)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                if not Path(self.path).exists():
                    _create(self.path)
            self.con = duckdb.connect(self.path)
        except OSError as exc:
            raise StoreError("store_open_failed", url=url, error=exc.strerror or str(exc)) from None
        except duckdb.Error as exc:
            raise StoreError("store_open_failed", url=url, error=str(exc).splitlines()[0]) from None
        self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        return self.con.execute(sql, list(params)).to_arrow_table()

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        self.con.register("_puente_incoming", data)
        try:
            cols = ", ".join(f'"{c}"' for c in data.column_names)
            self.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _puente_incoming")
        finally:
            self.con.unregister("_puente_incoming")

    def existing_hashes(self, table: str, ids: list[str]) -> dict[str, str]:
        """One join against the ids as an Arrow table (an IN list of thousands of ``?`` is slow)."""
        if not ids:
            return {}
        self.con.register("_puente_ids", pa.table({"id": pa.array(ids, pa.string())}))
        try:
            rows = self.query(
                f"SELECT t.id, t.content_hash FROM {table} t JOIN _puente_ids USING (id)"
            )
        finally:
            self.con.unregister("_puente_ids")
        return {r[0]: r[1] for r in rows}

    def existing_hashes_arrow(self, table: str, ids: pa.Array) -> pa.Table:
        self.con.register("_puente_ids", pa.table({"id": ids.cast(pa.string())}))
        try:
            return self.query_arrow(f"SELECT t.id, t.content_hash FROM {table} t JOIN _puente_ids USING (id)")
        finally:
            self.con.unregister("_puente_ids")

    def delete_ids(self, table: str, ids: list[str]) -> None:
        if not ids:
            return
        self.con.register("_puente_ids", pa.table({"id": pa.array(ids, pa.string())}))
        try:
            self.con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM _puente_ids)")
        finally:
            self.con.unregister("_puente_ids")

    def duckdb_connection(self) -> duckdb.DuckDBPyConnection:
        return self.con

    @contextmanager
    def serial_appends(self) -> Iterator[None]:
        """``threads = 1`` meanwhile (a setting of the database, so of its other connections too), then the
        previous value. Measured inserting 1M seizure rows in 100k slices in one transaction under the
        512 MB cap: 8.5-9.4 CPU s and 21-23 s on one thread, 20-21 CPU s and 45 s on two (load ~10)."""
        with _SERIAL_GUARD:  # concurrent ingests into one database: the first sets it, the last restores it
            users, before = _SERIAL.get(self.path, (0, ""))
            if not users:
                row = self.con.execute("SELECT current_setting('threads')").fetchone()
                before = str(int(row[0])) if row else "1"
                self.con.execute("SET threads = 1")
            _SERIAL[self.path] = (users + 1, before)
        try:
            yield
        finally:
            with _SERIAL_GUARD:
                users, before = _SERIAL.pop(self.path)
                if users > 1:
                    _SERIAL[self.path] = (users - 1, before)
                else:
                    self.con.execute(f"SET threads = {before}")

    @contextmanager
    def memory_cap(self, limit: str) -> Iterator[None]:
        """Past ``limit``, DuckDB writes buffers out (pages of the open transaction's appends, its index)
        to the database file or its temporary directory instead of keeping them; the previous limit
        comes back afterwards. A lower limit already set is kept."""
        before = str(self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0])  # type: ignore[index]
        if _bytes(before) <= _bytes(limit):
            yield
            return
        self.con.execute(f"SET memory_limit = '{limit}'")
        try:
            yield
        finally:
            self.con.execute("RESET memory_limit")  # the default, exactly (the setting reads back rounded)
            if self.con.execute("SELECT current_setting('memory_limit')").fetchone() != (before,):
                self.con.execute(f"SET memory_limit = '{before}'")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.con.execute("ROLLBACK")
            self._finish_transaction(False)
            raise
        self._depth = 0
        try:
            with uninterrupted():  # a Ctrl-C now is remembered: the COMMIT happens whole and is reported
                self.con.execute("COMMIT")
        except BaseException:
            self._finish_transaction(False)
            raise
        self._finish_transaction(True)

    def _in_transaction(self) -> bool:
        return self._depth > 0

    def lock(self, name: str, on_wait: Callable[[], None] | None = None) -> None:
        """Held until the transaction ends. DuckDB locks its file to one process, but connections of one
        process (threads, the API's cursors) write concurrently, and the kind tables have no key to stop two
        of them storing the same id: writers that dedupe by an anti-join take turns here (all names share
        the database's one lock, which :meth:`retrying` writers take too)."""
        if not self._depth:
            return
        lock = _write_lock(self.path)
        if not lock.acquire(blocking=False):
            if on_wait:
                on_wait()
            lock.acquire()
        self.__dict__.setdefault("_held", []).append(lock)

    def _finish_transaction(self, committed: bool) -> None:
        for lock in reversed(self.__dict__.pop("_held", [])):
            lock.release()
        super()._finish_transaction(committed)

    def conflict_errors(self) -> tuple[type[BaseException], ...]:
        return (duckdb.TransactionException,)

    def write_lock(self) -> AbstractContextManager[object]:
        # DuckDB resolves concurrent writes to one row by aborting all but one ("Conflict on tuple
        # deletion"): in this process, writers that must not fail take turns instead
        return _write_lock(self.path)

    def table_columns(self, table: str) -> list[str]:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        )
        return [r[0] for r in rows]

    def tables(self) -> set[str]:
        return {r[0] for r in self.query("SELECT table_name FROM duckdb_tables()")}

    def export_parquet(self, table: str, target: Path, compression: str = "snappy") -> None:
        path = str(target).replace("'", "''")
        self.execute(f"COPY (SELECT * FROM \"{table}\") TO '{path}' (FORMAT parquet, COMPRESSION {compression})")

    def query_parquet(self, sql: str, params: Sequence[Any], target: Path, compression: str = "zstd") -> None:
        path = str(target).replace("'", "''")
        self.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION {compression})", params)

    @contextmanager
    def staged(self, name: str, data: pa.Table, like: str) -> Iterator[str]:
        """The Arrow table itself, registered under ``name`` (no copy)."""
        self.con.register(name, data)
        try:
            yield name
        finally:
            self.con.unregister(name)

    def close(self) -> None:
        self.con.close()


class DuckDBCursor(DuckDBStore):
    """A cursor of a server's one DuckDB database: its own connection state and transactions, one thread at a
    time. DuckDB runs any number of cursors' queries at once on its own shared worker threads."""

    def __init__(self, base: DuckDBStore) -> None:  # opens no file: a cursor of ``base``
        self.url, self.path, self.con, self._depth = base.url, base.path, base.con.cursor(), 0
        self.origin = base


class DuckDBReaders(ReaderPool):
    """At most ``size`` cursors of the one database (opened once, migrations run), reused between callers."""

    def __init__(self, url: str, size: int | None = None, timeout: float | None = None) -> None:
        self.base: DuckDBStore | None = None
        self.free: list[DuckDBCursor] = []  # cursors not leased
        self.made = 0  # cursors open (leased or free)
        super().__init__(url, size, timeout)
        self.ready = threading.Condition(self.lock)

    def open(self) -> None:
        with self.lock:
            if self.base is None:
                from puente.store.base import open_store

                store = open_store(self.url)
                assert isinstance(store, DuckDBStore)
                self.base = store

    def acquire(self) -> Store:
        self.open()
        with self.ready:
            if not self.ready.wait_for(lambda: bool(self.free) or self.made < self.size, self.timeout):
                raise PoolBusy(self.timeout)
            self.leased += 1
            if self.free:
                return self.free.pop()
            assert self.base is not None
            self.made += 1
            return DuckDBCursor(self.base)

    def release(self, store: Store) -> None:
        with self.ready:
            if store.origin is None or store.origin is not self.base:
                return  # leased before a close: closed with its database
            self.leased -= 1
            self.free.append(store)  # type: ignore[arg-type]  # a DuckDBCursor: its origin is our base
            self.ready.notify()

    def open_count(self) -> int:
        with self.lock:
            return self.made

    def close(self) -> None:
        with self.lock:
            for cursor in self.free:
                try:
                    cursor.close()
                except duckdb.Error:  # best effort on shutdown
                    pass
            self.free, self.made, self.leased = [], 0, 0
            if self.base is not None:
                self.base.close()
                self.base = None
