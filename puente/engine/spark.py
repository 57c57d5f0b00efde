"""One local Spark session per process (starting one costs ~10 s), shared by analytics and
linking: it carries Splink's similarity UDF jar (Jaro-Winkler etc.) on its classpath, because a
second builder in the same process would silently get this session back."""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from typing import Any

from puente.errors import ConfigError


@lru_cache(maxsize=1)
def spark_session(master: str | None = None, memory: str | None = None) -> Any:
    """local[2] by default (PUENTE_SPARK_MASTER, PUENTE_SPARK_MEMORY override)."""
    if importlib.util.find_spec("pyspark") is None:  # an extra: pip install 'puente[spark]'
        raise ConfigError("spark_not_installed")
    # Python workers (pandas conversions, UDFs) must run this interpreter, with this environment's packages,
    # not whatever `python3` is first on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location

        builder = (
            SparkSession.builder.master(master or os.environ.get("PUENTE_SPARK_MASTER", "local[2]"))
            .appName("puente")
            .config("spark.jars", similarity_jar_location())
            .config("spark.driver.memory", memory or os.environ.get("PUENTE_SPARK_MEMORY", "4g"))
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.default.parallelism", "4")
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
    session.sparkContext.setCheckpointDir(os.path.join(os.environ.get("TMPDIR", "/tmp"), "puente-spark-checkpoints"))
    return session
