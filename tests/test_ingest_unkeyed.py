"""DuckDB kind tables have no PRIMARY KEY (issue 12, ingest speed): ids stay unique because every writer
dedupes by an anti-join inside its transaction, and writers of one database take turns.

* Two ingests of the same file at once, in two threads with their own connections to one DuckDB node
  (DuckDB locks its file to one process, so threads are how it sees concurrent writers): both succeed,
  one stores the file, the other finds only duplicates, and no id is stored twice.
* Migration 30 rebuilds a keyed kind table of an older store without the key, every row as it was.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from bench.seizures import write_csv
from puente.ingest.pipeline import IngestReport, ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node
from puente.store.base import open_store
from puente.store.migrations import create_kind_table


def _keys(store: Any, table: str) -> int:
    return int(store.scalar("SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? "
                            "AND constraint_type = 'PRIMARY KEY'", [table]))


def test_new_duckdb_node_has_unkeyed_kind_tables(make_node) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-unkeyed", "US")
    with node.open_store() as store:
        assert _keys(store, "seizure") == 0
        assert _keys(store, "person") == 0
        assert _keys(store, "quarantine") == 1  # other tables keep theirs


def test_concurrent_ingests_of_one_file_store_each_id_once(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-twice-duck", "US")
    rows = 5_000
    path = write_csv(tmp_path / "twice.csv", rows, seed=5)
    for attempt, engine in enumerate(("columnar", "row")):
        if attempt:  # the row path too, on a second file
            path = write_csv(tmp_path / "twice2.csv", 1_000, seed=6)
        start = threading.Barrier(2)
        reports: list[IngestReport] = []
        errors: list[BaseException] = []
        waited: list[int] = []

        def run(engine: str = engine, path: Path = path, start: threading.Barrier = start,
                reports: list[IngestReport] = reports, errors: list[BaseException] = errors,
                waited: list[int] = waited) -> None:
            try:
                with node.open_store() as store:
                    start.wait(timeout=60)
                    reports.append(ingest_file(node, store, path, get_profile("seizure-us"), engine=engine,
                                               on_wait=lambda: waited.append(1)))
            except BaseException as exc:  # noqa: BLE001 - any failure in the thread is asserted on below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not errors, errors
        assert len(reports) == 2
        n = rows if not attempt else 1_000
        accounts = sorted((r.stored, r.duplicates, r.updated, r.conflicts, r.quarantined) for r in reports)
        assert accounts == [(0, n, 0, 0, 0), (n, 0, 0, 0, 0)], accounts
        assert waited == [1]  # the second said it waits for the first
    with node.open_store() as store:
        total = rows + 1_000
        assert store.scalar("SELECT count(*) FROM seizure") == total
        assert store.scalar("SELECT count(DISTINCT id) FROM seizure") == total
        assert store.scalar("SELECT count(*) FROM batches") == 4


def test_migration_30_unkeys_an_older_kind_table_keeping_every_row(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-mig30", "US")
    path = write_csv(tmp_path / "some.csv", 500, seed=9)
    with node.open_store() as store:
        ingest_file(node, store, path, get_profile("seizure-us"), engine="row")
        before = store.query("SELECT * FROM seizure ORDER BY rowid")
        columns = store.query("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_name = 'seizure' ORDER BY ordinal_position")
        # the table as migration 1 made it before: keyed by id
        store.execute("CREATE TABLE seizure_old AS SELECT * FROM seizure")
        store.execute("DROP TABLE seizure")
        cols = ", ".join(f'"{c}" {t}' for c, t in columns)
        store.execute(f"CREATE TABLE seizure ({cols}, PRIMARY KEY (id))")
        store.execute("INSERT INTO seizure SELECT * FROM seizure_old ORDER BY rowid")
        store.execute("DROP TABLE seizure_old")
        store.execute("DELETE FROM schema_migrations WHERE version = 30")
        assert _keys(store, "seizure") == 1
    with open_store(node.store_url) as store:  # opening migrates
        assert _keys(store, "seizure") == 0
        assert store.query("SELECT * FROM seizure ORDER BY rowid") == before
        assert store.query("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'seizure' ORDER BY ordinal_position") == columns
        assert store.scalar("SELECT count(*) FROM schema_migrations WHERE version = 30") == 1
        # a table made new is not touched (nothing to convert)
        create_kind_table(store, node_kind("person"))
        assert _keys(store, "person") == 0


def node_kind(name: str) -> Any:
    from puente.model import load_model

    return load_model().kind(name)
