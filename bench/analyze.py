"""Benchmark: the analytics suite at scale on DuckDB (Ibis) against hand-written DuckDB SQL for the same
corridor and hotspot aggregations, and the same suite on Spark local[2].

    PYTHONPATH=. python -m bench.analyze --events 10000000 --spark-events 1000000

Results: bench/results/analyze.md (machine, date, numbers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from bench.analyze_data import generate
from puente.analyze import corridors, hotspots
from puente.analyze.chains import chain_edges
from puente.analyze.suite import ANALYSES, run_analysis
from puente.engine import Engine, open_engine
from puente.node import Node

HOTSPOT_SQL = """
SELECT place_h3 AS h3, coalesce(place_country, '?') AS country, count(*) AS events,
       sum(coalesce(quantity_kg, 0)) AS kg, sum(coalesce(pill_count, 0)) AS pills
FROM seizure WHERE date IS NOT NULL AND place_h3 IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"""

EDGES_SQL = """
WITH marked AS (
  SELECT id, CAST(date AS DATE) AS d, coalesce(pill_stamp, '') AS stamp, batch FROM seizure WHERE batch IS NOT NULL),
lagged AS (
  SELECT lag(id) OVER (PARTITION BY stamp, batch ORDER BY d, id) AS a, id AS b FROM marked),
links AS (
  SELECT from_id AS event, to_id AS entity FROM link
  WHERE from_kind = 'seizure' AND to_kind IN ('person', 'organization', 'vehicle')
    AND role IN ('vehicle', 'driver', 'courier', 'passenger', 'arrested')
  UNION ALL
  SELECT to_id, from_id FROM link
  WHERE to_kind = 'seizure' AND from_kind IN ('person', 'organization', 'vehicle')
    AND role IN ('vehicle', 'driver', 'courier', 'passenger', 'arrested')),
dated AS (SELECT l.event, l.entity, CAST(s.date AS DATE) AS d FROM links l JOIN seizure s ON s.id = l.event),
entity_lag AS (
  SELECT lag(event) OVER w AS a, event AS b, d - lag(d) OVER w AS gap FROM dated
  WINDOW w AS (PARTITION BY entity ORDER BY d, event)),
cited AS (
  SELECT id AS b, regexp_extract(upper(notes), '([A-Z]{2,6}-[0-9][0-9-]{4,}[0-9])', 1) AS ref FROM seizure)
SELECT a, b FROM lagged WHERE a IS NOT NULL
UNION ALL
SELECT a, b FROM entity_lag WHERE a IS NOT NULL AND gap <= 7
UNION ALL
SELECT t.id AS a, c.b FROM cited c JOIN seizure t ON t.source_id = c.ref WHERE c.ref <> '' AND t.id <> c.b"""

CORRIDOR_SQL = """
WITH flags AS (
  SELECT s.*,
    s.place_country = 'US' AND NOT (s.port_id IS NOT NULL OR trim(coalesce(s.port_text, '')) <> ''
      OR coalesce(s.place_id, '') LIKE 'POE-%') AND s.place_name IS NOT NULL AS interior
  FROM seizure s),
base AS (
  SELECT f.id, CAST(f.date AS DATE) AS d, coalesce(f.quantity_kg, 0) AS kg, coalesce(f.pill_count, 0) AS pills,
    f.port_id,
    CASE WHEN f.place_country = 'MX' THEN
      CASE WHEN f.place_admin1 IS NOT NULL AND f.place_admin1 <> f.place_name
           THEN f.place_name || ', ' || f.place_admin1 ELSE f.place_name END END AS own_origin,
    CASE WHEN coalesce(f.port_id, '') LIKE 'POE-%' THEN f.port_name END AS own_crossing,
    CASE WHEN f.interior THEN
           CASE WHEN f.place_admin1 IS NOT NULL AND f.place_admin1 <> f.place_name
                THEN f.place_name || ', ' || f.place_admin1 ELSE f.place_name END
         WHEN f.destination_country = 'US' AND f.destination_name IS NOT NULL
              AND NOT coalesce(f.destination_id, '') LIKE 'POE-%' THEN
           CASE WHEN f.destination_admin1 IS NOT NULL AND f.destination_admin1 <> f.destination_name
                THEN f.destination_name || ', ' || f.destination_admin1 ELSE f.destination_name END
    END AS own_destination,
    CASE WHEN NOT f.interior AND f.destination_country = 'US' AND f.destination_name IS NOT NULL
              AND NOT coalesce(f.destination_id, '') LIKE 'POE-%' THEN 1 ELSE 0 END AS own_reported
  FROM flags f)
SELECT date_trunc('month', b.d)::DATE AS period,
       coalesce(a.origin, b.own_origin, t.twin_label, '?') AS origin,
       coalesce(a.crossing, b.own_crossing, '?') AS crossing,
       coalesce(a.destination, b.own_destination, '?') AS destination,
       count(*) AS events, count(DISTINCT coalesce(a.chain, b.id)) AS loads, sum(b.kg) AS kg, sum(b.pills) AS pills,
       count(DISTINCT coalesce(a.chain, b.id)) FILTER (WHERE coalesce(a.reported, b.own_reported) = 1) AS reported
FROM base b LEFT JOIN assigned a ON a.id = b.id LEFT JOIN twins t ON t.twin_port = b.port_id
WHERE b.d IS NOT NULL
GROUP BY 1, 2, 3, 4"""


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> bool:
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True)[list(a.columns)]
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-6)
    except AssertionError:
        return False
    return True


def aggregations(engine: Engine, path: str, lines: list[str]) -> None:
    raw = duckdb.connect(path)
    t_ibis, cells = timed(lambda: hotspots.cell_counts(engine, ("seizure",)), 3)
    t_sql, cells_sql = timed(lambda: raw.execute(HOTSPOT_SQL).df(), 3)
    lines.append(f"| hotspot aggregation (res-8 cells) | {t_ibis:.2f} | {t_sql:.2f} | {t_ibis / t_sql:.2f} | "
                 f"{same(cells, cells_sql, ['h3', 'country'])} |")
    t_ibis, edges = timed(lambda: engine.run(chain_edges(engine)), 1)
    t_sql, edges_sql = timed(lambda: raw.execute(EDGES_SQL).df(), 1)
    lines.append(f"| chain edges (lag windows) | {t_ibis:.2f} | {t_sql:.2f} | {t_ibis / t_sql:.2f} | "
                 f"{same(edges, edges_sql, ['a', 'b'])} |")
    assigned = corridors.chain_corridors(engine)
    twins = corridors._twins()
    t_ibis, flows = timed(lambda: engine.run(corridors.corridor_aggregation(engine, assigned=assigned)), 3)
    raw.register("assigned", assigned)
    raw.register("twins", twins)
    t_sql, flows_sql = timed(lambda: raw.execute(CORRIDOR_SQL).df(), 3)
    keys = ["period", "origin", "crossing", "destination"]
    lines.append(f"| corridor aggregation (given chains) | {t_ibis:.2f} | {t_sql:.2f} | {t_ibis / t_sql:.2f} | "
                 f"{same(flows, flows_sql, keys)} |")
    raw.close()


def suite(engine: Engine, k: int) -> dict[str, float]:
    times = {}
    for name in ANALYSES:
        if name == "cbp":
            continue
        times[name], _ = timed(lambda name=name: run_analysis(name, engine, betweenness_k=k))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--spark-events", type=int, default=1_000_000)
    parser.add_argument("--betweenness-k", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench/results/analyze.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="puente-bench-"))
    lines = [f"# Analytics benchmark ({dt.date.today().isoformat()})", "",
             f"Machine: {os.cpu_count()} cores, 24 GB RAM (shared), {platform.platform()}, Python "
             f"{platform.python_version()}; DuckDB {duckdb.__version__}.", "",
             f"Synthetic events from bench/analyze_data.py (60% seizures in three-leg loads, 20% precursor "
             f"shipments, 18% firearm traces, 2% labs). Betweenness sampled with k={args.betweenness_k} pivots.", ""]
    try:
        for label, n, spark in ((f"{args.events:,}", args.events, False), (f"{args.spark_events:,}",
                                                                         args.spark_events, True)):
            node = Node.init(work / f"n{n}", "bench", "US")
            path = node.store_url[len("duckdb://"):]
            t_gen, counts = timed(lambda path=path, n=n: generate(path, n))
            lines += [f"## {label} events", "", f"Generated in {t_gen:.0f} s: {counts}.", ""]
            with open_engine("duckdb", node.store_url) as duck:
                if not spark:
                    lines += ["| aggregation | Ibis on DuckDB (s) | hand-written DuckDB SQL (s) | ratio | same result |",
                              "|---|---|---|---|---|"]
                    aggregations(duck, path, lines)
                    lines.append("")
                t_duck = suite(duck, args.betweenness_k)
            row_names = list(t_duck)
            header = "| analysis | DuckDB (s) |"
            values = {name: [f"{t_duck[name]:.1f}"] for name in row_names}
            if spark:
                with open_engine("spark", node.store_url) as sp:
                    t_export, _ = timed(lambda: [sp.table(t) for t in ("seizure", "link", "lab_site",
                                                                       "precursor_shipment", "firearm_trace",
                                                                       "person", "vehicle", "organization")])
                    t_spark = suite(sp, args.betweenness_k)
                header += " Spark local[2] (s) |"
                for name in row_names:
                    values[name].append(f"{t_spark[name]:.1f}")
                lines.append(f"Spark: exporting the store tables to Parquet took {t_export:.1f} s.")
                lines.append("")
            lines += [header, "|---" * (header.count("|") - 1) + "|"]
            lines += [f"| {name} | " + " | ".join(values[name]) + " |" for name in row_names]
            lines += ["| **total** | " + " | ".join(
                f"{sum(float(v[i]) for v in values.values()):.1f}" for i in range(len(values[row_names[0]]))) + " |",
                ""]
            lines += [f"Peak memory of the benchmark process so far (max RSS): "
                      f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB.", ""]
            print("\n".join(lines), flush=True)
            shutil.rmtree(node.home, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
