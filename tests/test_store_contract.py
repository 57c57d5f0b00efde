"""The store contract, the same cases on DuckDB and PostgreSQL (``store_url``)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from puente.model import load_model
from puente.store.base import open_store
from puente.store.migrations import _MIGRATIONS, migrate, sync_model_columns


def test_migrations_are_versioned_and_idempotent(store_url: str) -> None:
    with open_store(store_url) as store:
        versions = [r[0] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == sorted(_MIGRATIONS) and 1 in versions
        assert store.scalar("SELECT name FROM schema_migrations WHERE version = 1").startswith("record kinds")
        assert migrate(store) == []  # nothing pending: applying again changes nothing
    with open_store(store_url) as store:  # and reopening does not re-run them either
        assert store.scalar("SELECT COUNT(*) FROM schema_migrations") == len(versions)
        for kind in load_model().kinds.values():
            assert set(kind.columns()) | {"extra"} == set(store.table_columns(kind.table))


def test_sync_model_columns_adds_a_column_the_model_declares(store_url: str) -> None:
    with open_store(store_url) as store:
        store.execute("ALTER TABLE seizure DROP COLUMN pill_stamp")  # as if created by an older model
        assert "pill_stamp" not in store.table_columns("seizure")
        with store.transaction():
            sync_model_columns(store)
        assert "pill_stamp" in store.table_columns("seizure")
        store.execute("INSERT INTO seizure (id, pill_stamp) VALUES (?, ?)", ["x", "M30"])
        assert store.scalar("SELECT pill_stamp FROM seizure WHERE id = ?", ["x"]) == "M30"


def test_sync_model_columns_adds_a_new_place_field_with_all_its_columns(store_url: str) -> None:
    place = [c for c in load_model().kind("seizure").columns() if c.startswith("destination_")]
    assert len(place) == 8  # the reported destination: text as written and its resolution
    with open_store(store_url) as store:
        for column in place:  # a store created before the model had a reported destination
            store.execute(f"ALTER TABLE seizure DROP COLUMN {column}")
        with store.transaction():
            sync_model_columns(store)
        assert set(place) <= set(store.table_columns("seizure"))


def test_transaction_commits_or_rolls_back_whole(store_url: str) -> None:
    with open_store(store_url) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.execute("INSERT INTO node_meta VALUES (?, ?)", ["a", "1"])
            with store.transaction():  # nested: joins the outer one
                store.execute("INSERT INTO node_meta VALUES (?, ?)", ["b", "2"])
            raise RuntimeError("crash")
        assert store.scalar("SELECT COUNT(*) FROM node_meta") == 0
        with store.transaction():
            store.execute("INSERT INTO node_meta VALUES (?, ?)", ["a", "1"])
        assert store.query("SELECT key, value FROM node_meta") == [("a", "1")]


def test_arrow_round_trip_and_helpers(store_url: str) -> None:
    with open_store(store_url) as store:
        data = pa.table({
            "id": ["n:seizure:1", "n:seizure:2"], "date": pa.array([dt.date(2023, 1, 3), None], pa.date32()),
            "quantity": [2.5, 1.0], "pill_count": pa.array([None, 15000], pa.int64()),
            "place_text": ["Culiacán", "Tijuana, B.C."], "content_hash": ["h1", "h2"],
        })
        store.insert_arrow("seizure", data)
        back = store.query_arrow("SELECT id, date, quantity, pill_count, place_text FROM seizure ORDER BY id")
        assert back.column("date").to_pylist() == [dt.date(2023, 1, 3), None]
        assert back.column("pill_count").to_pylist() == [None, 15000]
        assert back.column("quantity").type == pa.float64() and back.column("place_text")[0].as_py() == "Culiacán"
        assert store.existing_hashes("seizure", ["n:seizure:2", "n:seizure:9"]) == {"n:seizure:2": "h2"}
        store.delete_ids("seizure", ["n:seizure:1"])
        assert [r[0] for r in store.query("SELECT id FROM seizure")] == ["n:seizure:2"]
        assert store.table_columns("no_such_table") == []


def test_many_ids_in_one_lookup(store_url: str) -> None:
    """Ingest looks up a whole chunk of ids at once (tens of thousands)."""
    with open_store(store_url) as store:
        ids = [f"n:person:{i}" for i in range(12_000)]
        store.insert_arrow("person", pa.table({"id": ids, "content_hash": [f"h{i}" for i in range(12_000)]}))
        found = store.existing_hashes("person", ids[::2] + ["missing"])
        assert len(found) == 6_000 and found["n:person:10"] == "h10"
        store.delete_ids("person", ids[:10_000])
        assert store.scalar("SELECT COUNT(*) FROM person") == 2_000


def test_bad_store_url_is_a_config_error() -> None:
    from puente.errors import ConfigError

    with pytest.raises(ConfigError):
        open_store("mysql://nope")


@pytest.mark.parametrize(("url", "path"), [
    ("duckdb:///tmp/x.duckdb", "/tmp/x.duckdb"), ("duckdb:////tmp/x.duckdb", "/tmp/x.duckdb"),
    ("duckdb://rel/x.duckdb", "rel/x.duckdb"), ("duckdb:///:memory:", ":memory:"),
])
def test_duckdb_url_forms(url: str, path: str) -> None:
    from puente.store.duckdb_store import duckdb_path

    assert duckdb_path(url) == path


def test_unopenable_store_is_a_store_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from puente.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError):
        open_store(f"duckdb:///{blocker}/store.duckdb")
    with pytest.raises(StoreError):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_init_refuses_a_store_of_another_node_and_can_be_retried(make_node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from puente.errors import StoreError, UsageError
    from puente.node import Node

    first = make_node("mx-uno", "MX")
    with pytest.raises(UsageError, match="already belongs to node .mx-uno."):
        Node.init(tmp_path / "dos", "mx-dos", "MX", first.store_url)
    assert not (tmp_path / "dos" / "node.toml").exists()
    with pytest.raises(StoreError):  # an unreachable store leaves no half-made node behind
        Node.init(tmp_path / "tres", "mx-tres", "MX", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert Node.init(tmp_path / "tres", "mx-tres", "MX").name == "mx-tres"  # so init can simply be re-run
    assert Node.load(tmp_path / "tres").store_url.endswith("store.duckdb")
