"""Incremental exports, revocation with signed receipts, retention, onward transfer, audited reads —
on the embedded store and on PostgreSQL (the U.S. node runs on each backend)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from share_support import FIXTURES, agreement_doc, ingest, install, kept_stores, pair

from puente.audit import log as audit
from puente.audit.verify import verify_log, verify_partner_checkpoints
from puente.errors import BundleError, PolicyError, UsageError
from puente.node import Node
from puente.share.envelope import RECEIPT_TYPE, open_envelope, seal
from puente.share.export import ExportReport, export_bundle
from puente.share.lifecycle import purge_expired, read_partner, revoke_agreement, revoke_records
from puente.share.receive import accept_receipt, import_bundle

pytestmark = pytest.mark.usefixtures("kept_stores")
__all__ = ["kept_stores"]


@pytest.fixture
def nodes(make_node: Any, store_url: str) -> tuple[Node, Node]:
    us, mx = pair(make_node, us_store=store_url)
    install(us, mx, agreement_doc(us, mx))
    return us, mx


def send(sender: Node, receiver: Node, **kw: Any) -> Any:
    with sender.open_store() as store:
        data = export_bundle(sender, store, receiver.name, **kw)
    with receiver.open_store() as store:
        return import_bundle(receiver, store, data)


def partner_ids(node: Node, owner: str) -> set[str]:
    with node.open_store() as store:
        return {r[0] for r in store.query("SELECT id FROM seizure WHERE owner_node = ?", [owner])}


def own_id(node: Node, source_id: str) -> str:
    with node.open_store() as store:
        return str(store.scalar("SELECT id FROM seizure WHERE source_id = ?", [source_id]))


def test_exchange_both_ways_with_provenance(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    assert send(us, mx).imported == {"seizure": 4}  # cocaine is withheld by kinds.seizure.records[0]
    assert send(mx, us).imported == {"seizure": 3}
    with mx.open_store() as store:
        rows = store.query_arrow("SELECT * FROM seizure WHERE owner_node = 'us-hsi'").to_pylist()
    assert {r["source_agency"] for r in rows} == {"CBP", "HSI", "DEA"}
    today = dt.datetime.now(dt.UTC).date()
    assert all(r["bundle_id"] and r["retain_until"] == today + dt.timedelta(days=365) for r in rows)
    assert all(r["notes"] is None and r["pill_stamp"] is None and r["place_text"] is None for r in rows)
    assert {r["date"].day for r in rows} == {1}
    for node in (us, mx):
        with node.open_store() as store:
            assert verify_log(store, node.name, node.public_key).ok
            count, problems = verify_partner_checkpoints(store)
            assert count == 1 and problems == []


def test_incremental_corrections_and_deletions(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    us, mx = nodes
    send(us, mx)
    assert send(us, mx).imported == {}  # nothing changed
    corrected = (FIXTURES / "seizures_us.csv").read_text().replace("US-002,03/20/2025", "US-002,05/20/2025")
    (tmp_path / "corrected.csv").write_text(corrected)
    ingest(us, tmp_path / "corrected.csv", "seizure-us")
    gone = own_id(us, "US-005")
    with us.open_store() as store:
        store.execute("DELETE FROM seizure WHERE id = ?", [gone])
    report = send(us, mx)
    assert report.imported == {"seizure": 1} and report.deleted == 1
    with mx.open_store() as store:
        assert store.scalar("SELECT date FROM seizure WHERE id = ?", [own_id(us, "US-002")]) == dt.date(2025, 5, 1)
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE id = ?", [gone]) == 0


def test_revocation_purges_and_receipt_verifies(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    send(us, mx)
    target = own_id(us, "US-001")
    with us.open_store() as store:
        assert revoke_records(us, store, mx.name, [target], "court order") == 1
        with pytest.raises(UsageError):
            revoke_records(us, store, mx.name, [own_id(mx, "MX-101")], "not ours")
    report = send(us, mx)
    assert report.purged == 1 and target not in partner_ids(mx, us.name) and len(partner_ids(mx, us.name)) == 3
    assert report.receipt is not None
    tampered = bytearray(report.receipt)
    tampered[len(tampered) // 2] ^= 1
    with us.open_store() as store:
        with pytest.raises(BundleError):
            accept_receipt(us, store, bytes(tampered))
        receipt = accept_receipt(us, store, report.receipt)
        assert (receipt.partner, receipt.records) == (mx.name, 1)
        assert audit.entry_records(store, store.scalar("SELECT MAX(idx) FROM audit_log")) == [target]
        # a receipt listing other records than those revoked is refused
        forged = open_envelope(report.receipt).verify(mx.public_key).replace(b'"records":1', b'"records":2')
        with pytest.raises(BundleError, match="exactly the records revoked"):
            accept_receipt(us, store, seal(RECEIPT_TYPE, forged, mx.signing_key, open_envelope(report.receipt).keyid))
    assert send(us, mx).imported == {}  # the revoked record does not come back


def test_agreement_revocation_purges_everything(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    send(us, mx)
    with us.open_store() as store:
        revoke_agreement(us, store, mx.name, "agreement ended")
    report = send(us, mx)
    assert report.terminated and report.purged == 4 and partner_ids(mx, us.name) == set()
    with us.open_store() as store:
        assert accept_receipt(us, store, report.receipt).terminated
        with pytest.raises(PolicyError):
            export_bundle(us, store, mx.name)
    with mx.open_store() as store, pytest.raises(PolicyError):
        export_bundle(mx, store, us.name)


def test_retention_purges_on_time(make_node: Any, store_url: str) -> None:
    us, mx = pair(make_node, mx_store=store_url)
    install(us, mx, agreement_doc(us, mx, retention_days=30))
    send(us, mx)
    today = dt.datetime.now(dt.UTC).date()
    with mx.open_store() as store:
        assert purge_expired(mx, store, today + dt.timedelta(days=30)) == {}  # the last day is still kept
        assert len(partner_ids(mx, us.name)) == 4
        assert purge_expired(mx, store, today + dt.timedelta(days=31)) == {"seizure": 4}
        entry = audit.entries(store, 1)[0]
        assert (entry["action"], entry["clause"], entry["records"]) == ("purge", "retention_days", 4)
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = ?", [mx.name]) == 4  # own data stays
    assert partner_ids(mx, us.name) == set()


@pytest.mark.parametrize("onward", [False, True])
def test_onward_transfer(make_node: Any, nodes: tuple[Node, Node], onward: bool) -> None:
    us, mx = nodes
    if onward:
        install(us, mx, agreement_doc(us, mx, version=2, onward_transfer=True))
    send(us, mx)
    third = make_node("mx-sedena", "MX")
    install(mx, third, agreement_doc(mx, third, onward_transfer=onward))
    report = ExportReport("", third.name, 0)
    with mx.open_store() as store:
        data = export_bundle(mx, store, third.name, report=report)
    with third.open_store() as store:
        import_bundle(third, store, data)
    if onward:
        assert report.onward_refused == 0 and len(partner_ids(third, us.name)) == 4
    else:
        assert report.onward_refused == 4 and partner_ids(third, us.name) == set()
        with mx.open_store() as store:
            assert "onward_refused" in {e["action"] for e in audit.entries(store, 5)}
    assert len(partner_ids(third, mx.name)) == 3
    assert send(mx, us).imported == {"seizure": 3}  # never sends the partner's own records back


def test_reads_of_partner_data_are_audited(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    send(us, mx)
    with mx.open_store() as store:
        table = read_partner(mx, store, "seizure", "analyst-7", "route analysis", "drug = ?", ["fentanyl"])
        assert table.num_rows == 3 and set(table.column("owner_node").to_pylist()) == {us.name}
        last = audit.entries(store, 1)[0]
        assert (last["action"], last["actor"], last["records"]) == ("read", "analyst-7", 3)
        assert sorted(audit.entry_records(store, last["index"])) == sorted(table.column("id").to_pylist())


def test_older_agreement_version_refused(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    install(us, mx, agreement_doc(us, mx, version=3))
    with pytest.raises(PolicyError):
        install(us, mx, agreement_doc(us, mx, version=2))
    with us.open_store() as store:
        policy = [e for e in audit.entries(store, 10) if e["action"] == "policy"]
        assert [e["clause"] for e in policy] == ["us-hsi-mx-fgr@v1", "us-hsi-mx-fgr@v3"]
