"""A DuckDB ingest runs the columnar SQL passes in a database attached to the store's own on the database's
threads (detached afterwards, its Python functions removed) and writes the rows from it on those threads too, in
slices of whole row groups (issue 12 speed, round 7), in source order; the row path appends on one thread
(``Store.serial_appends``); either gives the
database's ``threads`` setting back afterwards: after a good file, after a refused one, and after two
ingests at once into one database (the first sets it, the last restores it)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bench.seizures import write_csv
from puente.errors import InputError
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node


def _threads(store: object) -> int:
    return int(store.scalar("SELECT current_setting('threads')"))  # type: ignore[attr-defined]


def _spy_arrow_appends(store: object) -> list[int]:
    """The ``threads`` setting at each of the store's Arrow appends, from now on."""
    seen: list[int] = []
    original = store.insert_arrow  # type: ignore[attr-defined]

    def spy(table: str, data: object) -> None:
        seen.append(_threads(store))
        original(table, data)

    store.insert_arrow = spy  # type: ignore[attr-defined]
    return seen


def test_threads_setting_comes_back(make_node, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-serial", "US")
    path = write_csv(tmp_path / "s.csv", 300, seed=3)
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,useful\n1,2\n", encoding="utf-8")
    with node.open_store() as store:
        store.execute("SET threads = 3")
        seen = _spy_arrow_appends(store)
        execute = store.execute

        def spy_execute(sql: str, params: object = ()) -> None:  # the columnar path's INSERT ... SELECT
            if sql.startswith(("INSERT INTO seizure", "INSERT INTO field_issues")):
                seen.append(_threads(store))
            execute(sql, params)  # type: ignore[arg-type]

        store.execute = spy_execute  # type: ignore[method-assign]
        from puente.ingest import columnar

        passes: list[int] = []  # the SQL passes before the write run on the database's threads, in the store's database
        finish = columnar.Columnar.finish

        def spy_finish(self: columnar.Columnar, *args: object) -> None:
            assert self.con is not store.con  # type: ignore[attr-defined]  # (a cursor of it)
            passes.append(_threads(store))
            finish(self, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(columnar.Columnar, "finish", spy_finish)
        report = ingest_file(node, store, path, get_profile("seizure-us"), engine="columnar")
        assert report.stored == 300 and seen and set(seen) == {3} and passes == [3]
        store.execute = execute  # type: ignore[method-assign]
        assert _threads(store) == 3
        assert _threads(store) == 3
        assert _leftovers(store) == []
        with pytest.raises(InputError):
            ingest_file(node, store, bad, get_profile("seizure-us"), engine="columnar")
        assert _threads(store) == 3
        assert _leftovers(store) == []  # after a refused file too


def _leftovers(store: object) -> list[tuple[str, ...]]:
    """The columnar work's attached database and Python functions, if any outlived the ingest."""
    return store.query(  # type: ignore[attr-defined, no-any-return]
        "SELECT database_name FROM duckdb_databases() WHERE database_name LIKE 'puente_columnar_%' UNION ALL "
        "SELECT function_name FROM duckdb_functions() WHERE regexp_matches(function_name, '^py_(repr|json|csv_split)_')")


def test_concurrent_ingests_restore_threads(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node: Node = make_node("us-serial-two", "US")
    paths = [write_csv(tmp_path / f"f{i}.csv", 2_000, seed=10 + i) for i in range(2)]
    with node.open_store() as store:
        store.execute("SET threads = 2")
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def run(path: Path) -> None:
            try:
                with node.open_store() as own:
                    start.wait(timeout=60)
                    ingest_file(node, own, path, get_profile("seizure-us"), engine="columnar")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not errors, errors
        assert _threads(store) == 2
        assert store.scalar("SELECT count(*) FROM seizure") == 4_000


def test_columnar_write_slices_keep_source_order_and_the_row_path_appends_on_one_thread(
        make_node, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The columnar write's ``INSERT ... SELECT`` slices (here of 64 rows, on two threads) store every row once, in
    source order; the row path's appends run on one thread."""
    from puente.ingest import columnar

    monkeypatch.setattr(columnar, "WRITE_SLICE", 64)
    node: Node = make_node("us-slices", "US")
    path = write_csv(tmp_path / "s.csv", 300, seed=5)
    with node.open_store() as store:
        store.execute("SET threads = 2")
        inserts: list[int] = []
        execute = store.execute

        def spy_execute(sql: str, params: object = ()) -> None:
            if sql.startswith("INSERT INTO seizure"):
                inserts.append(_threads(store))
            execute(sql, params)  # type: ignore[arg-type]

        store.execute = spy_execute  # type: ignore[method-assign]
        report = ingest_file(node, store, path, get_profile("seizure-us"), engine="columnar")
        store.execute = execute  # type: ignore[method-assign]
        assert report.stored == 300 and len(inserts) == 5 and set(inserts) == {2}
        rows = [r[0] for r in store.query("SELECT source_row FROM seizure")]  # the table's own (physical) order
        assert rows == sorted(rows) and len(set(rows)) == 300
        seen = _spy_arrow_appends(store)
        again = write_csv(tmp_path / "t.csv", 50, seed=6)
        assert ingest_file(node, store, again, get_profile("seizure-us"), engine="row").stored == 50
        assert seen and set(seen) == {1} and _threads(store) == 2
