"""`puente demo`: simulate the scenario, build a U.S. node and a Mexican node on the embedded store,
ingest each country's agency files plus the real CBP statistics, and show what each node holds.

``run_demo(out, console)`` returns the nodes by country so that later stages (sharing, linking,
analytics, dashboard) can extend the demo.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from puente.i18n import t
from puente.ingest.pipeline import IngestReport, ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node

DEMO_SEED = 7
DEMO_SCALE = 20_000


def cbp_file() -> Path:
    return Path(str(resources.files("puente").joinpath("data", "nationwide-drugs-fy19-fy22.csv")))


def fentanyl_by_fy(node: Node) -> list[tuple[int, float]]:
    with node.open_store() as store:
        rows = store.query(
            "SELECT fiscal_year, SUM(pounds) FROM seizure_aggregate WHERE drug = 'fentanyl' "
            "GROUP BY fiscal_year ORDER BY fiscal_year"
        )
    return [(int(fy), float(lbs)) for fy, lbs in rows]


def ingest_simulated(nodes: dict[str, Node], sim_dir: Path, console: Console | None = None) -> list[IngestReport]:
    """Ingest every simulated file into the node of its country (profile from the manifest)."""
    from puente.simulate import read_manifest

    reports = []
    for entry in read_manifest(sim_dir):
        node = nodes.get(entry["country"])
        if node is None:
            continue
        with node.open_store() as store:
            report = ingest_file(node, store, sim_dir / entry["file"], get_profile(entry["profile"]))
        reports.append(report)
        if console:
            console.print(f"  {entry['file']} [{entry['profile']}]: {report.summary()}")
    return reports


def run_demo(out: Path, console: Console, seed: int = DEMO_SEED, scale: int = DEMO_SCALE) -> dict[str, Node]:
    from puente.simulate import simulate
    from puente.store.summary import summarize

    if out.exists():
        shutil.rmtree(out)
    sim_dir = out / "simulated"
    summary = simulate(sim_dir, seed=seed, scale=scale)
    console.print(t("sim_done", rows=summary.rows, files=len(summary.files), out=str(sim_dir),
                    seconds=summary.seconds, rate=summary.rows / max(summary.seconds, 1e-9),
                    truth=str(sim_dir / "truth")))
    nodes = {
        "US": Node.init(out / "us-node", "us-node", "US"),
        "MX": Node.init(out / "mx-node", "mx-node", "MX"),
    }
    profile = get_profile("cbp-seizure-stats")
    for country, node in nodes.items():
        console.print(t("demo_node", country=country, name=node.name, home=str(node.home)))
        with node.open_store() as store:
            report = ingest_file(node, store, cbp_file(), profile)
        console.print(f"  {cbp_file().name}: {report.summary()}")
        ingest_simulated({country: node}, sim_dir, console)
    for country, node in nodes.items():
        table = Table(t("col_kind"), t("col_records"), t("col_from"), t("col_to"), t("col_places"),
                      title=t("demo_node", country=country, name=node.name, home=str(node.home)))
        with node.open_store() as store:
            for s in summarize(store):
                share = f"{s.resolved}/{s.places} ({100 * s.resolved / s.places:.0f}%)" if s.places else "-"
                table.add_row(s.kind, f"{s.records:,}", str(s.first or "-"), str(s.last or "-"), share)
            quarantined = store.scalar("SELECT COUNT(*) FROM quarantine")
        console.print(table)
        console.print(t("sim_demo_quarantine", count=quarantined, truth=str(sim_dir / "truth" / "corrupted_rows.csv")))
    console.print(t("demo_cbp"))
    for fy, lbs in fentanyl_by_fy(nodes["US"]):
        console.print(f"  FY{fy}: {lbs:,.0f} lb")
    return nodes
