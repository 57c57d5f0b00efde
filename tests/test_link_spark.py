"""The same resolution on Spark as on DuckDB (real local Spark, Java 17)."""

from __future__ import annotations

import shutil

import pytest
from conftest import require

from bench import synth
from puente.link.resolve import pair_scores, resolve


@pytest.mark.spark
@pytest.mark.slow  # Splink on a Spark session: the full tier (make test-all)
def test_spark_gives_the_same_entities_as_duckdb():
    if shutil.which("java") is None:
        require("spark", "no java on PATH")
    records, truth = synth.spanish_people(150, seed=31)
    on_duckdb = resolve("person", records)
    try:
        on_spark = resolve("person", records, backend="spark")
    except Exception as exc:  # noqa: BLE001 - Spark failing to start is reported, not hidden
        require("spark", str(exc).splitlines()[0])
    assert on_spark.clusters == on_duckdb.clusters
    assert pair_scores(truth, on_spark.clusters) == pair_scores(truth, on_duckdb.clusters)
    assert pair_scores(truth, on_spark.clusters)["f1"] >= 0.95
    strong = lambda r: set(zip(r.pairs.unique_id_l, r.pairs.unique_id_r, r.pairs.match_probability >= 0.9))
    assert strong(on_spark) == strong(on_duckdb)
