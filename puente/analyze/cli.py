"""`puente analyze <name> [--engine duckdb|postgres|spark] [--out DIR]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from puente.i18n import t

if TYPE_CHECKING:
    from puente.store.base import Store

console = Console()


def analyze(
    name: str = typer.Argument(..., help="corridors, hotspots, alerts, precursors, firearms, networks, cbp, all "
                                         "or joint (the digest of the joint picture with each partner)."),
    engine: str = typer.Option("duckdb", "--engine", "-e", help="duckdb, postgres or spark."),
    out: Path = typer.Option(Path("analysis"), "--out", "-o", help="Output directory / directorio de salida."),
    period: str = typer.Option("month", "--period", help="day, week, month, quarter or year."),
    link: str = typer.Option("auto", "--link", help="Entity resolution first: auto (when stale), always or never."),
) -> None:
    """Run analytics on the node's store: tables (CSV, Parquet), GeoJSON, charts (PNG) and an HTML page.

    Networks, firearms and precursors read resolved entities: with ``--link auto`` (the default) the
    resolution of people and organisations is run first when records arrived after the last one."""
    from puente.analyze.digest import analysis_digest
    from puente.analyze.output import write_result
    from puente.analyze.suite import ANALYSES, ENTITY_ANALYSES, READS, has_rows, run_analysis, tables
    from puente.console import load_node
    from puente.engine import open_engine
    from puente.errors import UsageError

    if link not in ("auto", "always", "never"):
        raise UsageError("bad_link_mode", mode=link)
    node = load_node()
    if name == "joint":
        _joint(node)
        return
    names = list(ANALYSES) if name == "all" else [name]
    if set(names) & set(ENTITY_ANALYSES):
        with node.open_store() as store:
            _resolve(store, link)
    ran: list[tuple[str, str]] = []
    written: dict[str, Any] = {}
    with open_engine(engine, node.store_url) as eng:
        for item in names:
            if name == "all" and not has_rows(eng, ANALYSES[item][0]):
                continue
            result = run_analysis(item, eng, period)
            files = write_result(item, result, out)
            console.print(t("analysis_written", name=item, files=len(files), out=str(out)))
            ran += [(item, table) for table in READS[item]]
            written.update({f"{item}_{k}": v for k, v in tables(result).items()})
        digest = analysis_digest(eng, {table for _, table in ran}, written)
    out.mkdir(parents=True, exist_ok=True)
    (out / "digest.json").write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    console.print(t("analysis_digest", inputs=digest["inputs_sha256"][:16], results=digest["results_sha256"][:16]))
    from puente.audit.access import record_analysis  # partner records read are audited
    from puente.console import actor as _actor

    with node.open_store() as store:
        record_analysis(store, node, _actor(), ran, engine)


def _joint(node: Any) -> None:
    """The joint picture with each partner: its digest, kept for the joint scorecard (analyze/joint.py)."""
    from puente.analyze.joint import partners, write_joint

    with node.open_store() as store:
        found = partners(store)
        if not found:
            console.print(t("joint_no_partner"))
            return
        for partner in found:
            digest = write_joint(node, store, partner)
            records = sum(v["records"] for v in digest["inputs"].values())
            console.print(t("joint_digest", partner=partner, records=records, inputs=digest["inputs_sha256"][:16],
                            results=digest["results_sha256"][:16]))


def _resolve(store: Store, mode: str) -> None:
    """Bring the entity resolution the analyses read up to date (``--link``), saying what was done."""
    from puente.analyze.resolution import ER_KINDS, ensure_resolution, freshness
    for kind in ER_KINDS:
        state = freshness(store, kind)
        if not state.records:
            continue
        reason = t("resolution_never_run") if state.run_id is None else t(
            "resolution_reason", unresolved=state.unresolved, gone=state.gone, newer=state.newer)
        if mode == "never" or not (state.stale or mode == "always"):
            key = "analysis_resolution_stale_kept" if state.stale else "analysis_resolution_current"
            console.print(t(key, kind=kind, reason=reason, run_id=state.run_id))
            continue
        try:
            done = ensure_resolution(store, (kind,), force=mode == "always")
        except Exception as exc:  # noqa: BLE001 - the model could not be trained on these records: say so, go on
            console.print(t("analysis_resolution_failed", kind=kind, reason=reason,
                            error=(str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]))
            continue
        for _, report in done:
            console.print(t("analysis_resolution", kind=kind, reason=reason, records=report.records,
                            clusters=report.clusters, run_id=report.run_id))
