"""`puente demo`: a U.S. node and a Mexican node, each with its country's simulated files and the CBP series."""

from __future__ import annotations

import csv
from pathlib import Path

from rich.console import Console

from puente.demo import run_demo


def test_demo_builds_two_nodes_with_their_own_files(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    # any world: a seed other than the default one (each seed draws other organisations, labs and shifts)
    nodes = run_demo(tmp_path / "demo", console, seed=23, scale=1000)
    assert set(nodes) == {"US", "MX"}
    assert (nodes["US"].country, nodes["MX"].country) == ("US", "MX")
    with (tmp_path / "demo" / "simulated" / "truth" / "corrupted_rows.csv").open(encoding="utf-8") as handle:
        corrupted = list(csv.DictReader(handle))
    for country, node in nodes.items():
        with node.open_store() as store:
            assert store.scalar("SELECT COUNT(*) FROM seizure_aggregate") == 10092
            files = {r[0] for r in store.query("SELECT DISTINCT source_file FROM seizure")}
            expected = {"cbp_seizures.csv", "interior_seizures.csv"} if country == "US" else {"aseguramientos.csv"}
            assert files == expected
            assert store.scalar("SELECT COUNT(*) FROM person") > 0
            own = [r for r in corrupted if r["file"].startswith(country.lower() + "/")]
            # issue 12: only a row-level problem or a required field rejects the row; an invalid optional
            # value is stored as NULL with a field issue; a person without given names keeps the surnames
            rejected = [r for r in own if r["outcome"] == "quarantined"]
            assert store.scalar("SELECT COUNT(*) FROM quarantine") == len(rejected)
            flagged = {(r["file"].split("/")[-1], int(r["row"])) for r in own if r["outcome"] == "field_issue"}
            issues = {(f.split("/")[-1], int(row)) for f, row in store.query(
                "SELECT source_file, source_row FROM field_issues")}
            assert flagged <= issues
    mx_kinds = {"precursor_shipment", "lab_site"}
    with nodes["MX"].open_store() as store:
        assert all(store.scalar(f"SELECT COUNT(*) FROM {k}") > 0 for k in mx_kinds)
    text = console.export_text()
    assert "us-node" in text and "mx-node" in text and "FY2022: 14,700 lb" in text


def test_demo_seed_and_scale_options(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from puente.cli import main

    assert main(["demo", "--out", str(tmp_path / "d"), "--seed", "23", "--scale", "10", "--no-serve"]) == 2
    err = capsys.readouterr().err
    assert "scale must be at least 1000" in err and "Traceback" not in err
