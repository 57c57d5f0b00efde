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
import pyarrow.parquet as pq
import pytest
from share_support import agreement_doc, install, pair
from test_share_hostile import _export, _open, _parquet, _rejections, _seal

from puente.errors import BundleError
from puente.node import Node
from puente.share.receive import import_bundle


@pytest.fixture
def nodes(make_node: Any) -> tuple[Node, Node]:
    us, mx = pair(make_node)
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


def test_the_honest_bundle_still_imports(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"]))
    with mx.open_store() as store:  # re-sealed unchanged, and with an all-null column the agreement drops
        honest = _set(seizures, "notes", pa.nulls(seizures.num_rows, pa.string()))
        assert import_bundle(mx, store, _seal(us, manifest, {**blobs, "seizure": _parquet(honest)})).records \
            == seizures.num_rows


def test_a_bundle_cannot_replace_or_delete_the_receivers_own_records(nodes: tuple[Node, Node]) -> None:
    """Held: records carrying the receiver's own ids (owner left null, so it defaults to the sender), and a
    manifest deleting and revoking them, leave the receiver's records as they were."""
    us, mx = nodes
    with mx.open_store() as store:
        own = store.query("SELECT id, quantity_kg FROM seizure ORDER BY id")
    manifest, blobs = _open(us, _export(us, mx))
    seizures = pq.read_table(io.BytesIO(blobs["seizure"])).slice(0, len(own))
    forged = _set(_set(seizures, "id", pa.array([i for i, _ in own])), "owner_node",
                  pa.nulls(len(own), pa.string()))
    ids = [i for i, _ in own]
    data = _seal(us, {**manifest, "deleted": {"seizure": ids[:1]}, "revoked": {"seizure": ids[1:2]}},
                 {**blobs, "seizure": _parquet(forged)})
    with mx.open_store() as store:
        import_bundle(mx, store, data)
        assert store.query("SELECT id, quantity_kg FROM seizure WHERE owner_node = 'mx-fgr' ORDER BY id") == own
