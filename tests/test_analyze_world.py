"""Known answers on the hand-built world (DuckDB; the other engines are compared in test_analyze_engines)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from analyze_world import CORRIDORS, LEADERS
from test_analyze_engines import make_world

from bench.analytics_truth import roc_auc
from puente.analyze import alerts, corridors, firearms, hotspots, networks, precursors, shifts
from puente.analyze.common import haversine_km
from puente.cli import main
from puente.engine import Engine, open_engine
from puente.node import Node


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Node:
    return make_world(tmp_path_factory.mktemp("world") / "node")


@pytest.fixture(scope="module")
def engine(world: Node) -> Iterator[Engine]:
    with open_engine("duckdb", world.store_url) as e:
        yield e


@pytest.fixture(scope="module")
def flows(engine: Engine) -> pd.DataFrame:
    return corridors.corridor_flows(engine)


def test_top_corridors_are_the_planted_ones(flows: pd.DataFrame) -> None:
    top = corridors.top_corridors(flows, 10)
    found = set(zip(top.crossing, top.destination))
    assert {("San Ysidro", "Los Angeles, California"), ("Nogales DeConcini", "Phoenix, Arizona"),
            ("El Paso", "Denver, Colorado")} <= found
    assert top.iloc[0].origin == "Tijuana, Baja California"  # the heaviest corridor (8 loads a month)
    assert (flows.kg >= 0).all() and (flows.loads <= flows.events).all()


def test_every_seizure_is_counted_once(engine: Engine, flows: pd.DataFrame) -> None:
    total = engine.run(engine.table("seizure").count().as_table()).iloc[0, 0]
    assert flows.events.sum() == total


def test_new_corridor_is_a_route_shift_in_its_first_month(flows: pd.DataFrame) -> None:
    found = shifts.route_shifts(flows, ["crossing"])
    first = found[found["first"]]
    assert list(first.crossing) == ["El Paso"]
    assert first.iloc[0].period == pd.Timestamp(CORRIDORS["C"][4])
    assert first.iloc[0]["new"] and first.iloc[0].q_value < 0.01


def test_port_shares_sum_to_one(engine: Engine) -> None:
    shares = corridors.port_shares(engine)
    assert shares.groupby("period").event_share.sum().round(9).eq(1).all()
    assert set(shares.port) == {"San Ysidro", "Nogales DeConcini", "El Paso"}


def test_hotspot_totals_are_kept_at_every_resolution(engine: Engine) -> None:
    cells = hotspots.hotspots(engine, (5, 6, 7), ("seizure",), permutations=199)
    totals = cells.groupby("resolution").events.sum()
    assert totals.nunique() == 1 and totals.iloc[0] > 300
    # Gi* finds clusters: in this world each city is one busy cell among empty ones, so none is a hot spot at
    # resolution 6 (an earlier version called them hot from a permutation p that disagreed with its own z)
    assert ((cells.hotspot == "hot") == ((cells.p_value < 0.05) & (cells.gi_z > 0))).all()
    assert (cells.events > 0).all() and cells.place.notna().all()
    geo = hotspots.to_geojson(cells[cells.resolution == 6])
    assert geo["features"][0]["geometry"]["type"] == "Polygon"


def test_lab_cluster_in_sonora_alerts_arizona(engine: Engine) -> None:
    found = alerts.spike_alerts(engine, ("lab_site",))
    alert = found["alerts"]
    assert list(alert.name) == ["Hermosillo"] and alert.iloc[0]["count"] == 3
    assert sorted(found["evidence"].id) == ["lab-0", "lab-2", "lab-3"]
    assert "Arizona" in set(found["neighbours"].area)


def test_alert_rules_are_configurable(engine: Engine) -> None:
    strict = alerts.spike_alerts(engine, ("lab_site",), rules=alerts.AlertRules(min_count=4))
    assert strict["alerts"].empty


def test_diverted_shipments_score_highest(engine: Engine) -> None:
    risk = precursors.diversion_risk(engine)
    diverted = risk.id.str.slice(3).astype(int) >= 48
    assert roc_auc(diverted, risk.risk) == 1.0
    assert risk[diverted].reasons.str.contains("lab_link").all()
    assert not risk[~diverted].reasons.str.contains("lab_link").any()


def test_lab_regions_find_the_sonora_cluster(engine: Engine) -> None:
    regions = precursors.lab_regions(engine)
    top = regions.iloc[0]
    assert haversine_km(top.lat, top.lon, 29.0749, -110.9585) < 50  # Hermosillo


def test_firearm_patterns(engine: Engine) -> None:
    sales = firearms.multiple_sales(engine)
    # 30 same-day pairs, one of them split over two dealers: not a multiple sale (ATF: one dealer)
    assert len(sales) == 29 and (sales.guns == 2).all() and sales.dealer_ffl.notna().all()
    buyers = firearms.purchasers(engine, min_traces=2)
    assert len(buyers) == 5 and (buyers.traces == 12).all()
    flows = firearms.state_flows(engine)
    assert flows.set_index(["purchase_state", "recovery_state"]).traces.to_dict()[("AZ", "Sonora")] == 20
    ttc = firearms.time_to_crime(engine)
    assert ttc[~ttc.bucket.str.startswith("q")].traces.sum() == 60


def test_leader_is_the_top_broker_and_paths_name_events(engine: Engine) -> None:
    net = networks.build_network(engine)
    assert net.nodes.iloc[0].entity in LEADERS
    hops = networks.path(net, "person-courier-0", "person-courier-2")
    assert len(hops) >= 1 and hops.via.str.len().gt(0).all()


def test_cli_writes_tables_geojson_charts_and_html(world: Node, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["--home", str(world.home), "analyze", "hotspots", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"hotspots_cells.csv", "hotspots_cells.parquet", "hotspots_cells.geojson", "hotspots_gi.png",
            "hotspots.html"} <= names


def test_cli_rejects_unknown_analysis_and_engine(world: Node, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(world.home), "analyze", "nonsense"]) == 2
    assert main(["--home", str(world.home), "analyze", "cbp", "--engine", "oracle"]) == 2
    assert main(["--home", str(world.home), "analyze", "cbp", "--engine", "postgres"]) == 2
    err = capsys.readouterr().err
    assert "unknown analysis 'nonsense'" in err and "unknown engine 'oracle'" in err and "Traceback" not in err


def test_reported_destination_ends_a_corridor_unless_the_load_was_followed(flows: pd.DataFrame) -> None:
    # Port seizures state a destination (analyze_world: three loads in four); the followed ones also state a
    # false one ("Chicago"): the place where a followed load was seized wins over what the driver said.
    said = flows[flows["reported"] > 0]
    assert said["loads"].sum() > 50 and (said["reported"] <= said["loads"]).all()
    assert set(said["destination"]) == {"Los Angeles, California", "Phoenix, Arizona", "Denver, Colorado"}
    assert not flows["destination"].str.startswith("Chicago").any()
    pairs = corridors.port_destinations(flows, 3)
    assert set(zip(pairs.crossing, pairs.destination)) == {
        ("San Ysidro", "Los Angeles, California"), ("Nogales DeConcini", "Phoenix, Arizona"),
        ("El Paso", "Denver, Colorado")}
    assert (pairs["followed"] > 0).all() and (pairs["reported"] > 0).all()
