"""Store tables to Parquet, for engines that do not read the store directly (Spark)."""

from __future__ import annotations

from pathlib import Path

from puente.store.base import open_store


def store_tables(store_url: str) -> set[str]:
    with open_store(store_url) as store:
        return store.tables()


def export_parquet(store_url: str, table: str, directory: Path) -> Path:
    """Write one store table as a Parquet file (DuckDB: COPY; PostgreSQL: through Arrow)."""
    target = directory / f"{table}.parquet"
    with open_store(store_url) as store:
        store.export_parquet(table, target)
    return target
