"""Each node sees exactly the fields the agreement allows, transformed as agreed — over many random records
and agreements (hypothesis), checked against the simple reference in share_reference.py, both ways."""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from share_reference import expected
from share_support import agreement_doc, ingest, install, kept_stores

pytestmark = pytest.mark.usefixtures("kept_stores")
__all__ = ["kept_stores"]

from puente.model import load_model
from puente.node import Node
from puente.share.agreement import Agreement, Decision
from puente.share.bundle import read_manifest, read_part
from puente.share.envelope import open_envelope
from puente.share.export import export_bundle
from puente.share.plan import HASH_COLUMN
from puente.share.receive import import_bundle

EXAMPLES = int(os.environ.get("PUENTE_HYPOTHESIS_EXAMPLES", "10"))
PLACES = {"US": ["Nogales, AZ", "San Diego, CA", "Maricopa County, AZ", "El Paso, TX", "Laredo, TX", "Nowhere Town"],
          "MX": ["Culiacán, Sin.", "Tijuana, B.C.", "Hermosillo, Son.", "Ciudad Juárez, Chih.", "Mexicali",
                 "Lugar Inexistente"]}
PORTS = ["Nogales", "Otay Mesa", "San Ysidro", "El Paso", "Calexico", ""]
DRUGS = ["fentanyl", "methamphetamine", "cocaine", "heroin", "marijuana"]
AGENCIES = {"US": ["CBP", "HSI", "DEA"], "MX": ["FGR", "SEDENA", "SEMAR"]}
FIELD_CHOICES = {
    "date": [{"transform": "truncate_date", "to": "week"}, {"transform": "truncate_date", "to": "month"}],
    "number": [{"transform": "round", "step": s} for s in (0.5, 1, 10)],
    "integer": [{"transform": "round", "step": s} for s in (1, 100)],
    "place": [{"transform": "generalize_place", "to": "admin2"}]
    + [{"transform": "generalize_place", "to": "h3", "resolution": r} for r in (0, 4, 6, 8)],
}

record = st.fixed_dictionaries({
    "date": st.dates(dt.date(2019, 1, 1), dt.date(2026, 6, 30)),
    "place": st.integers(0, 5), "agency": st.integers(0, 2), "drug": st.sampled_from(DRUGS),
    "form": st.sampled_from(["powder", "pills", "crystal", ""]),
    "quantity": st.decimals(0, 100000, places=2, allow_nan=False, allow_infinity=False),
    "unit": st.sampled_from(["kg", "g", "lb", "pills"]),
    "purity": st.one_of(st.just(""), st.integers(1, 99)),
    "pill_stamp": st.sampled_from(["M30", "A215", ""]), "conveyance": st.sampled_from(["truck", "pedestrian", ""]),
    "port": st.sampled_from(PORTS), "notes": st.sampled_from(["", "tip", "k-9 alert", "informante"]),
})


@st.composite
def seizure_rules(draw: Any) -> dict[str, Any]:
    filters = []
    if draw(st.booleans()):
        filters.append({"field": "drug", "in": draw(st.lists(st.sampled_from(DRUGS), min_size=1, unique=True))})
    if draw(st.booleans()):
        filters.append({"field": "date", "from": draw(st.dates(dt.date(2019, 1, 1), dt.date(2026, 6, 30)))})
    if draw(st.booleans()):
        filters.append({"field": "quantity_kg", "until": draw(st.sampled_from([0.5, 10.0, 500.0]))})
    if draw(st.booleans()):
        filters.append({"field": "source_agency", "not_in": draw(st.lists(
            st.sampled_from(AGENCIES["US"] + AGENCIES["MX"]), min_size=1, max_size=2, unique=True))})
    fields = {}
    for name, field in load_model().kind("seizure").fields.items():
        choices: list[Any] = [None, "keep", "drop", "match_only"] + FIELD_CHOICES.get(field.type, [])
        if field.type not in ("place", "date", "number", "integer"):
            choices.append("pseudonymize")
        choice = draw(st.sampled_from(choices))
        if choice is not None:
            fields[name] = choice
    model_fields = load_model().kind("seizure").fields
    changed = True
    while changed:  # until no rule below applies (keeping one field can make another's coarsening refused)
        changed = False
        for name, field in model_fields.items():
            # a coarsened derived field beside all of its inputs kept, or beside a field computed from the same
            # inputs and kept (rounded kg beside an exact pill count), is refused (the agreement would not load)
            rule = fields.get(name)
            coarse = rule is not None and (rule if isinstance(rule, str) else rule["transform"]) not in (
                "keep", "drop", "match_only")
            sibling_kept = any(o != name and set(f.sources) & set(field.sources) and fields.get(o) == "keep"
                               for o, f in model_fields.items())
            if coarse and field.sources and (all(fields.get(src) == "keep" for src in field.sources) or sibling_kept):
                fields[name] = "keep"
                changed = True
    return {"records": filters, "fields": fields}


def _write(path: Path, country: str, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["source_id", "date", "place", "agency", "drug", "form", "quantity", "unit", "purity",
                      "pill_stamp", "conveyance", "port", "notes"])
        for i, r in enumerate(rows):
            date = r["date"].strftime("%m/%d/%Y" if country == "US" else "%d/%m/%Y")
            quantity = int(r["quantity"]) if r["unit"] == "pills" else r["quantity"]  # pills are whole
            qty = str(quantity) if country == "US" else str(quantity).replace(".", ",")
            out.writerow([f"{country}-{i}", date, PLACES[country][r["place"]], AGENCIES[country][r["agency"]],
                          r["drug"], r["form"], qty, r["unit"], r["purity"], r["pill_stamp"], r["conveyance"],
                          r["port"], r["notes"]])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


class Pair:
    """Two nodes kept across hypothesis examples: each example replaces records and agreement (a new version)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="puente-policy-"))
        self.us = Node.init(self.dir / "us", "us-hsi", "US")
        self.mx = Node.init(self.dir / "mx", "mx-fgr", "MX")
        self.version = 0


@pytest.fixture(scope="module")
def nodes() -> Pair:
    return Pair()


def _check_direction(sender: Node, receiver: Node, doc: dict[str, Any]) -> int:
    with sender.open_store() as store:
        own = store.query_arrow("SELECT * FROM seizure WHERE owner_node = ?", [sender.name]).to_pylist()
        data = export_bundle(sender, store, receiver.name)
    want = expected(doc, "seizure", own, sender.id_key)
    manifest, body = read_manifest(open_envelope(data).verify(sender.public_key))
    model = load_model().kind("seizure")
    allowed = {"id", "owner_node", "source_agency"}
    agreement = Agreement(doc)
    for name, field in model.fields.items():
        if agreement.decide_field("seizure", name).action not in ("drop", "match_only"):
            allowed |= set(field.columns())
    for part in manifest["parts"]:  # nothing else travels but the signed hash of those columns
        assert set(read_part(body, part).column_names) == allowed | {HASH_COLUMN}
    assert manifest["match_only"]["seizure"] == agreement.match_only_fields("seizure")
    with receiver.open_store() as store:
        import_bundle(receiver, store, data)
        got = {r["id"]: r for r in store.query_arrow("SELECT * FROM seizure WHERE owner_node = ?",
                                                      [sender.name]).to_pylist()}
    assert set(got) == set(want)
    for rid, row in want.items():
        for column, value in row.items():
            assert _same(got[rid][column], value), (rid, column, got[rid][column], value)
        assert got[rid]["bundle_id"] == manifest["bundle_id"] or got[rid]["bundle_id"] is not None
    return len(want)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(us_rows=st.lists(record, max_size=60), mx_rows=st.lists(record, max_size=60), rules=seizure_rules())
def test_each_side_sees_exactly_what_the_agreement_allows(nodes: Pair, us_rows: list[dict[str, Any]],
                                                          mx_rows: list[dict[str, Any]], rules: dict[str, Any]) -> None:
    nodes.version += 1
    doc = agreement_doc(nodes.us, nodes.mx, {"seizure": rules}, version=nodes.version)
    install(nodes.us, nodes.mx, doc)
    for node, rows in ((nodes.us, us_rows), (nodes.mx, mx_rows)):
        with node.open_store() as store:
            store.execute("DELETE FROM seizure WHERE owner_node = ?", [node.name])  # a fresh set of records
        if rows:
            path = nodes.dir / f"{node.name}-{nodes.version}.csv"
            _write(path, node.country, rows)
            ingest(node, path, f"seizure-{node.country.lower()}")
    _check_direction(nodes.us, nodes.mx, doc)
    _check_direction(nodes.mx, nodes.us, doc)


def test_decisions_name_their_clause(make_node: Any) -> None:
    us, mx = make_node("us-hsi", "US"), make_node("mx-fgr", "MX")
    agreement = Agreement(agreement_doc(us, mx))
    assert agreement.decide_record("seizure", {"drug": "cocaine"}) == Decision(
        "deny", "kinds.seizure.records[0]", "drug in ['fentanyl', 'methamphetamine']")
    assert agreement.decide_record("seizure", {"drug": "fentanyl"}).clause == "kinds.seizure.records"
    assert agreement.decide_record("person", {}).clause == "kinds"
    assert agreement.decide_field("seizure", "notes") == Decision("drop", "kinds.seizure.fields (not listed: dropped)")
    assert agreement.decide_field("seizure", "date") == Decision("truncate_date", "kinds.seizure.fields.date")
    assert agreement.match_only_fields("seizure") == ["pill_stamp"]
    assert agreement.decide_onward() == Decision("deny", "onward_transfer",
                                                 "onward transfer to a third party is not allowed")
