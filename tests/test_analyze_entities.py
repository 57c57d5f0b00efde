"""Analytics over resolved entities: the resolution is run when stale, and precursor → lab chains follow it.

The freshness tests run the real entity resolution (Splink on DuckDB) on the small hand-built world; the
chain tests give the store a resolution as `puente link run` writes it (link_runs, link_matches,
link_entities), so that each hop's rule and score are known answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from analyze_world import LEADERS, World
from test_analyze_engines import make_world

from puente.analyze import networks, supply
from puente.analyze.resolution import ensure_resolution, freshness
from puente.cli import main
from puente.engine import open_engine
from puente.node import Node
from puente.store.base import Store


def _new_person(store: Store, rid: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.insert_arrow("person", pa.table({"id": [rid], "owner_node": ["t"], "given_names": ["Nuevo"],
                                           "surname1": ["Registro"], "ingested_at": pa.array([now], pa.timestamp("us"))}))


def _resolve_as_link_run_does(store: Store, kind: str, started: dt.datetime) -> None:
    """link_runs + link_entities as `puente link run` leaves them (every record its own entity)."""
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    store.execute("INSERT INTO link_runs VALUES (?, ?, 'duckdb', ?, ?, 0, 0, 0, 0.9, '{}')",
                  [run_id, kind, started, started])
    store.execute("DELETE FROM link_entities WHERE kind = ?", [kind])
    store.execute(f"INSERT INTO link_entities SELECT ?, id, id, owner_node, ? FROM {kind}", [kind, run_id])


def test_a_resolution_is_stale_when_records_arrived_or_left_after_it(tmp_path: Path) -> None:
    node = make_world(tmp_path / "node")
    with node.open_store() as store:
        never = freshness(store, "person")
        assert never.records and never.run_id is None and never.stale
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)  # the run is the latest event
        for kind in ("person", "organization"):
            _resolve_as_link_run_does(store, kind, started)
        assert not any(freshness(store, k).stale for k in ("person", "organization"))
        assert ensure_resolution(store) == []  # current: nothing to run
        _new_person(store, "t:person:late")  # ingested (or received from a partner) after the run
        late = freshness(store, "person")
        assert late.stale and (late.unresolved, late.gone, late.newer) == (1, 0, 0)
        assert not freshness(store, "organization").stale
        _resolve_as_link_run_does(store, "person", started)
        assert not freshness(store, "person").stale
        store.execute("DELETE FROM person WHERE id = 't:person:late'")  # revoked or purged
        assert freshness(store, "person").gone == 1 and freshness(store, "person").stale
        _resolve_as_link_run_does(store, "person", started)
        store.execute("UPDATE person SET ingested_at = ? WHERE id = ?", [started + dt.timedelta(days=1), LEADERS[0]])
        assert freshness(store, "person").newer == 1 and freshness(store, "person").stale  # re-imported in place


@pytest.mark.slow
def test_analyze_runs_the_real_resolution_when_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.analytics_truth import build_node

    node = build_node(tmp_path, seed=7, scale=1000)
    args = ["--home", str(node.home), "analyze", "networks", "--out"]
    assert main([*args, str(tmp_path / "a"), "--link", "never"]) in (0, None)
    with node.open_store() as store:
        assert freshness(store, "person").run_id is None
    main([*args, str(tmp_path / "b")])
    with node.open_store() as store:
        assert not freshness(store, "person").stale and not freshness(store, "organization").stale
        first = freshness(store, "person").run_id
        _new_person(store, "both:person:late")
    assert "never run" in capsys.readouterr().out
    main([*args, str(tmp_path / "c")])
    with node.open_store() as store:
        assert freshness(store, "person").run_id != first and not freshness(store, "person").stale
        assert store.scalar("SELECT COUNT(*) FROM link_entities WHERE record_id = 'both:person:late'") == 1
    assert "1 records not resolved" in capsys.readouterr().out
    assert main([*args, str(tmp_path / "d"), "--link", "sometimes"]) == 2


def test_leaders_rank_first_on_the_organisation_structure(tmp_path: Path) -> None:
    node = make_world(tmp_path / "node")
    with open_engine("duckdb", node.store_url) as engine:
        players = networks.build_network(engine).nodes.set_index("entity")
    assert sorted(players.loc[LEADERS, "rank_structure"]) == [1, 2]
    assert (players.loc[LEADERS, "rank"] <= 3).all()
    # a courier ties no people or organisations together: not ranked on the structure
    couriers = players[players.index.str.startswith("person-courier")]
    assert couriers["rank_structure"].isna().all() and couriers["rank_operations"].notna().all()


def test_a_legitimate_importer_with_many_owners_does_not_outrank_a_lieutenant(tmp_path: Path) -> None:
    """A chemical importer with many declarations, some seized or inspected, and the owner ties of a company
    entity that resolution merged from similarly named firms (the organisation's front among them, so the
    leader is one of its "owners"): it bridges more people on the structure than a lieutenant with two ties
    does, and was ranked above him (seed 6323: 9 such importers in the top 50). Only people are ranked on the
    structure now; the lieutenant stays above the importer and the leader first."""
    w = World()
    w.add("person", "person-boss", given_names="Jefe", surname1="Uno")
    w.add("person", "person-lt", given_names="Teniente", surname1="Dos")
    w.add("person", "person-member", given_names="Miembro", surname1="Tres")
    w.link("person", "person-lt", "person", "person-boss", "associate")
    w.link("person", "person-member", "person", "person-lt", "member")
    for i in range(3):
        w.add("person", f"person-aide-{i}", given_names=f"Ayudante{i}", surname1="Cuatro")
        w.link("person", f"person-aide-{i}", "person", "person-boss", "associate")
    w.add("organization", "org-importer", name="Suministros Reactivos Noroeste SA de CV", country="MX")
    w.add("organization", "org-exporter", name="Shanghai Fine Chemicals Co", country="CN")
    w.link("organization", "org-importer", "person", "person-boss", "owner")
    for i in range(6):  # the registered owners of the firms merged into the entity
        w.add("person", f"person-owner-{i}", given_names=f"Dueño{i}", surname1="Cinco")
        w.link("organization", "org-importer", "person", f"person-owner-{i}", "owner")
    for i in range(40):  # high-volume trade: 40 declarations, one in four seized or inspected
        w.add("precursor_shipment", f"ps-{i}", chemical="npp", quantity_kg=20.0, arrival_date=dt.date(2021, 1 + i % 12, 5),
              status=["cleared", "cleared", "seized", "inspected"][i % 4])
        w.link("precursor_shipment", f"ps-{i}", "organization", "org-importer", "importer")
        w.link("precursor_shipment", f"ps-{i}", "organization", "org-exporter", "exporter")
    for i in range(29):  # a line of couriers, each seizure shared by two: the operations layer's brokers
        w.add("person", f"person-courier-{i}", given_names=f"Correo{i}", surname1="Seis")
    for i in range(28):
        w.add("seizure", f"sz-{i}", date=dt.date(2021, 1 + i % 12, 9), country="MX")
        w.link("seizure", f"sz-{i}", "person", f"person-courier-{i}", "courier")
        w.link("seizure", f"sz-{i}", "person", f"person-courier-{i + 1}", "courier")
    node = Node.init(tmp_path / "node", "t", "US")
    with node.open_store() as store:
        w.write(store)
    with open_engine("duckdb", node.store_url) as engine:
        players = networks.build_network(engine).nodes.set_index("entity")
    # the importer does bridge more of the recorded structure than the lieutenant ...
    assert players.loc["org-importer", "structure"] > players.loc["person-lt", "structure"] > 0
    # ... but a company is not ranked on it: the lieutenant, with two ties, ranks above the importer
    assert pd.isna(players.loc["org-importer", "rank_structure"])
    assert players.loc["person-boss", "rank_structure"] == 1 and players.loc["person-lt", "rank_structure"] == 2
    assert players.loc["person-lt", "rank"] < players.loc["org-importer", "rank"]
    assert players.loc["person-boss", "rank"] <= 2


def _chain_world(tmp_path: Path, resolved: bool) -> Node:
    """A customs declaration names its copy of a company; the company register names another copy and its
    owner; the owner, under another spelling, is arrested at a lab dismantled in June 2021."""
    node = Node.init(tmp_path / ("er" if resolved else "plain"), "t", "MX")
    w = World()
    w.add("organization", "org-customs", name="Quimica del Pacifico", country="MX")
    w.add("organization", "org-register", name="Química del Pacífico SA de CV", country="MX")
    w.add("person", "p-owner", given_names="Juan", surname1="Pérez", surname2="López")
    w.add("person", "p-arrested", given_names="Juan", surname1="Perez", surname2="Lopes")
    w.add("person", "p-other", given_names="Ana", surname1="Ruiz")
    w.link("organization", "org-register", "person", "p-owner", "owner")
    w.add("lab_site", "lab-1", source_id="SEDENA/LAB/2021/000001", date_found=dt.date(2021, 6, 10),
          chemicals="npp;4-ap")
    w.link("lab_site", "lab-1", "person", "p-arrested", "arrested")
    w.link("lab_site", "lab-1", "person", "p-other", "operator")
    for sid, chem, day in [("ps-fed", "npp", dt.date(2021, 3, 1)), ("ps-late", "npp", dt.date(2021, 7, 1)),
                           ("ps-other-chemical", "piperidine", dt.date(2021, 3, 1))]:
        w.add("precursor_shipment", sid, source_id=sid.upper(), chemical=chem, quantity_kg=50.0,
              importer="Quimica del Pacifico", arrival_date=day)
        w.link("precursor_shipment", sid, "organization", "org-customs", "importer")
    with node.open_store() as store:
        w.write(store)
        if resolved:
            now = dt.datetime(2022, 1, 1)
            for kind, members, pairs in [("organization", ["org-customs", "org-register"], []),
                                         ("person", ["p-owner", "p-arrested"], [("p-arrested", "p-owner", 0.97)])]:
                store.execute("INSERT INTO link_runs VALUES (?, ?, 'duckdb', ?, ?, 2, 1, 1, 0.9, '{}')",
                              [f"run-{kind}", kind, now, now])
                for rec in members:
                    store.execute("INSERT INTO link_entities VALUES (?, ?, ?, 't', ?)",
                                  [kind, rec, members[0], f"run-{kind}"])
                for a, b, p in pairs:
                    store.execute("INSERT INTO link_matches VALUES (?, ?, ?, 5.0, ?, '[]', ?)",
                                  [kind, a, b, p, f"run-{kind}"])
    return node


def test_precursor_chain_follows_the_resolved_owner_to_the_lab(tmp_path: Path) -> None:
    node = _chain_world(tmp_path, resolved=True)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine)
    # the late shipment arrived after the lab was dismantled; the lab never held piperidine
    assert list(chains["shipment"]) == ["ps-fed"]
    row = chains.iloc[0]
    assert (row["lab"], row["lab_ref"], row["lab_role"]) == ("lab-1", "SEDENA/LAB/2021/000001", "arrested")
    assert (row["company"], row["company_record"], row["owner_company_record"]) == (
        "org-customs", "org-customs", "org-register")
    assert (row["company_rule"], row["relation"], row["relation_link"]) == ("transitive", "owner", "link-0")
    assert (row["owner_record"], row["lab_person_record"], row["person_rule"]) == (
        "p-owner", "p-arrested", "entity_resolution")
    assert row["person_score"] == pytest.approx(0.97) and row["score"] == pytest.approx(0.9 * 0.97)
    assert row["chemical_match"] and row["days"] == 101 and row["paths"] == 1
    # no paper at the lab cites the company: a lead (precursors_chain_leads), not a documented chain
    assert row["hop"] == "owner_arrested" and not row["documented"]


def test_without_resolution_no_chain_crosses_two_records(tmp_path: Path) -> None:
    node = _chain_world(tmp_path, resolved=False)
    with open_engine("duckdb", node.store_url) as engine:
        assert supply.precursor_lab_chains(engine).empty


def test_a_several_month_window_adds_up_a_shift_spread_thin() -> None:
    from puente.analyze.shifts import SHIFT_WINDOW, route_shifts

    months = pd.date_range("2021-01-01", periods=8, freq="MS")
    rows = [{"destination": d, "period": m, "loads": 40} for d in ("Phoenix", "Los Angeles") for m in months]
    rows += [{"destination": "Memphis", "period": m, "loads": 4 if i >= 5 else 0} for i, m in enumerate(months)]
    counts = pd.DataFrame(rows)
    one = route_shifts(counts, ["destination"])
    two = route_shifts(counts, ["destination"], window=SHIFT_WINDOW)
    assert not one["shift"].any()  # 4 loads a month: never enough in one month
    flagged = two[two["shift"]]
    # found within 2 months of its start (months[5]), on the loads of the window's months only
    first = flagged.iloc[0]
    assert set(flagged["destination"]) == {"Memphis"} and months[5] < first["period"] <= months[7]
    assert first["count"] == 4 * (months.get_loc(first["period"]) - 4) and first["baseline"] == 0


def _digest(node: Node, out: Path) -> dict[str, object]:
    import json

    args = ["--home", str(node.home), "analyze", "corridors", "--link", "never", "--out", str(out)]
    assert main(args) in (0, None)
    args[3] = "networks"
    assert main(args) in (0, None)
    return dict(json.loads((out / "digest.json").read_text(encoding="utf-8")))


def test_two_nodes_with_the_same_records_write_the_same_digest(tmp_path: Path) -> None:
    one, two = make_world(tmp_path / "one"), make_world(tmp_path / "two")
    d1, d2 = _digest(one, tmp_path / "a1"), _digest(two, tmp_path / "a2")
    assert d1["inputs_sha256"] == d2["inputs_sha256"] and d1["results_sha256"] == d2["results_sha256"]
    assert set(d1["results"]) == {"networks_players", "networks_edges"}  # type: ignore[arg-type]
    with two.open_store() as store:  # one record re-ingested with other content on one side
        store.execute("UPDATE person SET content_hash = 'changed', given_names = 'Otro' WHERE id = ?", [LEADERS[0]])
    d3 = _digest(two, tmp_path / "a3")
    assert d3["inputs_sha256"] != d1["inputs_sha256"]
    assert d3["inputs"]["person"] != d1["inputs"]["person"]  # type: ignore[index]
    assert d3["inputs"]["seizure"] == d1["inputs"]["seizure"]  # type: ignore[index]
    assert d3["results"]["networks_players"] != d1["results"]["networks_players"]  # type: ignore[index]


def test_analytics_that_read_partner_records_are_audited_for_every_table(tmp_path: Path) -> None:
    node = make_world(tmp_path / "node")
    with node.open_store() as store:  # records received from the partner node "mx"
        store.execute("UPDATE person SET owner_node = 'mx' WHERE id = ?", [LEADERS[1]])
        store.execute("UPDATE seizure SET owner_node = 'mx' WHERE id IN (SELECT id FROM seizure LIMIT 3)")
    _digest(node, tmp_path / "out")
    with node.open_store() as store:
        reasons = [r[0] for r in store.query("SELECT reason FROM audit_log WHERE action = 'analyze' ORDER BY idx")]
        person = store.query("SELECT COUNT(*) FROM audit_records r JOIN audit_log l ON l.idx = r.idx "
                             "WHERE l.action = 'analyze' AND r.record_id = ?", [LEADERS[1]])[0][0]
    assert any("analysis networks" in r and "person" in r for r in reasons)
    assert any("analysis corridors" in r and "3 partner seizure" in r for r in reasons)
    assert person >= 1
