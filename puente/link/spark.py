"""A local Spark session for Splink, with Splink's similarity UDF jar (Jaro-Winkler etc.) on the classpath."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from puente.errors import ConfigError


@lru_cache(maxsize=1)
def session() -> Any:
    """local[2] by default (PUENTE_SPARK_MASTER and PUENTE_SPARK_MEMORY override)."""
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        spark = (
            SparkSession.builder.master(os.environ.get("PUENTE_SPARK_MASTER", "local[2]"))
            .appName("puente-link")
            .config("spark.jars", similarity_jar_location())
            .config("spark.driver.memory", os.environ.get("PUENTE_SPARK_MEMORY", "4g"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    except Exception as exc:  # noqa: BLE001 - no Java, port clash...: one line, no traceback
        raise ConfigError("link_spark_missing", error=str(exc).strip().splitlines()[0]) from None
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(os.path.join(os.environ.get("TMPDIR", "/tmp"), "puente-link-checkpoints"))
    return spark
