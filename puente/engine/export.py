"""Store tables to Parquet, for engines that do not read the store directly (Spark)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from puente.store.base import open_store


def store_tables(store_url: str) -> set[str]:
    with open_store(store_url) as store:
        if store.dialect == "duckdb":
            rows = store.query("SELECT table_name FROM duckdb_tables()")
        else:
            rows = store.query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r[0] for r in rows}


def export_parquet(store_url: str, table: str, directory: Path) -> Path:
    """Write one store table as a Parquet file (DuckDB: COPY; PostgreSQL: through Arrow)."""
    target = directory / f"{table}.parquet"
    with open_store(store_url) as store:
        if store.dialect == "duckdb":
            store.execute(f"COPY (SELECT * FROM \"{table}\") TO '{target}' (FORMAT parquet)")
        else:
            pq.write_table(store.query_arrow(f'SELECT * FROM "{table}"'), target)
    return target
