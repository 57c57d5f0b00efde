"""`puente demo`: build a U.S. node and a Mexican node on the embedded store and show them."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from rich.console import Console

from puente.i18n import t
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node


def cbp_file() -> Path:
    return Path(str(resources.files("puente").joinpath("data", "nationwide-drugs-fy19-fy22.csv")))


def fentanyl_by_fy(node: Node) -> list[tuple[int, float]]:
    with node.open_store() as store:
        rows = store.query(
            "SELECT fiscal_year, SUM(pounds) FROM seizure_aggregate WHERE drug = 'fentanyl' "
            "GROUP BY fiscal_year ORDER BY fiscal_year"
        )
    return [(int(fy), float(lbs)) for fy, lbs in rows]


def run_demo(out: Path, console: Console) -> dict[str, Node]:
    if out.exists():
        shutil.rmtree(out)
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
    console.print(t("demo_cbp"))
    for fy, lbs in fentanyl_by_fy(nodes["US"]):
        console.print(f"  FY{fy}: {lbs:,.0f} lb")
    return nodes
