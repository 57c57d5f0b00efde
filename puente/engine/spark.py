"""One local Spark session per process (starting one costs ~10 s)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from puente.errors import ConfigError


@lru_cache(maxsize=1)
def spark_session(master: str | None = None, memory: str | None = None) -> Any:
    """local[2] by default (PUENTE_SPARK_MASTER, PUENTE_SPARK_MEMORY override)."""
    try:
        from pyspark.sql import SparkSession

        builder = (
            SparkSession.builder.master(master or os.environ.get("PUENTE_SPARK_MASTER", "local[2]"))
            .appName("puente-analyze")
            .config("spark.driver.memory", memory or os.environ.get("PUENTE_SPARK_MEMORY", "2g"))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        )
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - Java missing, port clash...: one line
        raise ConfigError("engine_failed", engine="spark", error=str(exc).strip().splitlines()[0]) from None
    session.sparkContext.setLogLevel("ERROR")
    return session
