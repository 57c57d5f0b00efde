"""The same analytics on DuckDB and PostgreSQL give the same results (Spark: test_analyze_spark.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from analyze_cases import CASES, assert_same
from analyze_world import build
from conftest import PG_URL, _pg_admin

from puente.demo import cbp_file
from puente.engine import open_engine
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node


def make_world(home: Path, store_url: str | None = None) -> Node:
    node = Node.init(home, "t", "US", store_url)
    with node.open_store() as store:
        build(store)
        ingest_file(node, store, cbp_file(), get_profile("cbp-seizure-stats"))
    return node


@pytest.fixture(scope="module")
def duck_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    node = make_world(tmp_path_factory.mktemp("duck") / "node")
    with open_engine("duckdb", node.store_url) as engine:
        return {name: case(engine) for name, case in CASES.items()}


@pytest.fixture(scope="module")
def pg_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    admin = _pg_admin()
    name = "puente_test_" + uuid.uuid4().hex[:10]
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_world(tmp_path_factory.mktemp("pg") / "node", f"{PG_URL}/{name}")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_every_case_returns_rows(duck_results: dict[str, pd.DataFrame]) -> None:
    empty = [name for name, frame in duck_results.items() if frame.empty]
    assert not empty, f"cases with no rows: {empty}"


def test_in_memory_copy_matches_the_file(tmp_path: Path, duck_results: dict[str, pd.DataFrame]) -> None:
    node = make_world(tmp_path / "node")
    with open_engine("duckdb", node.store_url, in_memory_copy=True) as engine:
        assert_same(duck_results["corridor_flows"], CASES["corridor_flows"](engine), "corridor_flows")


@pytest.mark.postgres
@pytest.mark.parametrize("case", sorted(CASES))
def test_postgres_matches_duckdb(case: str, pg_node: Node, duck_results: dict[str, pd.DataFrame],
                                 pg_engine_cache: dict[str, object]) -> None:
    if "engine" not in pg_engine_cache:
        pg_engine_cache["engine"] = open_engine("postgres", pg_node.store_url)
    assert_same(duck_results[case], CASES[case](pg_engine_cache["engine"]), case)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pg_engine_cache() -> Iterator[dict[str, object]]:
    cache: dict[str, object] = {}
    yield cache
    if "engine" in cache:
        cache["engine"].close()  # type: ignore[attr-defined]
