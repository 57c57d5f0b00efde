"""Spark (local[2]) gives the same results as DuckDB on the same store. One session for the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from analyze_cases import CASES, assert_same
from conftest import require
from test_analyze_engines import make_world

from puente.engine import Engine, open_engine

# a Spark session and every analytics case on it: the full tier (make test-all)
pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    node = make_world(tmp_path_factory.mktemp("spark") / "node")
    try:
        spark = open_engine("spark", node.store_url)
    except Exception as exc:  # noqa: BLE001
        require("spark", str(exc))
    duck = open_engine("duckdb", node.store_url)
    yield duck, spark
    spark.close()
    duck.close()


def test_spark_matches_duckdb_on_every_case(engines: tuple[Engine, Engine]) -> None:
    duck, spark = engines
    failures = []
    for name, case in CASES.items():
        try:
            assert_same(case(duck), case(spark), name)
        except AssertionError as exc:
            failures.append(f"{name}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_spark_reads_store_tables_as_parquet(engines: tuple[Engine, Engine]) -> None:
    _, spark = engines
    frame = spark.run(spark.table("seizure").count().as_table())
    assert int(frame.iloc[0, 0]) > 300
    assert isinstance(frame, pd.DataFrame)
    assert any(Path(spark.workdir).glob("seizure.parquet"))  # type: ignore[attr-defined]
