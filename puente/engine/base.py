"""The engine contract and its three implementations.

Four things are needed from a backend (the Splink lesson: a small contract):
``table(name)`` gives an Ibis table, ``run(expr)`` executes an expression into pandas with
normalized types, ``upload(name, frame)`` makes a small client-side table joinable with
store tables, and ``close()``. DuckDB runs on the store's own file (or an in-memory copy),
PostgreSQL on the store URL, Spark (local mode) on the store tables exported as Parquet.
"""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Self

import ibis
import ibis.expr.types as ir
import pandas as pd

from puente.errors import ConfigError, UsageError

ENGINES = ("duckdb", "postgres", "spark")


class Engine(ABC):
    """An Ibis connection plus the store tables it can see."""

    name: str
    con: Any

    @abstractmethod
    def table(self, name: str) -> ir.Table:
        """A store table as an Ibis table expression."""

    @abstractmethod
    def has_table(self, name: str) -> bool: ...

    def run(self, expr: ir.Expr) -> pd.DataFrame:
        """Execute and return pandas with engine-independent types (dates as datetime64, no Decimals)."""
        frame = self.con.to_pandas(expr)
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        return normalize(frame)

    def upload(self, name: str, frame: pd.DataFrame) -> ir.Table:
        """A client-side table (e.g. chain ids computed in Python) usable in expressions on this engine."""
        return ibis.memtable(frame)

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def live(table: ir.Table) -> ir.Table:
    """A record table without the partner records past ``retain_until`` (:mod:`puente.store.retention`): analytics
    never see what ``share purge-expired`` would delete, whether or not it has run yet."""
    if "retain_until" not in table.columns:
        return table
    from puente.store.retention import today

    return table.filter(table.retain_until.isnull() | (table.retain_until >= ibis.literal(today())))


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Same dtypes whatever the engine: dates become datetime64[ns], Decimals floats, tz dropped."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[col] = series.dt.tz_localize(None).astype("datetime64[ns]")
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            out[col] = series.astype("datetime64[ns]")
        elif series.dtype == object:
            sample = series.dropna()
            if len(sample) and isinstance(sample.iloc[0], (dt.date, dt.datetime)):
                out[col] = pd.to_datetime(series).astype("datetime64[ns]")
            elif len(sample) and isinstance(sample.iloc[0], decimal.Decimal):
                out[col] = series.astype(float)
    return out


class _SQLEngine(Engine):
    """An engine whose Ibis connection sees the store's tables directly (DuckDB, PostgreSQL)."""

    _known: set[str]

    def table(self, name: str) -> ir.Table:
        if not self.has_table(name):
            raise ConfigError("engine_missing_table", table=name)
        return live(self.con.table(name))

    def has_table(self, name: str) -> bool:
        if name not in self._known:
            self._known = set(self.con.list_tables())
        return name in self._known


class DuckDBEngine(_SQLEngine):
    name = "duckdb"

    def __init__(self, store_url: str, in_memory_copy: bool = False) -> None:
        import duckdb

        path = _duckdb_path(store_url)
        if in_memory_copy:
            raw = duckdb.connect(":memory:")
            quoted = path.replace("'", "''")
            raw.execute(f"ATTACH '{quoted}' AS src (READ_ONLY)")
            for (table,) in raw.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall():
                raw.execute(f'CREATE TABLE "{table}" AS SELECT * FROM src."{table}"')
            raw.execute("DETACH src")
        else:
            raw = duckdb.connect(path)
        raw.execute("SET enable_progress_bar = false")
        self.con = ibis.duckdb.from_connection(raw)
        self._raw = raw
        self._known: set[str] = set()

    def close(self) -> None:
        self._raw.close()


class PostgresEngine(_SQLEngine):
    name = "postgres"

    def __init__(self, store_url: str) -> None:
        if not store_url.startswith(("postgresql://", "postgres://")):
            raise UsageError("engine_store_mismatch", engine="postgres", needs="PostgreSQL", url=store_url)
        try:
            self.con = ibis.connect(store_url.replace("postgresql://", "postgres://", 1))
        except Exception as exc:  # noqa: BLE001 - any driver error becomes one line
            raise ConfigError("engine_failed", engine="postgres", error=str(exc).strip().splitlines()[0]) from None
        self._known: set[str] = set()

    def close(self) -> None:
        self.con.disconnect()


class SparkEngine(Engine):
    """Spark reads the store tables exported once as Parquet into a work directory."""

    name = "spark"

    def __init__(self, store_url: str, workdir: Path | None = None, session: Any = None) -> None:
        from puente.engine.spark import spark_session

        self.store_url = store_url
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="puente-spark-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.session = session or spark_session()
        self.con = ibis.pyspark.connect(self.session)
        self._tables: dict[str, ir.Table] = {}
        self._store_tables: set[str] | None = None

    def _store_table_names(self) -> set[str]:
        if self._store_tables is None:
            from puente.engine.export import store_tables

            self._store_tables = store_tables(self.store_url)
        return self._store_tables

    def has_table(self, name: str) -> bool:
        return name in self._tables or name in self._store_table_names()

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            if not self.has_table(name):
                raise ConfigError("engine_missing_table", table=name)
            from puente.engine.export import export_parquet

            path = export_parquet(self.store_url, name, self.workdir)
            self._tables[name] = live(self.con.read_parquet(str(path), table_name=f"puente_{name}"))
        return self._tables[name]

    def upload(self, name: str, frame: pd.DataFrame) -> ir.Table:
        # Spark cannot take an empty pandas frame without a schema: go through Parquet.
        path = self.workdir / f"upload_{name}.parquet"
        frame.to_parquet(path, index=False)
        return self.con.read_parquet(str(path), table_name=f"puente_upload_{name}")

    def close(self) -> None:
        for name in list(self._tables):
            self.session.catalog.dropTempView(f"puente_{name}")
        self._tables.clear()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _duckdb_path(url: str) -> str:
    if not url.startswith("duckdb://"):
        raise UsageError("engine_store_mismatch", engine="duckdb", needs="DuckDB", url=url)
    path = url[len("duckdb://") :]
    return ":memory:" if path in ("/:memory:", ":memory:") else path


def open_engine(name: str, store_url: str, **options: Any) -> Engine:
    """Open engine ``name`` (duckdb, postgres or spark) on the store at ``store_url``."""
    if name == "duckdb":
        return DuckDBEngine(store_url, **options)
    if name == "postgres":
        return PostgresEngine(store_url)
    if name == "spark":
        return SparkEngine(store_url, **options)
    raise UsageError("unknown_engine", name=name, names=", ".join(ENGINES))
