"""Splink's database API on each engine that entity resolution runs on (DuckDB in process, or Spark),
so that puente/link names an engine and never branches on it (Splink's own DatabaseAPI idea)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd


class SplinkBackend(ABC):
    """What entity resolution asks of an engine: a Splink database API and the table it reads."""

    name = ""
    # type all-empty columns as text before Splink (DuckDB would guess INTEGER); Spark gets a schema instead
    empty_as_text = True

    @abstractmethod
    def db_api(self) -> Any:
        """A fresh Splink database API on this engine."""

    def table(self, db_api: Any, frame: pd.DataFrame, list_columns: Iterable[str],
              missing: Callable[[Any], bool]) -> Any:
        """The prepared records as this engine's Splink input: every column text (``list_columns``:
        lists of text), ``missing`` values as NULL."""
        return frame


class DuckDBSplink(SplinkBackend):
    name = "duckdb"

    def db_api(self) -> Any:
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        return DuckDBAPI(connection=con)


class SparkSplink(SplinkBackend):
    name = "spark"
    empty_as_text = False

    def __init__(self, spark: Any = None) -> None:
        self.spark = spark

    def db_api(self) -> Any:
        from splink import SparkAPI

        if self.spark is None:
            from puente.engine.spark import spark_session

            self.spark = spark_session()
        # Splink leaves SparkAPI.__init__ unannotated
        return SparkAPI(spark_session=self.spark, num_partitions_on_repartition=4)  # type: ignore[no-untyped-call]

    def table(self, db_api: Any, frame: pd.DataFrame, list_columns: Iterable[str],
              missing: Callable[[Any], bool]) -> Any:
        from pyspark.sql.types import ArrayType, StringType, StructField, StructType

        lists = set(list_columns)
        schema = StructType([StructField(c, ArrayType(StringType()) if c in lists else StringType())
                             for c in frame.columns])
        rows = [tuple(None if not isinstance(v, list) and missing(v) else v for v in row)
                for row in frame.itertuples(index=False, name=None)]
        return db_api.spark.createDataFrame(rows, schema)


BACKENDS: dict[str, Callable[[Any], SplinkBackend]] = {
    "duckdb": lambda spark: DuckDBSplink(),
    "spark": lambda spark: SparkSplink(spark),
}


def splink_backend(name: str, spark: Any = None) -> SplinkBackend:
    """The engine ``name`` (duckdb or spark); ``spark``: a session to use instead of the shared one."""
    if name not in BACKENDS:
        from puente.errors import UsageError

        raise UsageError("link_unknown_backend", backend=name)
    return BACKENDS[name](spark)
