"""One way to run analytics on DuckDB, PostgreSQL and Spark.

An :class:`Engine` wraps an Ibis connection. The analytics in :mod:`puente.analyze` are
written once as Ibis expressions over ``engine.table(name)`` and executed with
``engine.run(expr)``; the engine hides where the tables live (the node's DuckDB file,
the PostgreSQL store, or Parquet files read by a local Spark session).
"""

from puente.engine.base import ENGINES, Engine, open_engine

__all__ = ["ENGINES", "Engine", "open_engine"]
