"""A malicious partner operator's bundles (attack9): signed with the partner's real key, well formed, but
carrying what the agreement does not give the receiver — a kind it does not cover, a column it drops or keeps
match-only, a value finer than its transform — or records that try to replace the receiver's own. The receiver
refuses the bundle with one line naming what is wrong, writes an ``import_rejected`` audit entry and stores
nothing: a node must not hold partner data beyond the legal basis the agreement gives it."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from share_support import agreement_doc, install, pair
from test_link_hits import _load
from test_share_hostile import _export, _open, _parquet, _rejections, _seal

from bench.synth import spanish_people
from puente.errors import BundleError
from puente.node import Node
from puente.share.export import export_bundle
from puente.share.receive import import_bundle


@pytest.fixture
def nodes(make_node: Any, store_url: str) -> tuple[Node, Node]:
    us, mx = pair(make_node, mx_store=store_url)  # the receiving node on each store
    install(us, mx, agreement_doc(us, mx))  # seizures: date by month, place admin2, kg by 1, case number pseudonym
    return us, mx


def _set(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def _person(n: int) -> pa.Table:
    return pa.table({"id": [f"us-hsi:person:p{i}" for i in range(n)], "owner_node": ["us-hsi"] * n,
                     "source_agency": ["HSI"] * n, "given_names": ["JUAN"] * n, "surname1": ["PEREZ"] * n,
                     "birth_date": pa.array([None] * n, pa.date32())})


SMUGGLED: dict[str, tuple[Callable[[pa.Table], pa.Table], str]] = {
    # a field the agreement does not list (dropped)
    "dropped notes": (lambda t: _set(t, "notes", pa.array(["informant: J. Perez"] * t.num_rows)), "notes"),
    # a field the agreement keeps match-only (only for private matching, never in a bundle)
    "match-only pill stamp": (lambda t: _set(t, "pill_stamp", pa.array(["M30"] * t.num_rows)), "pill_stamp"),
    # the exact date where the agreement gives the month
    "exact date": (lambda t: _set(t, "date", pa.array([dt.date(2025, 3, 14)] * t.num_rows, pa.date32())), "date"),
    # the exact quantity where the agreement rounds to 1 kg
    "exact kg": (lambda t: _set(t, "quantity_kg", pa.array([4.5] * t.num_rows, pa.float64())), "quantity_kg"),
    # the case number in clear where the agreement gives a pseudonym
    "clear case number": (lambda t: _set(t, "source_id", pa.array(["US-001"] * t.num_rows)), "source_id"),
    # the place's name and text where the agreement gives only the county
    "exact place text": (lambda t: _set(t, "place_text", pa.array(["1200 Grand Ave, Nogales"] * t.num_rows)),
                         "place_text"),
    # the sender's internal provenance (row of its source file), which the receiver would store as sent
    "source row": (lambda t: _set(t, "source_row", pa.array(list(range(t.num_rows)), pa.int64())), "source_row"),
    # the place's exact coordinates under a county generalisation (the county's id kept, its centroid replaced)
    "exact coordinates": (lambda t: _set(t, "place_lat", pc.add(t.column("place_lat"), 0.0123)), "place_lat"),
}


@pytest.mark.parametrize("case", list(SMUGGLED))
def test_a_bundle_smuggling_a_field_finer_than_the_agreement_is_refused(nodes: tuple[Node, Node], case: str) -> None:
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"]))
    change, field = SMUGGLED[case]
    data = _seal(us, manifest, {**blobs, "seizure": _parquet(change(seizures))})
    with mx.open_store() as store, pytest.raises(BundleError, match=f"seizure.{field}") as err:
        import_bundle(mx, store, data)
    assert "us-hsi-mx-fgr v1" in str(err.value), str(err.value)
    with mx.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node <> 'mx-fgr'") == 0
    assert len(_rejections(mx)) == 1 and f"seizure.{field}" in _rejections(mx)[0]


def test_a_record_outside_the_agreements_filters_is_refused(nodes: tuple[Node, Node]) -> None:
    """The agreement shares fentanyl and methamphetamine seizures: a cocaine seizure is outside its legal basis."""
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"]))
    drugs = ["cocaine"] + seizures.column("drug").to_pylist()[1:]
    data = _seal(us, manifest, {**blobs, "seizure": _parquet(_set(seizures, "drug", pa.array(drugs)))})
    with mx.open_store() as store, pytest.raises(BundleError, match=r"1 seizure records that agreement .* "
                                                                    r"does not share \(kinds.seizure.records\[0\]"):
        import_bundle(mx, store, data)
    assert len(_rejections(mx)) == 1


def test_a_bundle_carrying_a_kind_the_agreement_does_not_cover_is_refused(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    data = _seal(us, manifest, {**blobs, "person": _parquet(_person(3))})
    with mx.open_store() as store, pytest.raises(BundleError, match="person") as err:
        import_bundle(mx, store, data)
    assert "does not share" in str(err.value), str(err.value)
    with mx.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM person") == 0
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node <> 'mx-fgr'") == 0
    assert len(_rejections(mx)) == 1


def test_records_in_the_receivers_namespace_are_refused(nodes: tuple[Node, Node]) -> None:
    """A record whose id names another owner (here the receiver: ``mx-fgr:seizure:…``) would sit in the receiver's
    namespace, beside its own records, under the sender's ownership."""
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"]))
    ids = [f"mx-fgr:seizure:planted{i}" for i in range(seizures.num_rows)]
    data = _seal(us, manifest, {**blobs, "seizure": _parquet(_set(seizures, "id", pa.array(ids)))})
    with mx.open_store() as store, pytest.raises(BundleError, match="not named by their owner and kind"):
        import_bundle(mx, store, data)
    with mx.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE id LIKE '%planted%'") == 0
    assert len(_rejections(mx)) == 1


def test_the_honest_bundle_still_imports(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"]))
    with mx.open_store() as store:  # re-sealed unchanged, and with an all-null column the agreement drops
        honest = _set(seizures, "notes", pa.nulls(seizures.num_rows, pa.string()))
        assert import_bundle(mx, store, _seal(us, manifest, {**blobs, "seizure": _parquet(honest)})).records \
            == seizures.num_rows


def test_a_bundle_cannot_replace_or_delete_the_receivers_own_records(nodes: tuple[Node, Node]) -> None:
    """Records carrying the receiver's own ids (owner left null, so it defaults to the sender) are refused by the
    namespace rule (before it: skipped by the import's anti-join); a manifest deleting and revoking them (held)
    imports and leaves them as they were."""
    us, mx = nodes
    with mx.open_store() as store:
        own = store.query("SELECT id, quantity_kg FROM seizure ORDER BY id")
    ids = [i for i, _ in own]
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"])).slice(0, len(own))
    forged = _set(_set(seizures, "id", pa.array(ids)), "owner_node", pa.nulls(len(own), pa.string()))
    with mx.open_store() as store, pytest.raises(BundleError, match="not named by their owner"):
        import_bundle(mx, store, _seal(us, manifest, {**blobs, "seizure": _parquet(forged)}))
    data = _seal(us, {**manifest, "deleted": {"seizure": ids[:1]}, "revoked": {"seizure": ids[1:2]}}, blobs)
    with mx.open_store() as store:
        import_bundle(mx, store, data)
        assert store.query("SELECT id, quantity_kg FROM seizure WHERE owner_node = 'mx-fgr' ORDER BY id") == own


def test_a_partners_scorecard_says_nothing_of_a_third_partner(make_node: Any) -> None:
    """The U.S. node shares with Mexico and with a second Mexican agency, mx-sedena (a bundle, a hit/no-hit query). Mexico's partner-node
    account reads the scorecard: it must not learn that mx-sedena exists, what was sent there, or how many
    queries went there — counts of another relationship are outside its agreement."""
    from fastapi.testclient import TestClient

    from puente.api import auth
    from puente.api.app import create_app
    from puente.link import hits

    us, mx = pair(make_node)
    third = make_node("mx-sedena", "MX")  # a third node (a second Mexican agency)
    install(us, mx, agreement_doc(us, mx))
    names = {f: "match_only" for f in ("given_names", "surname1", "surname2", "birth_date")}
    install(us, third, agreement_doc(us, third, {"seizure": {"fields": {"drug": "keep"}}, "person": {"fields": names}}))
    people, _ = spanish_people(40, seed=4)
    with us.open_store() as store:
        _load(store, people[people.owner_node == "us-test"].assign(owner_node="us-hsi"))
        export_bundle(us, store, third.name)
        export_bundle(us, store, mx.name)
        hits.make_query(store, us, third.name, bytes.fromhex("33" * 32))
        auth.add_user(store, "mx", "partner-node", None, partner=mx.name)
        token = auth.issue_token(store, "mx")
    with TestClient(create_app(us)) as client:
        body = client.get("/api/v1/scorecard", headers={"Authorization": f"Bearer {token}"})
    assert body.status_code == 200
    card = body.json()
    assert "mx-sedena" not in body.text, [r for r in card["sent"] or [] if r.get("to") == "mx-sedena"]
    assert {r["to"] for r in card["sent"]} == {"mx-fgr"}  # its own exchange is still counted
    assert card["followups"] is None or card["followups"]["queries"].get("sent") is None, card["followups"]


def test_a_date_filter_written_as_text_still_lets_the_honest_bundle_in(make_node: Any) -> None:
    """The receiver reads the record filters as the export's SQL does: a quoted '2020-01-01' is a date."""
    us, mx = pair(make_node)
    kinds = {"seizure": {"records": [{"field": "date", "from": "2020-01-01"}, {"field": "drug", "not_in": ["heroin"]}],
                         "fields": {"date": "keep", "drug": "keep", "quantity_kg": "keep"}}}
    install(us, mx, agreement_doc(us, mx, kinds))
    with us.open_store() as store:
        data = export_bundle(us, store, mx.name)
    with mx.open_store() as store:
        assert import_bundle(mx, store, data).records > 0
