"""`puente analyze <name> [--engine duckdb|postgres|spark] [--out DIR]`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from puente.i18n import t

console = Console()


def analyze(
    name: str = typer.Argument(..., help="corridors, hotspots, alerts, precursors, firearms, networks, cbp or all."),
    engine: str = typer.Option("duckdb", "--engine", "-e", help="duckdb, postgres or spark."),
    out: Path = typer.Option(Path("analysis"), "--out", "-o", help="Output directory / directorio de salida."),
    period: str = typer.Option("month", "--period", help="day, week, month, quarter or year."),
) -> None:
    """Run analytics on the node's store: tables (CSV, Parquet), GeoJSON, charts (PNG) and an HTML page."""
    from puente.analyze.output import write_result
    from puente.analyze.suite import ANALYSES, has_rows, run_analysis
    from puente.console import load_node
    from puente.engine import open_engine

    node = load_node()
    names = list(ANALYSES) if name == "all" else [name]
    ran: list[tuple[str, str]] = []
    with open_engine(engine, node.store_url) as eng:
        for item in names:
            if name == "all" and not has_rows(eng, ANALYSES[item][0]):
                continue
            result = run_analysis(item, eng, period)
            files = write_result(item, result, out)
            console.print(t("analysis_written", name=item, files=len(files), out=str(out)))
            ran.append((item, ANALYSES[item][0]))
    from puente.audit.access import record_analysis  # partner records read are audited
    from puente.console import actor as _actor

    with node.open_store() as store:
        record_analysis(store, node, _actor(), ran, engine)
