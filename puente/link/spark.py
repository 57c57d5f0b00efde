"""The Spark session Splink runs on: the process's one shared session (puente.engine.spark)."""

from __future__ import annotations

from typing import Any

from puente.engine.spark import spark_session


def session() -> Any:
    """local[2] by default (PUENTE_SPARK_MASTER and PUENTE_SPARK_MEMORY override)."""
    return spark_session()
