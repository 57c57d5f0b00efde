"""The store contract: a short abstract class that DuckDB and PostgreSQL implement.

SQL is written once with ``?`` placeholders and portable types; each backend adapts
placeholders. The schema (one table per record kind plus the node's bookkeeping
tables) is derived from the model and versioned by :mod:`puente.store.migrations`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import pyarrow as pa

if TYPE_CHECKING:
    from puente.store.pool import ReaderPool

T = TypeVar("T")


class Dialect(str):
    """What differs between the SQL backends, in one object per backend (Splink's DatabaseAPI idea), so
    that code outside puente/store and puente/engine asks the store instead of branching on its name.
    It is the backend's name as well (``store.dialect == "duckdb"`` still holds)."""

    multi_process: bool  # several processes may write at once (PostgreSQL); DuckDB locks its file to one
    for_update: str  # the suffix that locks the rows a SELECT reads until the transaction ends
    filter_indexes: bool  # secondary indexes help the API's record filters (DuckDB: zone maps do, indexes slow ingest)
    unlogged: str  # the CREATE TABLE prefix for a table whose rows need not survive a crash (no WAL)
    readers: str  # "module:Class" of the backend's bounded reader pool (puente.store.pool.ReaderPool)
    kind_primary_key: bool  # kind tables carry PRIMARY KEY (id) (PostgreSQL); DuckDB's writers keep ids unique

    def __new__(cls, name: str, *, multi_process: bool, for_update: str, filter_indexes: bool, readers: str,
                unlogged: str = "", kind_primary_key: bool = True) -> Self:
        self = super().__new__(cls, name)
        self.multi_process, self.for_update, self.filter_indexes = multi_process, for_update, filter_indexes
        self.kind_primary_key = kind_primary_key
        self.unlogged, self.readers = unlogged, readers
        return self

    def reader_pool(self, url: str, size: int | None = None, timeout: float | None = None) -> ReaderPool:
        """A bounded pool of this backend's connections to ``url`` for concurrent readers (the API server)."""
        import importlib

        module, name = self.readers.split(":")
        cls: type[ReaderPool] = getattr(importlib.import_module(module), name)
        return cls(url, size, timeout)

    def utf8(self, text_sql: str) -> str:
        """SQL turning a text expression into its UTF-8 bytes."""
        return f"encode({text_sql})" if self == "duckdb" else f"convert_to({text_sql}, 'UTF8')"

    def sha256_hex(self, bytes_sql: str) -> str:
        """SQL for the lower-case hex SHA-256 of a bytes expression."""
        return f"sha256({bytes_sql})" if self == "duckdb" else f"encode(sha256({bytes_sql}), 'hex')"

    def hex_bytes(self, hex_sql: str) -> str:
        """SQL turning a hex text expression into bytes."""
        return f"unhex({hex_sql})" if self == "duckdb" else f"decode({hex_sql}, 'hex')"

    def row_hash(self, exprs: list[str]) -> str:
        """SQL for a 64-bit hash of a row's values (as text): a change detector, computed by the engine over whole
        tables. DuckDB hashes the values natively; PostgreSQL hashes their text. Stable for a given engine
        version (an engine upgrade that changes it makes the next export resend everything once)."""
        if self == "duckdb":
            return f"CAST(hash({', '.join(exprs) or 'NULL'}) AS TEXT)"
        text = " || chr(31) || ".join(f"COALESCE('=' || CAST({e} AS TEXT), '~')" for e in exprs) or "''"
        return f"CAST(hashtextextended({text}, 0) AS TEXT)"

    def ddl_type(self, sql_type: str) -> str:
        """A model column type (puente/model/types.py COLUMN_TYPES) as this backend's DDL spells it."""
        from puente.model.types import ddl_type

        return ddl_type(sql_type, str(self))


DUCKDB = Dialect("duckdb", multi_process=False, for_update="", filter_indexes=False,
                 readers="puente.store.duckdb_store:DuckDBReaders", kind_primary_key=False)
POSTGRES = Dialect("postgres", multi_process=True, for_update=" FOR UPDATE", filter_indexes=True,
                   readers="puente.store.postgres_store:PostgresReaders", unlogged="UNLOGGED ")


def dialect_of(url: str) -> Dialect:
    """The dialect of a store URL, without opening it."""
    from puente.errors import ConfigError

    if url.startswith("duckdb://"):
        return DUCKDB
    if url.startswith(("postgresql://", "postgres://")):
        return POSTGRES
    raise ConfigError("bad_store_url", url=url)


def create_if_missing(url: str) -> None:
    """Before a node's first open: create the database a PostgreSQL URL names when the server lacks it
    (a DuckDB file is created by opening it)."""
    if dialect_of(url) is POSTGRES:
        from puente.store.postgres_store import create_database_if_missing

        create_database_if_missing(url)


def store_file(url: str) -> str | None:
    """The file an embedded store's URL names, as written (relative or absolute); None for a server's
    store and for memory."""
    if not url.startswith("duckdb://"):
        return None
    from puente.store.duckdb_store import duckdb_path

    path = duckdb_path(url)
    return None if path == ":memory:" else path


class Store(ABC):
    """What every backend provides. Everything else is written on top of these methods."""

    dialect: Dialect  # DUCKDB or POSTGRES: what differs between backends
    url: str
    origin: Any = None  # what a pooled connection was leased from (puente.store.pool), None outside a pool

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement (``?`` placeholders)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return all rows."""

    @abstractmethod
    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query and return an Arrow table (for exports and analytics)."""

    @abstractmethod
    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """Append rows (columns matched by name)."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (nested calls join the outer one)."""

    @abstractmethod
    def table_columns(self, table: str) -> list[str]:
        """Column names of a table, or [] if it does not exist."""

    @abstractmethod
    def close(self) -> None: ...

    def lock(self, name: str, on_wait: Callable[[], None] | None = None) -> None:
        """Hold the named writer lock until the current transaction ends, waiting for another
        process that holds it (``on_wait`` is called once first). A no-op where the store admits
        one writing process only (DuckDB locks its file)."""

    @contextmanager
    def serial_appends(self) -> Iterator[None]:
        """Bulk appends meanwhile run on one thread where the store runs in this process (DuckDB: its
        parallel append into a table in an open transaction costs more than twice the CPU for no less
        time); a no-op elsewhere."""
        yield

    def duckdb_connection(self) -> Any:
        """The DuckDB connection that runs this store's statements (in its open transaction) where the store is
        an in-process DuckDB database, so that work done there (temporary tables, ``INSERT ... SELECT``) reads
        and writes the store with no copy through Python; None elsewhere."""
        return None

    @contextmanager
    def memory_cap(self, limit: str) -> Iterator[None]:
        """Hold the store's own memory to ``limit`` (e.g. ``"512MB"``) meanwhile, where the store runs in
        this process and would keep more (DuckDB, whose default is 80% of RAM); a no-op elsewhere."""
        yield

    def tables(self) -> set[str]:
        """The names of the tables in the store's schema."""
        rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {r[0] for r in rows}

    def export_parquet(self, table: str, target: Path, compression: str = "snappy") -> None:
        """Write one table as a Parquet file (through Arrow; a backend may write it itself)."""
        import pyarrow.parquet as pq

        pq.write_table(self.query_arrow(f'SELECT * FROM "{table}"'), target, compression=compression)

    def query_parquet(self, sql: str, params: Sequence[Any], target: Path, compression: str = "zstd") -> None:
        """Write a query's rows as a Parquet file (through Arrow; a backend may write it itself)."""
        import pyarrow.parquet as pq

        pq.write_table(self.query_arrow(sql, params), target, compression=compression)

    @contextmanager
    def staged(self, name: str, data: pa.Table, like: str) -> Iterator[str]:
        """``data`` as a table named ``name`` that statements can read, for the duration of the block (a temporary
        table shaped like ``like``; a backend may expose the Arrow table itself). Use inside a transaction."""
        self.execute(f"DROP TABLE IF EXISTS {name}")
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        self.execute(f"CREATE TEMPORARY TABLE {name} AS SELECT {cols} FROM {like} WHERE FALSE")
        try:
            self.insert_arrow(name, data)
            yield name
        finally:
            self.execute(f"DROP TABLE IF EXISTS {name}")

    # -- helpers shared by all backends ------------------------------------------------
    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current transaction commits (at once outside one); a rollback drops it.

        For side effects outside the store that must never get ahead of it (the audit head file)."""
        if not self._in_transaction():
            action()
            return
        self.__dict__.setdefault("_after_commit", []).append(action)

    def after_end(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current transaction ends, committed or rolled back (at once outside one).

        For announcing a change only after it is visible, and withdrawing the announcement if it never will be."""
        if not self._in_transaction():
            action()
            return
        self.__dict__.setdefault("_after_end", []).append(action)

    def _in_transaction(self) -> bool:
        return False

    def _finish_transaction(self, committed: bool) -> None:
        actions = self.__dict__.pop("_after_commit", [])
        ending = self.__dict__.pop("_after_end", [])
        try:
            for action in actions if committed else []:
                action()
        finally:
            for action in ending:
                action()

    def existing_hashes(self, table: str, ids: list[str]) -> dict[str, str]:
        """content_hash of each id already stored (used for idempotent ingest)."""
        if not ids:
            return {}
        out: dict[str, str] = {}
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            marks = ", ".join("?" for _ in chunk)
            rows = self.query(f"SELECT id, content_hash FROM {table} WHERE id IN ({marks})", chunk)
            out.update({r[0]: r[1] for r in rows})
        return out

    def existing_hashes_arrow(self, table: str, ids: pa.Array) -> pa.Table:
        """(id, content_hash) of the given ids already stored, as a table (the columnar ingest)."""
        found = self.existing_hashes(table, ids.to_pylist())
        return pa.table({"id": pa.array(list(found), pa.string()),
                         "content_hash": pa.array(list(found.values()), pa.string())})

    def delete_ids(self, table: str, ids: list[str]) -> None:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            marks = ", ".join("?" for _ in chunk)
            self.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)

    def conflict_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions meaning "another transaction wrote the same rows: run it again"."""
        return ()

    def write_lock(self) -> AbstractContextManager[Any]:
        """Held around :meth:`retrying` writes (DuckDB: one writer per database file in this process)."""
        return nullcontext()

    def retrying(self, fn: Callable[[], T], attempts: int = 50) -> T:
        """Run ``fn`` (one statement, or a short transaction it opens itself) and run it again when the
        store reports a write-write conflict, so concurrent writers never surface as errors. Not for use
        inside an open transaction (a conflict there aborts the whole transaction)."""
        errors = self.conflict_errors()
        for attempt in range(attempts):
            try:
                with self.write_lock():
                    return fn()
            except errors:
                if attempt == attempts - 1:
                    raise
                time.sleep(min(0.2, 0.002 * 2 ** attempt))
        raise AssertionError("unreachable")

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str) -> Store:
    """Open a store from a URL: ``duckdb:///path/file.duckdb`` or ``postgresql://...``."""
    if dialect_of(url) is DUCKDB:
        from puente.store.duckdb_store import DuckDBStore

        store: Store = DuckDBStore(url)
    else:
        from puente.store.postgres_store import PostgresStore

        store = PostgresStore(url)
    from puente.store.migrations import migrate

    try:
        migrate(store)
    except BaseException:
        store.close()  # a refused store (migrated by a newer release) is not left open
        raise
    return store
