"""What differs between the store backends is asked of the store's dialect (locking, DDL types,
indexes, Parquet export, table listing), on both backends."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from puente.errors import ConfigError
from puente.store.base import DUCKDB, POSTGRES, dialect_of, open_store, store_file


def test_dialect_of_a_url() -> None:
    assert dialect_of("duckdb:///tmp/x.duckdb") is DUCKDB and dialect_of("postgresql://u@h/db") is POSTGRES
    assert dialect_of("postgres://u@h/db") is POSTGRES
    with pytest.raises(ConfigError):
        dialect_of("sqlite:///x.db")
    assert DUCKDB == "duckdb" and not DUCKDB.multi_process and POSTGRES.multi_process
    assert DUCKDB.ddl_type("DOUBLE PRECISION") == "DOUBLE" and POSTGRES.ddl_type("DOUBLE PRECISION") == "DOUBLE PRECISION"
    assert store_file("duckdb://store.duckdb") == "store.duckdb" and store_file("duckdb:///:memory:") is None
    assert store_file("postgresql://u@h/db") is None


def test_the_dialect_object_on_each_store(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url) as store:
        assert store.dialect is dialect_of(store_url)
        assert {"seizure", "person", "schema_migrations"} <= store.tables()
        # the model's number columns got the backend's DDL type (the type table)
        kinds = {r[0] for r in store.query(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'seizure' AND column_name = 'quantity_kg'")}
        assert kinds == {"DOUBLE" if store.dialect is DUCKDB else "double precision"}
        store.execute("INSERT INTO node_meta VALUES (?, ?)", ["dialect-test", "it's"])
        with store.transaction():  # the row lock the audit log takes on its head
            rows = store.query("SELECT value FROM node_meta WHERE key = 'dialect-test'" + store.dialect.for_update)
        assert rows == [("it's",)]
        target = tmp_path / "it's meta.parquet"
        store.export_parquet("node_meta", target)
        written = pq.read_table(target).to_pylist()
        assert {"key": "dialect-test", "value": "it's"} in written
        indexes = store.query("SELECT indexname FROM pg_indexes WHERE tablename = 'seizure'") \
            if store.dialect is POSTGRES else []
        assert any(i[0] == "ix_seizure_f_drug_admin1" for i in indexes) == store.dialect.filter_indexes


def test_a_memory_cap_holds_the_duckdb_store_meanwhile_and_is_lifted_after(tmp_path: Path) -> None:
    """An ingest caps the store's own buffers (DuckDB defaults to 80% of RAM); the limit is restored,
    a lower one already set is kept, and writes under the cap commit."""
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as store:
        before = store.scalar("SELECT current_setting('memory_limit')")
        with store.memory_cap("300MB"), store.transaction():
            assert store.scalar("SELECT current_setting('memory_limit')") == "286.1 MiB"  # 300 MB
            store.execute("CREATE TABLE t AS SELECT range AS i, 'row ' || range AS s FROM range(200000)")
        assert store.scalar("SELECT current_setting('memory_limit')") == before
        assert store.scalar("SELECT count(DISTINCT s) FROM t") == 200000
        store.execute("SET memory_limit = '100MB'")
        with store.memory_cap("300MB"):
            assert store.scalar("SELECT current_setting('memory_limit')") == "95.3 MiB"
        assert store.scalar("SELECT current_setting('memory_limit')") == "95.3 MiB"
