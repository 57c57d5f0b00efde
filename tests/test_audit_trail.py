"""An insider with database access but no signing key cannot quietly cut the audit log.

Each attack is done the way an insider would do it (SQL on the store), and ``audit verify`` must
name what is missing. The signed head kept outside the store and the partner's cosignature
(witness) are what catch the cuts that pass every check inside the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _puente_cli import cli as run  # the CLI in this process: the process itself is not the point here
from share_support import agreement_doc, install

from puente.audit import head, log, merkle
from puente.audit.verify import missing_range, verify_log
from puente.audit.witness import accept_cosignature, checkpoint_request, witness
from puente.errors import AuditError, BundleError
from puente.node import Node
from puente.share.export import export_bundle
from puente.share.receive import import_bundle
from puente.store.base import Store

N = 20


def _fill(node: Node, store: Store, n: int = N, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append(store, node, "analyst", "read", [f"r{i}"], None, f"reason {i}")


def _problems(node: Node, store: Store, home: bool = True) -> list[tuple[int, str, str]]:
    report = verify_log(store, node.name, node.public_key, node.home if home else None)
    return [(p.position, p.key, str(p.args.get("range", ""))) for p in report.problems]


def _cut_tail(store: Store, keep: int) -> None:
    """Delete every entry from ``keep`` on and restore, as the head, the checkpoint signed on the last kept row."""
    store.execute("DELETE FROM audit_records WHERE idx >= ?", [keep])
    store.execute("DELETE FROM audit_log WHERE idx >= ?", [keep])
    root, at, sig = store.query("SELECT tree_root, logged_at, signature FROM audit_log WHERE idx = ?", [keep - 1])[0]
    front = merkle.frontier(log.leaf_hashes(store))
    store.execute("DELETE FROM audit_head")
    store.execute("INSERT INTO audit_head VALUES ('head', ?, ?, ?, ?, ?)",
                  [keep, root, at, json.dumps([h.hex() for h in front]), sig])


def test_missing_range_is_written_with_thousands() -> None:
    assert missing_range(1235, 1244) == "1,235–1,244"
    assert missing_range(7, 7) == "7"


def test_tail_deletion_with_checkpoint_reuse_detected(node: Node, store: Store) -> None:
    _fill(node, store)
    assert head.read_head(node.home).size == N  # type: ignore[union-attr]
    _cut_tail(store, N - 10)
    assert _problems(node, store, home=False) == []  # inside the store, the cut is invisible
    assert _problems(node, store) == [(N - 10, "audit_missing", f"{N - 10}–{N - 1}")]
    store.close()  # the CLI opens the store itself
    proc = run(node.home, "audit", "verify")
    assert proc.returncode == 9, proc.stdout + proc.stderr
    assert f"entries {N - 10}–{N - 1} missing (10)" in proc.stdout


def test_wiped_log_detected(node: Node, store: Store) -> None:
    _fill(node, store)
    for table in ("audit_log", "audit_records", "audit_head"):
        store.execute(f"DELETE FROM {table}")
    assert _problems(node, store, home=False) == []  # "OK: 0 entries" before
    assert _problems(node, store) == [(0, "audit_missing", f"0–{N - 1}")]


def test_row_edits_and_deletions_named(node: Node, store: Store) -> None:
    _fill(node, store)
    store.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE idx = 7")
    problems = _problems(node, store)
    assert problems[0][:2] == (7, "audit_bad_leaf")
    assert (N - 1, "audit_outside_mismatch", "") in problems
    store.execute("UPDATE audit_log SET reason = 'reason 7' WHERE idx = 7")
    assert _problems(node, store) == []
    store.execute("DELETE FROM audit_log WHERE idx = 12")
    assert _problems(node, store)[0][:2] == (12, "audit_bad_index")


def test_head_file_only_moves_forward_and_ignores_rollbacks(node: Node, store: Store) -> None:
    _fill(node, store, 3)
    with pytest.raises(RuntimeError), store.transaction():
        log.append(store, node, "a", "export", [], None, "rolled back")
        raise RuntimeError("boom")
    assert head.read_head(node.home).size == 3  # type: ignore[union-attr]
    older = log.latest_checkpoint(store, node)
    _fill(node, store, 2, 3)
    head.record_head(node.home, older)  # a late writer never moves the head back
    assert head.read_head(node.home).size == 5  # type: ignore[union-attr]
    assert _problems(node, store) == []


def test_node_of_previous_release_gets_its_head_file(node: Node, store: Store) -> None:
    _fill(node, store, 4)
    store.close()
    head.head_path(node.home).unlink()  # as made by the previous release: no head outside the store
    with node.open_store() as reopened:
        kept = head.read_head(node.home)  # the store's head (4), then the entry saying so (5)
        assert kept is not None and kept.size == 5
        assert log.entries(reopened, 1)[0]["action"] == "audit_head_file"
        assert _problems(node, reopened) == []
        _cut_tail(reopened, 2)
        assert _problems(node, reopened) == [(2, "audit_missing", "2–4")]


@pytest.fixture
def partners(make_node: Any, store_url: str) -> tuple[Node, Node]:
    us = make_node("us-hsi", "US", store_url)
    mx = make_node("mx-fgr", "MX")
    install(us, mx, agreement_doc(us, mx, {"seizure": {"fields": {"drug": "keep"}}}))
    return us, mx


def _witness(us: Node, mx: Node) -> dict[str, Any]:
    with us.open_store() as s:
        request = checkpoint_request(us, s, mx.name)
    with mx.open_store() as s:
        doc = witness(mx, s, request)
    with us.open_store() as s:
        accept_cosignature(us, s, doc)
    return request


def test_witness_catches_a_cut_even_with_the_head_file_gone(partners: tuple[Node, Node]) -> None:
    us, mx = partners
    with us.open_store() as s:
        _fill(us, s, 12)
    _witness(us, mx)
    kept = head.witnessed(us.home)
    assert len(kept) == 1 and not isinstance(kept[0], str) and kept[0].valid()
    witnessed = kept[0].checkpoint.size
    with us.open_store() as s:
        assert _problems(us, s) == []
        _cut_tail(s, 5)
        head.head_path(us.home).unlink()  # the insider also removed the head file
    with us.open_store() as s:  # re-created from the cut store on open (+1 entry): only the witness still knows
        problems = _problems(us, s)
        assert (6, "audit_missing", f"6–{witnessed - 1}") in problems, problems
        request = checkpoint_request(us, s, mx.name)
    with mx.open_store() as s, pytest.raises(AuditError, match="rollback"):
        witness(mx, s, request)
    with mx.open_store() as s:
        assert log.entries(s, 1)[0]["action"] == "witness_refused"


def test_witness_refuses_forgeries_and_bundles_refuse_older_checkpoints(partners: tuple[Node, Node]) -> None:
    us, mx = partners
    with us.open_store() as s:
        _fill(us, s, 3)
        stale = export_bundle(us, s, mx.name)  # made before the next witnessed checkpoint
        _fill(us, s, 3, 3)
    request = _witness(us, mx)
    forged = json.loads(json.dumps(request))
    forged["checkpoint"]["size"] += 5
    with mx.open_store() as s, pytest.raises(AuditError, match="not validly signed"):
        witness(mx, s, forged)
    with mx.open_store() as s, pytest.raises(BundleError, match="rollback"):
        import_bundle(mx, s, stale)
    with mx.open_store() as s:
        assert [e["action"] for e in log.entries(s, 2)] == ["witness_refused", "import_rejected"]
    with us.open_store() as s:
        fresh = export_bundle(us, s, mx.name)
    with mx.open_store() as s:
        assert import_bundle(mx, s, fresh).sender == us.name


def test_witness_cli_round_trip(partners: tuple[Node, Node], tmp_path: Path) -> None:
    us, mx = partners
    with us.open_store() as s:
        _fill(us, s, 2)
    request = tmp_path / "cp.json"
    assert run(us.home, "audit", "checkpoint", "--to", mx.name, "-o", str(request)).returncode == 0
    proc = run(mx.home, "audit", "witness", str(request), "-o", str(tmp_path / "cosig.json"))
    assert proc.returncode == 0, proc.stderr
    proc = run(us.home, "audit", "cosigned", str(tmp_path / "cosig.json"))
    assert proc.returncode == 0 and "mx-fgr countersigned" in proc.stdout, proc.stderr
    proc = run(mx.home, "audit", "witness", str(request), "-o", str(tmp_path / "again.json"))
    assert proc.returncode == 0  # the same checkpoint again is not a rollback
    assert run(us.home, "audit", "verify").returncode == 0


def test_witness_over_http(make_node: Any) -> None:
    from fastapi.testclient import TestClient

    from puente.api import auth
    from puente.api.app import create_app

    us, mx = make_node("us-hsi", "US"), make_node("mx-fgr", "MX")
    install(us, mx, agreement_doc(us, mx, {"seizure": {"fields": {"drug": "keep"}}}))
    with mx.open_store() as s:
        auth.add_user(s, "us-node", "partner-node", None, partner=us.name)
        auth.add_user(s, "other", "partner-node", None, partner="zz-node")
        token, other = auth.issue_token(s, "us-node"), auth.issue_token(s, "other")
    with us.open_store() as s:
        _fill(us, s, 3)
        request = checkpoint_request(us, s, mx.name)
    with TestClient(create_app(mx, rate_limit=0)) as client:
        assert client.post("/api/v1/audit/witness", json=request,
                           headers={"Authorization": f"Bearer {other}"}).status_code == 403
        ok = client.post("/api/v1/audit/witness", json=request, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        forged = {**request, "checkpoint": {**request["checkpoint"], "size": 1}}
        bad = client.post("/api/v1/audit/witness", json=forged, headers={"Authorization": f"Bearer {token}"})
        assert bad.status_code == 422 and "not validly signed" in bad.json()["detail"]
    with us.open_store() as s:
        kept = accept_cosignature(us, s, ok.json())
        assert kept.witness == mx.name and kept.checkpoint.size == request["checkpoint"]["size"]
        assert _problems(us, s) == []
