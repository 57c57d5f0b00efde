"""PostgreSQL store: the server backend (psycopg 3, COPY for bulk writes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import pyarrow as pa

from puente.errors import StoreError
from puente.interrupts import uninterrupted
from puente.store.base import POSTGRES, Store
from puente.store.pool import PoolBusy, ReaderPool

# psycopg's type names (pg_type.typname) -> Arrow types
_ARROW_TYPES = {
    "text": pa.string(), "varchar": pa.string(), "bpchar": pa.string(), "name": pa.string(),
    "character varying": pa.string(), "bigint": pa.int64(),
    "integer": pa.int32(), "double precision": pa.float64(), "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"), "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(), "bytea": pa.binary(), "numeric": pa.float64(),
    # psycopg's type registry uses the internal names
    "int8": pa.int64(), "int4": pa.int32(), "int2": pa.int32(), "float8": pa.float64(), "float4": pa.float64(),
    "timestamp": pa.timestamp("us"), "timestamptz": pa.timestamp("us", tz="UTC"), "bool": pa.bool_(),
}


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresStore(Store):
    dialect = POSTGRES

    def __init__(self, url: str, con: psycopg.Connection[Any] | None = None) -> None:
        """Connect to ``url``, or wrap ``con``, an autocommit connection of ``url`` lent by a pool."""
        self.url = url
        self._tx: Any = None
        if con is not None:
            self.con = con
            return
        try:
            self.con = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError("store_open_failed", url=url, error=str(exc).strip().splitlines()[0]) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(_pg(sql), list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.con.execute(_pg(sql), list(params) or None)
        return list(cur.fetchall())

    def query_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        cur = self.con.execute(_pg(sql), list(params) or None)
        rows = cur.fetchall()
        names = [d.name for d in cur.description or []]
        types = []
        for d in cur.description or []:
            type_info = psycopg.postgres.types.get(d.type_code)
            types.append(_ARROW_TYPES.get(type_info.name) if type_info else None)  # None: let Arrow infer
        columns: list[list[Any]] = [list(c) for c in zip(*rows)] if rows else [[] for _ in names]
        arrays = []
        for values, typ in zip(columns, types):
            if typ is not None and pa.types.is_floating(typ):
                values = [float(v) if v is not None else v for v in values]
            arrays.append(pa.array(values, type=typ))
        return pa.Table.from_arrays(arrays, names=names)

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        cols = ", ".join(f'"{c}"' for c in data.column_names)
        try:
            with self.con.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in data.to_pylist():
                    copy.write_row([_copy_value(v) for v in row.values()])
        except psycopg.errors.UniqueViolation as exc:  # a concurrent writer got there first
            raise StoreError("write_conflict", error=str(exc).strip().splitlines()[0]) from None

    def lock(self, name: str, on_wait: Callable[[], None] | None = None) -> None:
        """A transaction-scoped advisory lock: released by COMMIT or ROLLBACK, or when the
        holder's connection dies."""
        key = f"puente:{name}"
        if not self.con.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [key]).fetchone()[0]:  # type: ignore[index]
            if on_wait:
                on_wait()
            self.con.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])

    def existing_hashes(self, table: str, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        cur = self.con.execute(f"SELECT id, content_hash FROM {table} WHERE id = ANY(%s)", [ids])
        return {r[0]: r[1] for r in cur.fetchall()}

    def delete_ids(self, table: str, ids: list[str]) -> None:
        if ids:
            self.con.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [ids])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._tx is not None:
            yield
            return
        block = self.con.transaction()
        self._tx = block.__enter__()
        try:
            yield
        except BaseException as exc:
            self._tx = None
            try:
                suppressed = block.__exit__(type(exc), exc, exc.__traceback__)
            finally:
                self._finish_transaction(False)
            if not suppressed:
                raise
            return
        self._tx = None
        try:
            with uninterrupted():  # a Ctrl-C now is remembered: the COMMIT happens whole and is reported
                block.__exit__(None, None, None)
        except BaseException:
            self._finish_transaction(False)
            raise
        self._finish_transaction(True)

    def _in_transaction(self) -> bool:
        return self._tx is not None

    def conflict_errors(self) -> tuple[type[BaseException], ...]:
        return (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)

    def table_columns(self, table: str) -> list[str]:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        return [r[0] for r in rows]

    def close(self) -> None:
        self.con.close()


class PostgresReaders(ReaderPool):
    """A ``psycopg_pool.ConnectionPool`` of at most ``size`` autocommit connections (min 1): the server never
    sees more from this process. Closed by :meth:`close`; a connection leased before that is closed on release."""

    def __init__(self, url: str, size: int | None = None, timeout: float | None = None) -> None:
        self.pg: Any = None  # psycopg_pool.ConnectionPool while open
        super().__init__(url, size, timeout)

    def open(self) -> None:
        with self.lock:
            if self.pg is not None:
                return
            import os

            from psycopg_pool import ConnectionPool

            from puente.store.base import open_store

            open_store(self.url).close()  # migrations, once
            self.pg = ConnectionPool(self.url, min_size=1, max_size=self.size, timeout=self.timeout,
                                     name="puente-api", open=True,
                                     kwargs={"autocommit": True, "application_name": f"puente-api-{os.getpid()}"})

    def acquire(self) -> Store:
        from psycopg_pool import PoolTimeout

        self.open()
        pg = self.pg
        try:
            con = pg.getconn(timeout=self.timeout)
        except PoolTimeout:
            raise PoolBusy(self.timeout) from None
        with self.lock:
            self.leased += 1
        store = PostgresStore(self.url, con=con)
        store.origin = pg
        return store

    def release(self, store: Store) -> None:
        with self.lock:
            current = store.origin is not None and store.origin is self.pg
            if current:
                self.leased -= 1
        if current:
            store.origin.putconn(store.con)  # type: ignore[attr-defined]  # a transaction left open is rolled back
        else:  # leased before the pool was closed: the pool closed it already
            store.close()

    def open_count(self) -> int:
        with self.lock:
            return int(self.pg.get_stats().get("pool_size", 0)) if self.pg is not None else 0

    def close(self) -> None:
        with self.lock:
            if self.pg is not None:
                self.pg.close()
                self.pg = None
            self.leased = 0


def _copy_value(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def create_database_if_missing(url: str) -> bool:
    """`puente init` on a PostgreSQL URL whose database does not exist yet: create it (connected to the
    server's ``postgres`` database). True if it was created. When it cannot be (no right to create
    databases, maintenance database unreachable), a StoreError says the exact command to run."""
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        psycopg.connect(url, connect_timeout=10).close()
        return False
    except psycopg.Error as exc:
        first_error = str(exc).strip().splitlines()[0]
    params = conninfo_to_dict(url)
    dbname = str(params.get("dbname") or "")
    if not dbname:
        raise StoreError("store_open_failed", url=url, error=first_error)
    try:
        with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True, connect_timeout=10) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
                raise StoreError("store_open_failed", url=url, error=first_error)  # it exists: another problem
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return True
    except psycopg.Error as exc:
        if "does not exist" not in first_error and "CREATE DATABASE" not in str(exc):
            raise StoreError("store_open_failed", url=url, error=first_error) from None
        raise StoreError("pg_database_missing", url=url, command=createdb_command(url),
                         error=str(exc).strip().splitlines()[0]) from None


def createdb_command(url: str) -> str:
    """The shell command that creates the database of ``url``, owned by the URL's user, for someone allowed
    to create databases to run (never showing a password)."""
    import shlex

    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    words = ["createdb"]
    for flag, key in (("-h", "host"), ("-p", "port"), ("-O", "user")):
        if params.get(key):
            words += [flag, str(params[key])]
    return shlex.join([*words, str(params.get("dbname") or "")])
