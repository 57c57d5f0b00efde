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


def _storage(store_or_con: object) -> tuple[str, set[str]]:
    """The open DuckDB file's storage format and the compressions of table ``t``'s strings."""
    con = store_or_con.con if hasattr(store_or_con, "con") else store_or_con
    version = con.execute("SELECT tags['storage_version'] FROM duckdb_databases() "  # type: ignore[attr-defined]
                          "WHERE database_name = current_database()").fetchone()[0]
    compressions = {r[0] for r in con.execute(  # type: ignore[attr-defined]
        "SELECT DISTINCT compression FROM pragma_storage_info('t') WHERE column_name = 's' AND segment_type = 'VARCHAR'"
    ).fetchall()}
    return version, compressions


def test_a_new_duckdb_store_file_is_written_in_the_faster_storage_format(tmp_path: Path) -> None:
    """A new store file is made in DuckDB 1.3's storage format (strings as DICT_FSST: ~20% less CPU to write,
    bench/results/ingest.md round 7); the file keeps it without a setting, so another plain connection of the
    same process (the analytics engine's) opens it beside the store."""
    import duckdb

    path = tmp_path / "new.duckdb"
    with open_store(f"duckdb:///{path}") as store:
        store.execute("CREATE TABLE t AS SELECT range AS i, 'row ' || (range % 1000) AS s FROM range(300000)")
        store.execute("CHECKPOINT")
        plain = duckdb.connect(str(path))  # the same database instance: no configuration conflict
        assert plain.execute("SELECT count(*) FROM t").fetchone() == (300000,)
        plain.close()
        version, compressions = _storage(store)
    assert version.startswith("v1.3.0") and compressions == {"DICT_FSST"}
    with open_store(f"duckdb:///{path}") as store:  # reopened: still the same format, same rows
        store.execute("CREATE OR REPLACE TABLE t AS SELECT range AS i, 'again ' || (range % 1000) AS s FROM range(300000)")
        store.execute("CHECKPOINT")
        assert _storage(store) == (version, {"DICT_FSST"})


def test_a_store_file_made_in_the_older_format_opens_and_keeps_it(tmp_path: Path) -> None:
    """A store made before (DuckDB's default format, tagged v1.0.0+) opens with its rows and keeps writing that format."""
    import duckdb

    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE t AS SELECT range AS i, 'row ' || (range % 1000) AS s FROM range(300000)")
    old.close()
    with open_store(f"duckdb:///{path}") as store:
        assert store.scalar("SELECT count(DISTINCT s) FROM t") == 1000
        store.execute("INSERT INTO t SELECT range, 'more ' || (range % 1000) FROM range(300000)")
        store.execute("CHECKPOINT")
        version, compressions = _storage(store)
    assert version == "v1.0.0+" and compressions and "DICT_FSST" not in compressions
