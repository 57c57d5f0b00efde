"""Bundles are verified before a byte of their records is parsed; anything wrong is rejected, nothing imported."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from share_support import agreement_doc, install, kept_stores, pair

from puente.audit import log as audit
from puente.errors import BundleError
from puente.node import Node
from puente.share import receive
from puente.share.envelope import BUNDLE_TYPE, open_envelope, seal
from puente.share.export import export_bundle
from puente.share.receive import import_bundle

ONE = {"seizure": {"records": [{"field": "source_id", "in": ["US-002"]}], "fields": {"drug": "keep"}}}

pytestmark = pytest.mark.usefixtures("kept_stores")
__all__ = ["kept_stores"]


@pytest.fixture
def nodes(make_node: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Node, Node]:
    us, mx = pair(make_node)
    install(us, mx, agreement_doc(us, mx, ONE))

    def no_parsing(*args: Any) -> Any:
        raise AssertionError("a record part was parsed before the bundle was verified")

    monkeypatch.setattr(receive, "read_part", no_parsing)  # any rejection must come before this
    return us, mx


def _export(node: Node, partner: str, **kw: Any) -> bytes:
    with node.open_store() as store:
        return export_bundle(node, store, partner, **kw)


def _rejected(node: Node, data: bytes, now: dt.datetime | None = None) -> str:
    with node.open_store() as store:
        with pytest.raises(BundleError) as info:
            import_bundle(node, store, data, now=now)
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node <> ?", [node.name]) == 0
        assert store.scalar("SELECT COUNT(*) FROM share_bundles WHERE direction = 'received'") == 0
    return str(info.value)


def _flips(data: bytes, step: int) -> list[int]:
    """Every bit of the envelope's head and tail (type, key id, signature), and every ``step``-th bit between."""
    n = len(data) * 8
    return sorted(set(range(min(n, 1200))) | set(range(max(0, n - 1000), n)) | set(range(0, n, step)))


def _check_flips(mx: Node, data: bytes, bits: list[int]) -> None:
    with mx.open_store() as store:
        for bit in bits:
            flipped = bytearray(data)
            flipped[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(BundleError, match="bundle rejected"):
                receive.verify_bundle(mx, store, bytes(flipped))
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node <> ?", [mx.name]) == 0


def test_single_bit_flips_rejected(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    data = _export(us, mx.name)
    _check_flips(mx, data, _flips(data, 29))


@pytest.mark.slow
def test_every_single_bit_flip_rejected(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    data = _export(us, mx.name)
    _check_flips(mx, data, list(range(len(data) * 8)))


def test_wrong_recipient(make_node: Any, nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    other = make_node("mx-sedena", "MX")
    install(us, other, agreement_doc(us, other, ONE))
    data = _export(us, other.name)
    install(mx, other, agreement_doc(mx, other, ONE))  # mx knows us's key, but the bundle is for mx-sedena
    assert "addressed to mx-sedena" in _rejected(mx, data)


def test_replay_and_rollback(nodes: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    us, mx = nodes
    first, second = _export(us, mx.name), _export(us, mx.name)
    monkeypatch.undo()
    with mx.open_store() as store:
        import_bundle(mx, store, second)
    for data in (second, first):
        with mx.open_store() as store, pytest.raises(BundleError, match="replay"):
            import_bundle(mx, store, data)


def test_expired(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    data = _export(us, mx.name, ttl_hours=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert "expired" in _rejected(mx, data, now=later)


def test_unknown_key(make_node: Any, nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    stranger = make_node("us-stranger", "US")
    env = json.loads(_export(us, mx.name))
    forged = open_envelope(_export(us, mx.name)).verify(us.public_key)
    data = seal(BUNDLE_TYPE, forged, stranger.signing_key, env["signatures"][0]["keyid"])  # claims us's key id
    assert "signature does not verify" in _rejected(mx, data)
    data = seal(BUNDLE_TYPE, forged, stranger.signing_key, "0123456789abcdef")
    assert "no agreement here names" in _rejected(mx, data)


def test_agreement_not_in_force(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    data = _export(us, mx.name)
    assert "not in force" in _rejected(mx, data, now=dt.datetime(2100, 1, 2, tzinfo=dt.UTC))


def test_other_agreement_version(nodes: tuple[Node, Node]) -> None:
    us, mx = nodes
    data = _export(us, mx.name)
    install(us, mx, agreement_doc(us, mx, ONE, version=2))
    assert "agreement here is us-hsi-mx-fgr v2" in _rejected(mx, data)


def test_rewritten_sender_log_rejected(nodes: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    us, mx = nodes
    monkeypatch.undo()
    with mx.open_store() as store:
        import_bundle(mx, store, _export(us, mx.name))
    with us.open_store() as store:  # the sender rebuilds its log with a different history (re-signed by itself)
        size = store.scalar("SELECT COUNT(*) FROM audit_log")
        for table in ("audit_log", "audit_records", "audit_head"):
            store.execute(f"DELETE FROM {table}")
        for i in range(size + 2):
            audit.append(store, us, "forger", "read", [], None, f"rewritten {i}")
    with mx.open_store() as store, pytest.raises(BundleError, match="did not only grow"):
        import_bundle(mx, store, _export(us, mx.name))


def test_missed_bundle_still_links(nodes: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    us, mx = nodes
    monkeypatch.undo()
    first, _lost, third = _export(us, mx.name), _export(us, mx.name), _export(us, mx.name)
    with mx.open_store() as store:
        import_bundle(mx, store, first)
        store.execute("DELETE FROM seizure WHERE owner_node = ?", [us.name])  # as if the records were in the lost one
        assert import_bundle(mx, store, third).sequence == 3
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = ?", [us.name]) == 0
    with mx.open_store() as store:
        assert import_bundle(mx, store, _export(us, mx.name, full=True)).imported == {"seizure": 1}
