"""The simulator: same seed, same bytes; files ingest with exactly the corrupted rows quarantined;
CBP seizures reproduce the real monthly series by area of responsibility; the truth is coherent."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest

from puente.demo import cbp_file, ingest_simulated
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node
from puente.simulate import read_manifest, simulate

SCALE = 3000


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.csv"))}


def _truth(sim: Path, name: str) -> list[dict[str, str]]:
    with (sim / "truth" / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, seed=11, scale=SCALE)
    return out


@pytest.fixture(scope="module")
def nodes(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Node]:
    home = tmp_path_factory.mktemp("nodes")
    nodes = {"US": Node.init(home / "us", "us-node", "US"), "MX": Node.init(home / "mx", "mx-node", "MX")}
    reports = ingest_simulated(nodes, sim)
    assert all(r.balanced for r in reports)
    return nodes


def test_same_seed_same_bytes(sim: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate(again, seed=11, scale=SCALE)
    assert _digests(again) == _digests(sim)
    other = tmp_path / "other"
    simulate(other, seed=12, scale=SCALE)
    assert _digests(other)["us/cbp_seizures.csv"] != _digests(sim)["us/cbp_seizures.csv"]


def test_exactly_the_corrupted_rows_are_quarantined_or_flagged(sim: Path, nodes: dict[str, Node]) -> None:
    """The truth says what ingest does with each corrupted row: rejects it (a row-level problem or a bad required
    field), stores it with the bad optional value emptied and kept as a field issue, or simply stores it."""
    corrupted = _truth(sim, "corrupted_rows.csv")
    assert len(corrupted) >= len(read_manifest(sim))  # at least one per file
    quarantined = {(r["file"].split("/")[-1], int(r["row"])): r["reason"] for r in corrupted
                   if r["outcome"] == "quarantined"}
    flagged = {(r["file"].split("/")[-1], int(r["row"])): (r["field"] or "purchase_date", r["reason"])
               for r in corrupted if r["outcome"] == "field_issue"}
    assert quarantined and flagged  # the world exercises both paths
    got, issues = {}, {}
    for node in nodes.values():
        with node.open_store() as store:
            for source_file, row, key in store.query("SELECT source_file, source_row, reason_key FROM quarantine"):
                got[(Path(source_file).name, int(row))] = key
            for source_file, row, field, key in store.query(
                    "SELECT source_file, source_row, field, reason_key FROM field_issues"):
                issues[(Path(source_file).name, int(row))] = (field, key)
    assert got == quarantined
    # every flagged row has its issue, on the corrupted field (the generated rows may have other issues too)
    assert {k: issues.get(k, (None, None))[0] for k in flagged} == {k: v[0] for k, v in flagged.items()}


def test_cbp_monthly_totals_by_aor_match_the_real_series(sim: Path, nodes: dict[str, Node]) -> None:
    us = nodes["US"]
    with us.open_store() as store:
        ingest_file(us, store, cbp_file(), get_profile("cbp-seizure-stats"))
        real = {(str(period)[:7], aor): float(lbs) for period, aor, lbs in store.query(
            "SELECT period, aor, SUM(pounds) FROM seizure_aggregate WHERE drug = 'fentanyl' AND pounds > 0 "
            "GROUP BY period, aor")}
        rows = store.query("SELECT date, quantity_kg, extra FROM seizure WHERE source_file = 'cbp_seizures.csv'")
    simulated: dict[tuple[str, str], float] = defaultdict(float)
    for date, kg, extra in rows:
        simulated[(str(date)[:7], json.loads(extra)["Area of Responsibility"])] += float(kg) / 0.45359237
    assert set(simulated) == set(real)
    off = {key: (simulated[key], lbs) for key, lbs in real.items() if abs(simulated[key] - lbs) > 0.10 * lbs}
    assert not off
    # the truth's calibration table says the same
    for row in _truth(sim, "calibration.csv"):
        assert abs(float(row["simulated_pounds"]) - float(row["real_pounds"])) <= 0.10 * float(row["real_pounds"])


def test_every_entity_record_has_a_true_identity(sim: Path, nodes: dict[str, Node]) -> None:
    identities = {(r["file"].split("/")[-1], r["source_id"]): r["entity_id"] for r in _truth(sim, "identities.csv")}
    entities = {r["entity_id"]: r for r in _truth(sim, "entities.csv")}
    for node in nodes.values():
        with node.open_store() as store:
            for kind in ("person", "vehicle", "organization"):
                for source_file, source_id in store.query(f"SELECT source_file, source_id FROM {kind}"):
                    entity = identities[(source_file, source_id)]
                    assert entity in entities or entity.startswith(("P-USX", "P-MXX"))
    # people recur: the organisations' couriers are recorded more than once
    counts: dict[str, int] = defaultdict(int)
    for entity in identities.values():
        counts[entity] += 1
    assert max(counts.values()) >= 3


def test_links_point_at_stored_records(nodes: dict[str, Node]) -> None:
    kinds = ("seizure", "person", "vehicle", "organization", "precursor_shipment", "firearm_trace", "lab_site")
    ids = " UNION ALL ".join(f"SELECT id FROM {k}" for k in kinds)
    for node in nodes.values():
        with node.open_store() as store:
            for end in ("from_id", "to_id"):
                dangling = store.scalar(f"SELECT COUNT(*) FROM link WHERE {end} NOT IN ({ids})")
                assert dangling == 0
            assert store.scalar("SELECT COUNT(*) FROM link") > 100
            assert store.scalar("SELECT COUNT(DISTINCT from_kind) FROM link") >= 4


def test_planted_shifts_show_in_the_truth(sim: Path) -> None:
    """Each planted shift (drawn from the seed, listed in route_shifts.csv) moves the seized loads as it says:
    a port shift raises the port's share of its field office's port seizures from its start; a corridor shift
    opens a corridor that carries no load before its start and its share of its ports' loads after."""
    from puente.simulate.config import Scenario

    aor_ports = Scenario().p["aor_ports"]
    loads = [r for r in _truth(sim, "loads.csv") if r["outcome"] == "seized_port"]
    shifts = _truth(sim, "route_shifts.csv")
    assert {s["type"] for s in shifts} == {"port", "corridor"}
    for shift in shifts:
        start = shift["start_period"]
        before_w, after_w = float(shift["weight_before"]), float(shift["weight_after"])
        if shift["type"] == "port":
            office = next(codes for codes in aor_ports.values() if shift["port"] in codes)
            mine = [r for r in loads if r["port"] in office]
            before = [r["port"] == shift["port"] for r in mine if r["period"] < start]
            after = [r["port"] == shift["port"] for r in mine if r["period"] >= start]
            assert before and after, shift
            assert sum(before) / len(before) < (before_w + after_w) / 2 < sum(after) / len(after), shift
        else:
            assert not any(r["corridor"] == shift["corridor"] for r in loads if r["period"] < start), shift
            flows = [r for r in _truth(sim, "route_flows.csv") if r["period"] >= start]
            ports = {r["port"] for r in flows if r["corridor"] == shift["corridor"]}
            on = sum(int(r["loads"]) for r in flows if r["corridor"] == shift["corridor"])
            total = sum(int(r["loads"]) for r in flows if r["port"] in ports)
            assert on and after_w / 2 < on / total, shift


def test_diverted_shipments_go_to_front_companies_and_labs(sim: Path) -> None:
    entities = {r["entity_id"]: r for r in _truth(sim, "entities.csv")}
    labs = {r["lab_id"]: r for r in _truth(sim, "labs.csv")}
    shipments = _truth(sim, "precursor_shipments.csv")
    diverted = [r for r in shipments if r["diverted"] == "1"]
    assert 0.03 < len(diverted) / len(shipments) < 0.15
    for r in diverted:
        assert entities[r["importer_id"]]["role"] == "front"
        assert labs[r["lab_id"]]["org_id"] == r["org_id"] == entities[r["importer_id"]]["org_id"]
    assert all(entities[r["importer_id"]]["role"] == "importer" for r in shipments if r["diverted"] == "0")


def test_controlled_deliveries_are_one_load_with_the_same_driver(sim: Path, nodes: dict[str, Node]) -> None:
    reports = _truth(sim, "seizure_reports.csv")
    events_by_load: dict[str, set[str]] = defaultdict(set)
    for r in reports:
        events_by_load[r["load_id"]].add(r["event_id"])
    followed = {load for load, events in events_by_load.items() if len(events) == 2}
    assert followed
    identities = {r["source_id"]: r["entity_id"] for r in _truth(sim, "identities.csv")}
    refs_by_load: dict[str, list[str]] = defaultdict(list)
    for r in reports:
        if r["load_id"] in followed and r["second_report"] == "0":
            refs_by_load[r["load_id"]].append(r["source_id"])
    with nodes["US"].open_store() as store:
        rows = store.query("SELECT s.source_id, p.source_id FROM link l JOIN seizure s ON s.id = l.from_id "
                           "JOIN person p ON p.id = l.to_id WHERE l.role IN ('driver', 'arrested')")
    drivers: dict[str, set[str]] = defaultdict(set)
    for seizure_ref, person_ref in rows:
        drivers[seizure_ref].add(identities[person_ref])
    for refs in refs_by_load.values():
        assert len(refs) == 2 and drivers[refs[0]] & drivers[refs[1]]


def test_guns_of_a_multiple_sale_share_dealer_and_day(sim: Path) -> None:
    guns = _truth(sim, "firearms.csv")
    sales: dict[str, list[dict[str, str]]] = defaultdict(list)
    for g in guns:
        assert g["purchase_date"] < g["recovery_date"]
        if g["multiple_sale_id"]:
            sales[g["multiple_sale_id"]].append(g)
    assert sales
    for items in sales.values():
        assert len(items) >= 2
        assert len({(g["ffl_id"], g["purchase_date"], g["purchaser_id"]) for g in items}) == 1
    trafficked = [g for g in guns if g["trafficked"] == "1"]
    assert trafficked and all(g["purchaser_id"] and g["org_id"] for g in trafficked)


def test_each_country_reports_in_its_own_conventions(sim: Path) -> None:
    us = (sim / "us" / "cbp_seizures.csv").read_text(encoding="utf-8").splitlines()
    mx = (sim / "mx" / "aseguramientos.csv").read_text(encoding="utf-8").splitlines()
    assert us[0].startswith("Case number,Date,Place,Agency,Drug")
    assert mx[0].startswith("Número de caso;Fecha;Lugar;Dependencia;Droga")
    us_row = next(csv.reader([us[1]]))
    mx_rows = [next(csv.reader([line], delimiter=";")) for line in mx[1:200]]
    assert int(us_row[1].split("/")[0]) <= 12  # mm/dd/yyyy
    assert all("," not in next(csv.reader([line]))[6] for line in us[1:200])  # pounds with a decimal point
    assert any(int(r[1].split("/")[0]) > 12 for r in mx_rows)  # dd/mm/aaaa: some days above 12
    assert any("," in r[6] for r in mx_rows)  # decimal commas in kilograms
    units = {r[7].lower().rstrip(".") for r in mx_rows}
    assert units <= {"kg", "kilogramos", "pastillas", "piezas", "pzas"} and "lb" not in units


def test_bad_scale_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from puente.cli import main

    assert main(["simulate", "--out", str(tmp_path / "x"), "--scale", "10"]) == 2
    err = capsys.readouterr().err
    assert "scale must be at least 1000" in err and "Traceback" not in err


def test_output_that_is_a_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from puente.cli import main

    target = tmp_path / "file.csv"
    target.write_text("x", encoding="utf-8")
    assert main(["simulate", "--out", str(target), "--scale", "1000"]) == 2
    err = capsys.readouterr().err
    assert "cannot write the simulation" in err and "Traceback" not in err
