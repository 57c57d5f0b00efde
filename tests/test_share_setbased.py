"""Set-based export and import (SQL over whole tables) against the row-by-row oracle (share_reference.py,
share_oracle.py), over random records, agreements, changes between two bundles and clashes on import."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from share_oracle import apply_import, diff
from share_reference import expected
from share_support import agreement_doc, ingest, install, kept_stores
from test_share_policy import DRUGS, EXAMPLES, _same, _write, record, seizure_rules

from puente.audit import log as audit
from puente.audit.verify import verify_log
from puente.node import Node
from puente.share.agreement import key_id
from puente.share.bundle import pack, read_manifest, read_part
from puente.share.envelope import BUNDLE_TYPE, open_envelope, seal
from puente.share.export import export_bundle
from puente.share.plan import HASH_COLUMN
from puente.share.receive import import_bundle
from puente.share.transforms import row_hashes

pytestmark = pytest.mark.usefixtures("kept_stores")
__all__ = ["kept_stores"]
THIRD = "gt-pgr"  # a third party whose record the recipient already holds under a clashing id

edit = st.tuples(st.integers(0, 59), st.sampled_from(DRUGS), st.floats(0, 5000, allow_nan=False),
                 st.dates(dt.date(2019, 1, 1), dt.date(2026, 6, 30)))


class Pair:
    def __init__(self, us_url: str | None = None, mx_url: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="puente-setbased-"))
        self.us = Node.init(self.dir / "us", "us-hsi", "US", us_url)
        self.mx = Node.init(self.dir / "mx", "mx-fgr", "MX", mx_url)
        self.version = 0


@pytest.fixture(scope="module")
def nodes() -> Pair:
    return Pair()


def _bundle(sender: Node, receiver: Node) -> tuple[bytes, dict[str, Any], dict[str, dict[str, Any]]]:
    """Export; the manifest; the rows each part carries (by id), with the carried hash checked and dropped."""
    with sender.open_store() as store:
        data = export_bundle(sender, store, receiver.name)
    manifest, body = read_manifest(open_envelope(data).verify(sender.public_key))
    shipped: dict[str, dict[str, Any]] = {}
    for part in manifest["parts"]:
        table = read_part(body, part)
        hashes = table.column(HASH_COLUMN).to_pylist()
        assert all(isinstance(h, str) and h for h in hashes)
        assert len(set(hashes)) == len(set(map(repr, table.drop_columns([HASH_COLUMN, "id"]).to_pylist())))
        shipped.update({r["id"]: r for r in table.to_pylist()})
    return data, manifest, shipped


def _holdings(node: Node) -> dict[str, tuple[str, dict[str, Any]]]:
    with node.open_store() as store:
        rows = store.query_arrow("SELECT * FROM seizure WHERE owner_node <> ?", [node.name]).to_pylist()
    return {r["id"]: (r["owner_node"], r) for r in rows}


def _same_holdings(got: dict[str, tuple[str, dict[str, Any]]], want: dict[str, tuple[str, dict[str, Any]]]) -> None:
    assert set(got) == set(want)
    for rid, (owner, row) in want.items():
        assert got[rid][0] == owner, rid
        for column, value in row.items():
            if column in got[rid][1] and column not in ("bundle_id", "ingested_at", "retain_until", "batch_id",
                                                        "source_file", "content_hash", "source_row"):
                assert _same(got[rid][1][column], value), (rid, column, got[rid][1][column], value)


def _own(node: Node) -> list[dict[str, Any]]:
    with node.open_store() as store:
        return store.query_arrow("SELECT * FROM seizure WHERE owner_node = ? ORDER BY id", [node.name]).to_pylist()


def scenario(p: Pair, first: list[dict[str, Any]], added: list[dict[str, Any]], edits: list[Any],
             removed: set[int], rules: dict[str, Any], clash: bool) -> None:
    p.version += 1
    us, mx = p.us, p.mx
    doc = agreement_doc(us, mx, {"seizure": rules}, version=p.version)
    install(us, mx, doc)
    with us.open_store() as store:  # a fresh start: nothing of ours here or there, nothing sent
        store.execute("DELETE FROM seizure WHERE owner_node = ?", [us.name])
        store.execute("DELETE FROM share_sent")
    with mx.open_store() as store:
        store.execute("DELETE FROM seizure WHERE owner_node <> ?", [mx.name])
    if first:
        _write(p.dir / f"first-{p.version}.csv", "US", first)
        ingest(us, p.dir / f"first-{p.version}.csv", "seizure-us")
    before = expected(doc, "seizure", _own(us), us.id_key)
    held: dict[str, tuple[str, dict[str, Any]]] = {}
    if clash and before:  # the recipient already holds a third party's record under one of these ids
        rid = min(before)
        with mx.open_store() as store:
            store.execute("INSERT INTO seizure (id, owner_node, source_agency, drug) VALUES (?, ?, 'X', 'clash')",
                          [rid, THIRD])
        held[rid] = (THIRD, {"drug": "clash", "source_agency": "X"})

    data, manifest, shipped = _bundle(us, mx)
    assert set(shipped) == set(before) and manifest["deleted"] == {}
    for rid, row in before.items():
        assert all(_same(shipped[rid][c], v) for c, v in row.items() if c in shipped[rid]), rid
    with mx.open_store() as store:
        import_bundle(mx, store, data)
    held = apply_import(held, before, [], us.name, mx.name)
    _same_holdings(_holdings(mx), held)

    # changes between the bundles: new records, edits (some invisible after the transforms), deletions
    if added:
        _write(p.dir / f"added-{p.version}.csv", "US", first + added)
        ingest(us, p.dir / f"added-{p.version}.csv", "seizure-us")
    ids = [r["id"] for r in _own(us)]
    with us.open_store() as store:
        for i, drug, kg, date in edits:
            if i < len(ids):
                store.execute("UPDATE seizure SET drug = ?, quantity_kg = ?, date = ? WHERE id = ?",
                              [drug, kg, date, ids[i]])
        for i in removed:
            if i < len(ids):
                store.execute("DELETE FROM seizure WHERE id = ?", [ids[i]])
    after = expected(doc, "seizure", _own(us), us.id_key)
    ship, gone = diff(before, after)

    data, manifest, shipped = _bundle(us, mx)
    assert set(shipped) == ship
    assert manifest["deleted"] == ({"seizure": gone} if gone else {})
    with mx.open_store() as store:
        report = import_bundle(mx, store, data)
        entry = audit.entries(store, 1, "import")[-1]
        assert entry["records"] == report.records + len(gone)
        assert verify_log(store, mx.name, mx.public_key, mx.home).ok  # one entry commits to the bundle's ids
    held = apply_import(held, {r: after[r] for r in ship}, gone, us.name, mx.name)
    _same_holdings(_holdings(mx), held)
    with us.open_store() as store:
        assert verify_log(store, us.name, us.public_key, us.home).ok


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=st.lists(record, max_size=40), added=st.lists(record, max_size=10),
       edits=st.lists(edit, max_size=10), removed=st.sets(st.integers(0, 59), max_size=8), rules=seizure_rules(),
       clash=st.booleans())
def test_set_based_matches_row_by_row(nodes: Pair, first: list[dict[str, Any]], added: list[dict[str, Any]],
                                      edits: list[Any], removed: set[int], rules: dict[str, Any], clash: bool) -> None:
    scenario(nodes, first, added, edits, removed, rules, clash)


FIXED = [{"date": dt.date(2024, 3, d), "place": d % 6, "agency": d % 3, "drug": DRUGS[d % 5], "form": "pills",
          "quantity": d * 1.25, "unit": "kg", "purity": "", "pill_stamp": "M30", "conveyance": "truck",
          "port": ["Nogales", "Otay Mesa", ""][d % 3], "notes": "tip"} for d in range(1, 25)]
EVERYTHING = {"records": [{"field": "drug", "in": ["fentanyl", "methamphetamine", "cocaine"]}],
              "fields": {"date": {"transform": "truncate_date", "to": "week"}, "drug": "keep",
                         "place": {"transform": "generalize_place", "to": "admin2"},
                         "port": {"transform": "generalize_place", "to": "h3", "resolution": 5},
                         "quantity_kg": {"transform": "round", "step": 0.5}, "source_id": "pseudonymize",
                         "pill_stamp": "match_only", "agency": "keep"}}


@pytest.mark.postgres
def test_set_based_on_postgres_matches_row_by_row(pg_url: str, pg_migrated_url: str) -> None:
    """The same statements through the PostgreSQL dialect (both nodes on PostgreSQL)."""
    pair = Pair(pg_url, pg_migrated_url)
    scenario(pair, FIXED, FIXED[:3], [(1, "fentanyl", 12.0, dt.date(2024, 1, 2)), (4, "heroin", 1.0,
                                                                                    dt.date(2024, 1, 2))],
             {2, 7}, EVERYTHING, clash=True)


def test_bundle_from_the_previous_release_still_imports(nodes: Pair) -> None:
    """A part without the carried row hash (as the previous release wrote it) is hashed on import, as then."""
    scenario(nodes, FIXED[:6], [], [], set(), EVERYTHING, clash=False)  # agreement installed, records held
    us, mx = nodes.us, nodes.mx
    with us.open_store() as store:
        store.execute("DELETE FROM share_sent")
    with mx.open_store() as store:
        store.execute("DELETE FROM seizure WHERE owner_node = ?", [us.name])
    data, manifest, _ = _bundle(us, mx)
    _, body = read_manifest(open_envelope(data).verify(us.public_key))
    old = {p["kind"]: read_part(body, p).drop_columns([HASH_COLUMN]) for p in manifest["parts"]}
    manifest = {k: v for k, v in manifest.items() if k != "parts"}
    legacy = seal(BUNDLE_TYPE, pack(manifest, old), us.signing_key, key_id(us.public_key_pem))
    with mx.open_store() as store:
        report = import_bundle(mx, store, legacy)
        got = dict(store.query("SELECT id, content_hash FROM seizure WHERE owner_node = ?", [us.name]))
    table = old["seizure"]
    assert report.records == table.num_rows == len(got) > 0
    assert got == dict(zip(table.column("id").to_pylist(), row_hashes(table)))
