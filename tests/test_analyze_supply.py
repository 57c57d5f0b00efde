"""Precursor → lab chains from what a raid records: pedimento numbers on drums and papers at the lab.

A hand-built world: front "Química Delta" imports four shipments and a legitimate firm two; the lab dismantled
in June 2021 lists, in its evidence, one declaration of Delta as written by hand (dashes), another with a
slip (two digits swapped), and the number of the legitimate firm's shipment with a slip that matches no
shipment of a company tied to the lab. Each hop is a known answer.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analyze_world import World

from puente.analyze import papers, precursors, supply
from puente.engine import open_engine
from puente.node import Node


def test_pedimento_numbers_are_read_however_they_are_written() -> None:
    assert papers.pedimento_key("21 MZO 3000 0012345") == "21MZO30000012345"
    assert papers.pedimento_key("copia de pedimento 21-MZO-3000-0012345 (NPP)") == "21MZO30000012345"
    assert papers.pedimento_key("etiqueta pedimento 21mzo30000012345") == "21MZO30000012345"
    assert papers.pedimento_key("guía de embarque 6191084808") is None  # a waybill is not a declaration
    items = papers.citations("factura A-1234; tambo de 200 l de Anhídrido propiónico con etiqueta de pedimento "
                             "21 LZC 3000 0000077; bidón de 1-boc-4-piperidona, pedimento núm. 22-MEX-3000-0000078")
    assert [(k, c) for _, k, c in items] == [("21LZC30000000077", "propionic_anhydride"),
                                             ("22MEX30000000078", "1-boc-4-piperidone")]


def test_one_slip_is_a_changed_digit_or_two_swapped() -> None:
    near = papers.slips("21MZO30000012345")
    assert "21MZO30000012346" in near and "21MZO30000013245" in near  # changed; swapped
    assert "21MZO30000012345" not in near and "21LZC30000012345" not in near  # itself; another customs office
    assert "21MZO30000054321" not in near


def _world(tmp_path: Path) -> Node:
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    w.add("organization", "org-delta", name="Química Delta SA de CV", country="MX", tax_id="QDE190312AB1")
    w.add("organization", "org-legit", name="Farmacéutica Norte SA de CV", country="MX", tax_id="FNO950101XY2")
    ships = [("ps-cited", "21 MZO 3000 0001001", "npp", dt.date(2021, 1, 10), "org-delta"),
             ("ps-slip", "21 MZO 3000 0001020", "4-ap", dt.date(2021, 2, 10), "org-delta"),
             ("ps-same", "21 MZO 3000 0001050", "npp", dt.date(2021, 3, 10), "org-delta"),
             ("ps-late", "21 MZO 3000 0001300", "npp", dt.date(2021, 8, 10), "org-delta"),
             ("ps-legit", "21 MZO 3000 0001021", "4-ap", dt.date(2021, 2, 11), "org-legit"),
             ("ps-legit2", "21 MZO 3000 0001099", "npp", dt.date(2021, 4, 1), "org-legit"),
             ("ps-legit3", "21 MZO 3000 0007700", "4-ap", dt.date(2021, 3, 1), "org-legit")]
    for sid, ref, chem, day, company in ships:
        w.add("precursor_shipment", sid, source_id=ref, chemical=chem, quantity_kg=80.0, arrival_date=day)
        w.link("precursor_shipment", sid, "organization", company, "importer")
    w.add("lab_site", "lab-1", source_id="SEDENA/LAB/2021/000001", date_found=dt.date(2021, 6, 10),
          chemicals="npp;4-ap", evidence="copia de pedimento 21-MZO-3000-0001001 (NPP); factura F-2231; "
                                        "etiqueta 4-AP pedimento 21 MZO 3000 0001002; "  # ...1020 with 0 and 2 swapped
                                        # a misread number that lands on the legitimate firm's 4-AP declaration
                                        "etiqueta NPP pedimento 21 MZO 3000 0007700")
    w.add("lab_site", "lab-2", source_id="SEDENA/LAB/2021/000002", date_found=dt.date(2021, 7, 1),
          chemicals="npp", evidence="recibos de renta")
    with node.open_store() as store:
        w.write(store)
    return node


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    node = _world(tmp_path_factory.mktemp("supply"))
    with open_engine("duckdb", node.store_url) as engine:
        return supply.precursor_lab_chains(engine).set_index("shipment")


def test_the_lab_papers_cite_declarations_exactly_and_with_a_slip(chains: pd.DataFrame) -> None:
    cited = chains.loc["ps-cited"]
    assert (cited["hop"], cited["lab_ref"], cited["score"]) == ("document", "SEDENA/LAB/2021/000001", 1.0)
    assert cited["evidence"] == "copia de pedimento 21-MZO-3000-0001001 (NPP)"
    slip = chains.loc["ps-slip"]
    assert (slip["hop"], slip["lab"], slip["score"]) == ("document_slip", "lab-1", 0.9)
    # the legitimate firm's 21 MZO 3000 0001021 is one slip from ...1002 too, but nothing ties its importer to
    # the lab (and the label names 4-AP, which both carry): the slip is read as the tied company's declaration
    assert "ps-legit" not in chains.index and "ps-legit2" not in chains.index
    # the label names NPP and the declaration with that number carries 4-AP: a misread, not that declaration
    assert "ps-legit3" not in chains.index


def test_other_shipments_of_a_cited_company_go_to_its_lab_until_the_raid(chains: pd.DataFrame) -> None:
    same = chains.loc["ps-same"]
    assert (same["hop"], same["lab"], same["company"]) == ("same_company", "lab-1", "org-delta")
    assert same["anchor_ref"] == "21 MZO 3000 0001020" and same["support"] == 2 and same["days"] == 92
    assert "ps-late" not in chains.index  # arrived after lab-1 was dismantled, and lab-2 cites nothing of Delta
    assert sorted(chains.index) == ["ps-cited", "ps-same", "ps-slip"]
    assert chains["documented"].all()  # every one of them rests on the lab's papers


def test_a_cited_importer_raises_the_diversion_risk(tmp_path: Path) -> None:
    node = _world(tmp_path)
    with open_engine("duckdb", node.store_url) as engine:
        risk = precursors.diversion_risk(engine).set_index("id")
    assert risk.loc[["ps-cited", "ps-slip", "ps-same", "ps-late"], "lab_link"].eq(1).all()
    assert risk.loc[["ps-legit", "ps-legit2", "ps-legit3"], "lab_link"].eq(0).all()
    assert set(precursors.FEATURES) <= set(risk.columns)
    # the score is the weighted sum of the features with the weights fitted on this node (written beside it): no
    # hidden term a removed feature would leave behind
    with open_engine("duckdb", node.store_url) as engine:
        _, weights = precursors.diversion(engine)
    total = sum(w * risk[f].astype(float) for f, w in zip(weights["feature"], weights["weight"]))
    assert (risk["score"] - total).abs().max() < 1e-9


def _write_shipments(w: World, node: Node, ships: list[tuple[str, str, dt.date, str]]) -> None:
    """Each (shipment, chemical, arrival, importer) as a declaration of its own number, then the whole world stored."""
    for i, (sid, chem, day, company) in enumerate(ships):
        w.add("precursor_shipment", sid, source_id=f"21 MZO 3000 {i + 1:07d}", chemical=chem, quantity_kg=80.0,
              arrival_date=day)
        w.link("precursor_shipment", sid, "organization", company, "importer")
    with node.open_store() as store:
        w.write(store)


def _owner_world(tmp_path: Path) -> Node:
    """A front's owner is detained at two labs: one that kept no papers and lists what the front sent (npp,
    4-AP), and one whose papers cite other firms' declarations only. A second firm's owner is detained at the
    paperless lab too, but that lab lists one of the four chemicals it sent."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    w.add("organization", "org-front", name="Insumos Delta SA de CV", country="MX")
    w.add("organization", "org-other", name="Comercial Omega SA de CV", country="MX")
    w.add("person", "p-owner", given_names="Juan", surname1="Pérez")
    w.add("person", "p-other", given_names="Luis", surname1="Soto")
    w.link("organization", "org-front", "person", "p-owner", "owner")
    w.link("organization", "org-other", "person", "p-other", "owner")
    w.add("lab_site", "lab-quiet", source_id="SEDENA/LAB/2021/000010", date_found=dt.date(2021, 9, 1),
          chemicals="npp;4-ap", evidence="recibos de renta")
    w.add("lab_site", "lab-papers", source_id="SEDENA/LAB/2021/000011", date_found=dt.date(2021, 10, 1),
          chemicals="npp;4-ap", evidence="copia de pedimento 21 MZO 3000 0009999 (NPP)")
    for lab in ("lab-quiet", "lab-papers"):
        w.link("lab_site", lab, "person", "p-owner", "arrested")
    w.link("lab_site", "lab-quiet", "person", "p-other", "arrested")
    ships = [("ps-1", "npp", dt.date(2021, 1, 5), "org-front"), ("ps-2", "4-ap", dt.date(2021, 3, 5), "org-front"),
             ("ps-3", "npp", dt.date(2021, 5, 5), "org-front"),
             ("ps-o1", "npp", dt.date(2021, 2, 5), "org-other"), ("ps-o2", "piperidine", dt.date(2021, 3, 5), "org-other"),
             ("ps-o3", "anpp", dt.date(2021, 4, 5), "org-other"), ("ps-o4", "norfentanyl", dt.date(2021, 5, 5), "org-other")]
    _write_shipments(w, node, ships)
    return node


def test_an_owner_detained_at_a_lab_without_papers_that_lists_what_the_firm_sent_is_a_chain(tmp_path: Path) -> None:
    node = _owner_world(tmp_path)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
    front = chains.loc[["ps-1", "ps-2", "ps-3"]]
    assert (front["lab"] == "lab-quiet").all() and front["confident"].all() and not front["documented"].any()
    assert (front["hop"] == "owner_arrested").all() and (front["coverage"] == 1.0).all()
    assert not front["lab_papers"].any()
    # the other firm sent four chemicals and the lab lists one of them: a lead (coverage 1/4), not a chain
    other = chains.loc["ps-o1"]
    assert other["lab"] == "lab-quiet" and other["coverage"] == 0.25 and not other["confident"]
    # no chain ends at the lab whose papers cite other firms only, though the front's owner was detained there
    assert "lab-papers" not in set(chains["lab"])


def test_the_diversion_features_read_the_importers_habit(tmp_path: Path) -> None:
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    for company in ("org-habit", "org-once"):
        w.add("organization", company, name=company, country="MX")
    for i in range(8):
        company = "org-habit" if i < 4 else "org-once"
        pen = None if (company == "org-habit" or i == 4) else f"PEN-{i}"
        w.add("precursor_shipment", f"ps-{i}", source_id=f"21 MZO 3000 {i + 1:07d}", chemical="npp", quantity_kg=80.0,
              arrival_date=dt.date(2021, 1, 1 + i), pen_reference=pen, importer=company)
        w.link("precursor_shipment", f"ps-{i}", "organization", company, "importer")
    with node.open_store() as store:
        w.write(store)
    with open_engine("duckdb", node.store_url) as engine:
        risk = precursors.diversion_risk(engine).set_index("id")
    # both shipments lack a PEN; the firm that never files one weighs more than the one that forgot once
    assert risk.loc["ps-0", "no_pen_shipment"] == risk.loc["ps-4", "no_pen_shipment"] == 1
    assert risk.loc["ps-0", "no_pen"] > risk.loc["ps-4", "no_pen"] > risk.loc["ps-5", "no_pen"] > 0
    assert "no_pen" in risk.loc["ps-4", "reasons"] and "no_pen" not in risk.loc["ps-5", "reasons"]


def test_two_citations_among_a_large_firms_many_declarations_do_not_tie_the_firm(tmp_path: Path) -> None:
    """Misread numbers that name the right chemical land on two of a large firm's 60 declarations: the two
    citations are written as documents, but the firm is not tied to the lab (2 of 60 declarations, under 10% of
    what it received up to the raid, under 5% of all), so neither its other shipments nor its risk follow; a
    front with two of its three declarations cited is tied."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    w.add("organization", "org-big", name="Química Grande SA de CV", country="MX")
    w.add("organization", "org-front", name="Insumos Delta SA de CV", country="MX")
    ships = [(f"ps-big{i}", "org-big", dt.date(2021, 1, 1) + dt.timedelta(days=3 * i)) for i in range(60)]
    ships += [(f"ps-front{i}", "org-front", dt.date(2021, 1, 5) + dt.timedelta(days=30 * i)) for i in range(3)]
    for i, (sid, company, day) in enumerate(ships):
        w.add("precursor_shipment", sid, source_id=f"21 MZO 3000 {i + 1:07d}", chemical="npp", quantity_kg=80.0,
              arrival_date=day, importer=company, status="seized" if sid in ("ps-big0", "ps-front0") else "liberado")
        w.link("precursor_shipment", sid, "organization", company, "importer")
    w.add("lab_site", "lab-1", source_id="SEDENA/LAB/2021/000001", date_found=dt.date(2021, 9, 1), chemicals="npp",
          evidence="copia de pedimento 21 MZO 3000 0000001 (NPP); etiqueta NPP pedimento 21 MZO 3000 0000002; "
                   "copia de pedimento 21 MZO 3000 0000061 (NPP); etiqueta NPP pedimento 21 MZO 3000 0000062")
    with node.open_store() as store:
        w.write(store)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
        risk = precursors.diversion_risk(engine).set_index("id")
    assert chains.loc[["ps-big0", "ps-big1"], "hop"].eq("document").all()
    assert sorted(s for s in chains.index if s.startswith("ps-big")) == ["ps-big0", "ps-big1"]
    assert chains.loc["ps-front2", "hop"] == "same_company"
    assert risk.loc[[f"ps-big{i}" for i in range(60)], "lab_link"].eq(0).all()
    assert risk.loc[[f"ps-front{i}" for i in range(3)], "lab_link"].eq(1).all()
    # seized reads the shipment and its importer's share of seized declarations: one of the large firm's 60
    # weighs little on the others; the front with one of three seized weighs more
    assert risk.loc["ps-big0", "seized"] > risk.loc["ps-front1", "seized"] > risk.loc["ps-big1", "seized"] > 0
    assert "seized" in risk.loc["ps-big0", "reasons"] and "seized" not in risk.loc["ps-big1", "reasons"]


def _organisation_world(tmp_path: Path, unlisted: bool = False) -> Node:
    """Two fronts of one organisation, both recorded (as in an investigation) as owned by its leader: Delta's
    registered owner is its lieutenant, detained at a lab that kept no papers; Omega is registered to a front man
    who never goes near a lab. A third firm, with its own owner and no tie to the organisation, imports the same
    chemical in the same weeks; a lab with papers (citing only another number) was raided in the same month."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    for org, name in (("org-delta", "Insumos Delta SA de CV"), ("org-omega", "Comercial Omega SA de CV"),
                      ("org-legit", "Farmacéutica Norte SA de CV")):
        w.add("organization", org, name=name, country="MX")
    for person, given, surname in (("p-leader", "Ramón", "Ibarra"), ("p-lt", "Juan", "Pérez"),
                                   ("p-frontman", "Pedro", "Luna"), ("p-legit", "Ana", "Ruiz")):
        w.add("person", person, given_names=given, surname1=surname)
    w.link("organization", "org-delta", "person", "p-lt", "owner")
    w.link("organization", "org-omega", "person", "p-frontman", "owner")
    w.link("organization", "org-legit", "person", "p-legit", "owner")
    for org in ("org-delta", "org-omega"):  # the investigation's record of the organisation's fronts
        w.link("organization", org, "person", "p-leader", "owner")
    w.link("person", "p-lt", "person", "p-leader", "associate")
    w.add("lab_site", "lab-quiet", source_id="SEDENA/LAB/2021/000010", date_found=dt.date(2021, 9, 1),
          chemicals="npp;4-ap", evidence="recibos de renta")
    w.add("lab_site", "lab-papers", source_id="SEDENA/LAB/2021/000011", date_found=dt.date(2021, 9, 15),
          chemicals="npp;4-ap", evidence="copia de pedimento 21 MZO 3000 0009999 (NPP)")
    w.link("lab_site", "lab-quiet", "person", "p-lt", "arrested")
    ships = [("ps-d1", "npp", dt.date(2021, 3, 1), "org-delta"), ("ps-d2", "4-ap", dt.date(2021, 4, 1), "org-delta"),
             ("ps-o1", "npp", dt.date(2021, 3, 20), "org-omega"),
             ("ps-o2", "4-ap", dt.date(2021, 4, 15), "org-omega"),
             ("ps-o3", "npp", dt.date(2021, 8, 1), "org-omega"),  # four months after Delta's last: too far
             ("ps-l1", "npp", dt.date(2021, 3, 20), "org-legit")]
    if unlisted:  # Delta also sent four more drums, one of a chemical the lab does not list (coverage 5/6)
        ships += [(f"ps-d{i}", "anpp" if i == 3 else "npp", dt.date(2021, 1, 2 * i), "org-delta") for i in range(3, 7)]
        # and the trade around it carries chemicals the lab does not list: 5/6 is better than chance (9 of 14)
        ships += [(f"ps-l{i}", chem, dt.date(2021, 2, i), "org-legit")
                  for i, chem in enumerate(("anpp", "propionic_anhydride", "1-boc-4-piperidone", "anpp"), start=2)]
    _write_shipments(w, node, ships)
    return node


def test_a_front_with_no_chain_of_its_own_goes_to_its_organisations_paperless_lab(tmp_path: Path) -> None:
    node = _organisation_world(tmp_path)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
    delta = chains.loc[["ps-d1", "ps-d2"]]
    assert (delta["hop"] == "owner_arrested").all() and delta["confident"].all() and (delta["lab"] == "lab-quiet").all()
    omega = chains.loc[["ps-o1", "ps-o2"]]
    assert (omega["hop"] == "organisation").all() and (omega["lab"] == "lab-quiet").all()
    assert omega["confident"].all() and not omega["documented"].any()
    assert (omega["score"] < delta["score"].min()).all()
    # the evidence: which confident chain, and the recorded ties joining the two fronts (through the leader)
    assert list(omega["anchor_ref"]) == ["21 MZO 3000 0000002", "21 MZO 3000 0000002"]  # the nearest in time
    assert (omega["support"] == 2).all() and (omega["relation"] == "owner > person > owner").all()
    assert (omega["person"] == "p-leader").all() and (omega["coverage"] == 1.0).all()
    assert omega["evidence"].str.contains("organisation: 2 confident chain").all()
    # too far in time from the organisation's chains, and a firm outside the organisation: no chain
    assert "ps-o3" not in chains.index or not chains.loc["ps-o3", "confident"]
    assert "ps-l1" not in chains.index


def test_the_organisation_rests_only_on_chains_whose_lab_lists_everything_their_front_sent(tmp_path: Path) -> None:
    """Delta's owner-corroborated chain still holds (the lab lists 5 of the 6 chemicals it sent, ≥ 0.8), but where
    a lab lists nearly the whole trade that passes by chance: the organisation is not inferred from it."""
    node = _organisation_world(tmp_path, unlisted=True)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
    assert chains.loc["ps-d1", "confident"] and round(chains.loc["ps-d1", "coverage"], 3) == 0.833
    assert not (chains["hop"] == "organisation").any()


def test_an_owner_detained_where_the_lab_lists_what_chance_would_does_not_tie_his_front(tmp_path: Path) -> None:
    """Two owners detained at one lab that kept no papers and lists four of the trade's five chemicals. Alpha sent
    it only chemicals it lists (its owner fed it); Beta's owner, a lieutenant caught there with the crew, runs a
    front that fed another lab: 8 of its 10 shipments are listed (≥ 0.8), but so is 0.85 of the whole trade —
    Beta leaves unlisted more than half what chance leaves, so its owner's detention ties none of them."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    for org, name, owner in (("org-alpha", "Insumos Alfa SA de CV", "p-a"), ("org-beta", "Química Beta SA de CV", "p-b"),
                             ("org-legit", "Farmacéutica Norte SA de CV", "p-legit")):
        w.add("organization", org, name=name, country="MX")
        w.add("person", owner, given_names=owner.upper(), surname1="Ruiz")
        w.link("organization", org, "person", owner, "owner")
    listed = ("npp", "4-ap", "anpp", "propionic_anhydride")
    w.add("lab_site", "lab-quiet", source_id="SEDENA/LAB/2021/000010", date_found=dt.date(2021, 9, 1),
          chemicals=";".join(listed), evidence="recibos de renta")
    for person in ("p-a", "p-b"):
        w.link("lab_site", "lab-quiet", "person", person, "arrested")
    ships = [(f"ps-a{i}", listed[i % 4], dt.date(2021, 1 + i, 5), "org-alpha") for i in range(6)]
    ships += [(f"ps-b{i}", "1-boc-4-piperidone" if i in (3, 7) else listed[i % 4], dt.date(2021, 1 + i % 7, 10 + i),
               "org-beta") for i in range(10)]
    ships += [(f"ps-l{i}", "1-boc-4-piperidone" if i in (2, 5) else listed[i % 4], dt.date(2021, 1 + i % 7, 20),
               "org-legit") for i in range(10)]
    _write_shipments(w, node, ships)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
    alpha = chains.loc[[f"ps-a{i}" for i in range(6)]]
    assert alpha["confident"].all() and (alpha["hop"] == "owner_arrested").all() and (alpha["coverage"] == 1.0).all()
    beta = chains[chains.index.str.startswith("ps-b")]
    assert len(beta) and (beta["coverage"].round(3) == 0.8).all()  # passes MIN_COVERAGE, not chance
    assert not beta["confident"].any()


def _rival_world(tmp_path: Path, cited: tuple[dt.date, ...]) -> Node:
    """Delta's owner is detained at a lab that kept no papers (raided 1 Sep 2021) and lists what Delta sent; a
    second lab, raided in December, cites Delta declarations that arrived on ``cited`` (its drums on site)."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    for org, name, owner in (("org-delta", "Insumos Delta SA de CV", "p-owner"),
                             ("org-legit", "Farmacéutica Norte SA de CV", "p-legit")):
        w.add("organization", org, name=name, country="MX")
        w.add("person", owner, given_names=owner.upper(), surname1="Pérez")
        w.link("organization", org, "person", owner, "owner")
    ships = [("ps-1", "npp", dt.date(2021, 1, 5), "org-delta"), ("ps-2", "4-ap", dt.date(2021, 3, 5), "org-delta"),
             ("ps-3", "npp", dt.date(2021, 5, 5), "org-delta")]
    ships += [(f"ps-c{i}", "npp", day, "org-delta") for i, day in enumerate(cited)]
    ships += [(f"ps-l{i}", chem, dt.date(2021, 2 + i, 1), "org-legit")
              for i, chem in enumerate(("npp", "anpp", "piperidine", "norfentanyl"))]
    numbers = "; ".join(f"copia de pedimento 21 MZO 3000 {4 + i:07d} (NPP)" for i in range(len(cited)))
    w.add("lab_site", "lab-quiet", source_id="SEDENA/LAB/2021/000010", date_found=dt.date(2021, 9, 1),
          chemicals="npp;4-ap", evidence="recibos de renta")
    w.add("lab_site", "lab-rival", source_id="SEDENA/LAB/2021/000012", date_found=dt.date(2021, 12, 1),
          chemicals="npp", evidence=numbers)
    w.link("lab_site", "lab-quiet", "person", "p-owner", "arrested")
    _write_shipments(w, node, ships)
    return node


@pytest.mark.parametrize(("cited", "tied"), [
    ((dt.date(2021, 6, 1), dt.date(2021, 7, 1)), False),  # the rival's papers place Delta there in the summer
    ((dt.date(2021, 6, 1),), True),  # one citation may be a one-off delivery
    ((dt.date(2021, 9, 20), dt.date(2021, 10, 5)), True),  # after the quiet lab's raid: Delta moved on
])
def test_an_owner_detained_at_a_lab_does_not_tie_a_front_another_labs_papers_place_elsewhere(
        tmp_path: Path, cited: tuple[dt.date, ...], tied: bool) -> None:
    """A front serves one lab until it is raided: when a lab raided later cites two of Delta's declarations that
    arrived while the quiet lab was still running, the owner's detention at the quiet lab contradicts the papers
    and Delta's earlier shipments stay leads, with the rival's citations as their evidence."""
    node = _rival_world(tmp_path, cited)
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
    front = chains.loc[["ps-1", "ps-2", "ps-3"]]
    assert (front["lab"] == "lab-quiet").all() and (front["hop"] == "owner_arrested").all()
    assert (front["coverage"] == 1.0).all()
    assert front["confident"].eq(tied).all()
    if not tied:
        assert front["evidence"].str.startswith("contested: lab SEDENA/LAB/2021/000012").all()
        assert front["evidence"].str.contains("21 MZO 3000 0000004, 21 MZO 3000 0000005").all()
    assert (chains.loc[[f"ps-c{i}" for i in range(len(cited))], "hop"] == "document").all()


def _latent_world(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of ``n`` shipments, 8% of them diverted: the diversion signals fire more often on diverted ones;
    ``occasional_importer`` fires on 35% of all, independently of the class, and ``new_importer`` goes with it
    (an occasional importer is often a new one) besides going with diversion."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.08

    def flag(p_diverted: float, p_other: float) -> np.ndarray:
        return np.where(y, rng.random(n) < p_diverted, rng.random(n) < p_other).astype(float)

    occasional = (rng.random(n) < 0.35).astype(float)
    frame = pd.DataFrame({
        "lab_link": flag(0.15, 0.002), "seized": flag(0.15, 0.015), "third_party_consignee": flag(0.25, 0.06),
        "no_pen": flag(0.65, 0.30), "quantity": flag(0.45, 0.15), "routing": flag(0.30, 0.15),
        "new_importer": np.maximum(flag(0.15, 0.02), occasional * (rng.random(n) < 0.15)),
        "occasional_importer": occasional})
    return frame, y


def test_fitted_weights_drop_a_flag_that_fires_independently_of_the_others() -> None:
    frame, y = _latent_world(20_000)
    fit = precursors.fit_weights(frame)
    # the uninformative flag weighs about nothing (its judgement weight is 1.0); the strong one keeps a large weight
    assert abs(fit.weights["occasional_importer"]) < 0.25, fit.weights
    assert fit.weights["lab_link"] > 3.0, fit.weights
    assert all(fit.weights[f] > 0.4 for f in precursors.FEATURES if f != "occasional_importer"), fit.weights
    # the fitted score ranks the diverted shipments better than the judgement weights do
    fixed = sum(w * frame[f] for f, w in precursors.PRIOR_WEIGHTS.items()).to_numpy()
    assert _auc(y, fit.score(frame)) > _auc(y, fixed) + 0.01
    # the score is the weighted sum, the risk the class posterior: intercept + score on the log-odds scale
    assert fit.share == precursors.PRIOR_SHARE and fit.intercept < 0


def test_a_node_with_few_shipments_keeps_about_the_judgement_weights() -> None:
    frame, _ = _latent_world(40, seed=1)
    fit = precursors.fit_weights(frame)
    for f, w in precursors.PRIOR_WEIGHTS.items():
        assert abs(fit.weights[f] - w) < 0.6 * w, (f, fit.weights[f], w)


def test_the_weights_are_written_with_bilingual_feature_labels(tmp_path: Path) -> None:
    from puente.analyze.output import bilingual
    from puente.analyze.suite import run_analysis

    node = _world(tmp_path)
    with open_engine("duckdb", node.store_url) as engine:
        result = run_analysis("precursors", engine)
    weights = bilingual(result["weights"]).set_index("feature")
    assert list(weights.index) == list(precursors.FEATURES)
    assert weights.loc["no_pen", "feature_es"] == "Sin notificación previa a la exportación"
    assert (weights["prior_weight"] == pd.Series(precursors.PRIOR_WEIGHTS)).all()
    risk = result["risk"]
    total = sum(w * risk[f].astype(float) for f, w in weights["weight"].items())
    assert (risk["score"] - total).abs().max() < 1e-9


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    pos, neg = score[y], score[~y]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def test_a_front_cited_at_one_lab_then_supplying_another_follows_the_run_of_citations(tmp_path: Path) -> None:
    """Delta ships NPP every month from January 2020. Lab A (raided June 2021) cites its first two declarations,
    a one-off delivery; lab B (raided September 2021) cites three from the autumn, with one uncited between each;
    lab C's papers cite 8 of Omega's 11 declarations from January to November 2020, which teaches the node its
    citation rate (10 of 15 declarations after a first citation, over the three cited stretches). Twelve
    declarations in a row that lab A does not cite are no run of its papers (at that rate four in a row are
    rare for a lab citing it twice): Delta's later shipments go with B's run (the two between B's citations and
    the one after it), not to A for its earlier raid, and the spring ones, cited nowhere near, to no lab."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    w.add("organization", "org-delta", name="Insumos Delta SA de CV", country="MX")
    w.add("organization", "org-omega", name="Comercial Omega SA de CV", country="MX")
    ships = [(f"ps-{i}", "npp", dt.date(2020 + (i // 12), 1 + i % 12, 5), "org-delta") for i in range(14)]
    ships += [(f"ps-o{i}", "npp", dt.date(2020, 1 + i, 20), "org-omega") for i in range(12)]

    def cite(*idx: int) -> str:
        return "; ".join(f"copia de pedimento 21 MZO 3000 {i + 1:07d} (NPP)" for i in idx)

    w.add("lab_site", "lab-a", source_id="SEDENA/LAB/2021/000001", date_found=dt.date(2021, 6, 1), chemicals="npp",
          evidence=cite(0, 1))
    w.add("lab_site", "lab-b", source_id="SEDENA/LAB/2021/000002", date_found=dt.date(2021, 9, 1), chemicals="npp",
          evidence=cite(8, 10, 12))
    w.add("lab_site", "lab-c", source_id="SEDENA/LAB/2021/000003", date_found=dt.date(2021, 3, 1), chemicals="npp",
          evidence=cite(*(14 + i for i in (0, 1, 3, 4, 6, 7, 9, 10))))
    _write_shipments(w, node, ships)
    assert papers.citation_gap(10 / 15, tests=2) == 4  # A: two citations, the stretch between them and the one after
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine).set_index("shipment")
    cited = chains.loc[["ps-0", "ps-1"]]
    assert cited["hop"].eq("document").all() and (cited["lab"] == "lab-a").all()
    later = chains.loc[["ps-9", "ps-11", "ps-13"]]
    assert (later["lab"] == "lab-b").all() and later["hop"].eq("same_company").all()
    assert (later["support"] == 3).all()
    assert not {f"ps-{i}" for i in range(2, 8)} & set(chains.index)  # between the two runs: no lab's papers
    omega = chains.loc[[f"ps-o{i}" for i in (2, 5, 8)]]  # inside lab C's run
    assert (omega["lab"] == "lab-c").all() and omega["hop"].eq("same_company").all()
    assert "ps-o11" not in chains.index  # 71 days before C's raid: under the supply lag the papers show (101)


def test_papers_citing_a_company_with_no_other_declaration_give_no_same_company_path(tmp_path: Path) -> None:
    """A lab's papers cite the one declaration of a company that received nothing else: there is no other
    shipment to follow, and the chains are the document hop alone (this raised a pandas error, orghop)."""
    node = Node.init(tmp_path / "n", "t", "MX")
    w = World()
    w.add("organization", "org-solo", name="Quimica Solo SA de CV", country="MX")
    w.add("lab_site", "lab-s", source_id="SEDENA/LAB/2021/000009", date_found=dt.date(2021, 6, 1), chemicals="npp",
          evidence="copia de pedimento 21 MZO 3000 0000001 (NPP)")
    _write_shipments(w, node, [("ps-solo", "npp", dt.date(2021, 2, 5), "org-solo")])
    with open_engine("duckdb", node.store_url) as engine:
        chains = supply.precursor_lab_chains(engine)
    assert list(zip(chains["shipment"], chains["lab"], chains["hop"])) == [("ps-solo", "lab-s", "document")]
