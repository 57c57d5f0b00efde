"""The stored audit log: appends, signed checkpoints, and detection of every kind of tampering."""

from __future__ import annotations

import pytest

from puente.audit import log, merkle
from puente.audit.verify import verify_log
from puente.node import Node
from puente.store.base import Store

N = 10


@pytest.fixture
def filled(node: Node, store: Store) -> Store:
    for i in range(N):
        idx = log.append(store, node, "analyst", "read", [f"r{i}a", f"r{i}b"], f"clause-{i}", f"reason {i}")
        assert idx == i
    return store


def _positions(node: Node, store: Store) -> list[tuple[int, str]]:
    return [(p.position, p.key) for p in verify_log(store, node.name, node.public_key).problems]


def test_append_and_verify(node: Node, filled: Store) -> None:
    report = verify_log(filled, node.name, node.public_key)
    assert report.ok and report.size == N
    cp = log.latest_checkpoint(filled, node)
    assert cp.size == N and cp.valid(node.public_key) and cp.root == report.root
    leaves = log.leaf_hashes(filled)
    for i in range(N):
        merkle.verify_inclusion(leaves[i], i, N, log.inclusion_proof(filled, i, N), cp.root)
    first = merkle.root(leaves[:4])
    merkle.verify_consistency(4, N, log.consistency_proof(filled, 4, N), first, cp.root)
    assert log.entry_records(filled, 3) == ["r3a", "r3b"]


def test_rollback_leaves_no_entry(node: Node, filled: Store) -> None:
    with pytest.raises(RuntimeError), filled.transaction():
        log.append(filled, node, "a", "export", [], None, "x")
        raise RuntimeError("boom")
    assert verify_log(filled, node.name, node.public_key).size == N
    assert _positions(node, filled) == []


def test_edit_detected(node: Node, filled: Store) -> None:
    filled.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE idx = 3")
    assert _positions(node, filled)[0] == (3, "audit_bad_leaf")


def test_edit_with_recomputed_leaf_detected(node: Node, filled: Store) -> None:
    row = filled.query("SELECT idx, logged_at, node, actor, action, records_count, records_sha256, clause, reason "
                       "FROM audit_log WHERE idx = 5")[0]
    forged = log.Entry(*row[:8], "edited")  # type: ignore[arg-type]
    filled.execute("UPDATE audit_log SET reason = 'edited', leaf_hash = ? WHERE idx = 5",
                   [merkle.leaf_hash(log.entry_bytes(forged)).hex()])
    assert _positions(node, filled)[0] == (5, "audit_bad_root")


def test_records_edit_detected(node: Node, filled: Store) -> None:
    filled.execute("UPDATE audit_records SET record_id = 'other' WHERE idx = 6 AND pos = 1")
    assert _positions(node, filled)[0] == (6, "audit_bad_records")


def test_deletion_detected(node: Node, filled: Store) -> None:
    filled.execute("DELETE FROM audit_log WHERE idx = 4")
    assert _positions(node, filled)[0] == (4, "audit_bad_index")


def test_reordering_detected(node: Node, filled: Store) -> None:
    filled.execute("UPDATE audit_log SET idx = 100 WHERE idx = 2")
    filled.execute("UPDATE audit_log SET idx = 2 WHERE idx = 7")
    filled.execute("UPDATE audit_log SET idx = 7 WHERE idx = 100")
    assert _positions(node, filled)[0][0] == 2


def test_insertion_detected(node: Node, filled: Store) -> None:
    for idx in range(N - 1, 2, -1):
        filled.execute("UPDATE audit_log SET idx = ? WHERE idx = ?", [idx + 1, idx])
    filled.execute("INSERT INTO audit_log SELECT 3, logged_at, node, actor, action, records_count, records_sha256, clause, "
                   "'inserted', leaf_hash, tree_root, signature, bundle_id FROM audit_log WHERE idx = 2")
    assert _positions(node, filled)[0][0] == 3


def test_truncation_detected(node: Node, filled: Store) -> None:
    filled.execute("DELETE FROM audit_log WHERE idx >= 7")
    assert _positions(node, filled) == [(7, "audit_truncated")]


def test_truncation_with_forged_head_detected_by_published_checkpoint(node: Node, filled: Store) -> None:
    log.publish(filled, node, log.latest_checkpoint(filled, node), "mx-test", "b1")
    filled.execute("DELETE FROM audit_log WHERE idx >= 7")
    filled.execute("UPDATE audit_head SET size = 7")
    problems = _positions(node, filled)
    assert (7, "audit_bad_head") in problems and (7, "audit_truncated_published") in problems


class _Rollback(Exception):
    pass


TAMPERING = {
    "edit": ["UPDATE audit_log SET reason = reason || '!' WHERE idx = {p}"],
    "delete": ["DELETE FROM audit_log WHERE idx = {p}"],
    "swap": ["UPDATE audit_log SET idx = -1 WHERE idx = {p}", "UPDATE audit_log SET idx = {p} WHERE idx = {p} + 1",
             "UPDATE audit_log SET idx = {p} + 1 WHERE idx = -1"],
    "insert": ["UPDATE audit_log SET idx = idx + 1000 WHERE idx >= {p}",
               "UPDATE audit_log SET idx = idx - 999 WHERE idx >= 1000",
               ("INSERT INTO audit_log SELECT {p}, logged_at, node, actor, action, records_count, records_sha256, "
                "clause, 'forged', leaf_hash, tree_root, signature, bundle_id FROM audit_log WHERE idx = {p} + 1")],
    "truncate": ["DELETE FROM audit_log WHERE idx >= {p}"],
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_every_position_of_every_tampering_is_located(node: Node, filled: Store, how: str) -> None:
    for p in range(N - 1 if how == "swap" else N):
        try:
            with filled.transaction():
                for sql in TAMPERING[how]:
                    filled.execute(sql.format(p=p))
                problems = _positions(node, filled)
                assert problems and problems[0][0] == p, (how, p, problems)
                raise _Rollback
        except _Rollback:
            pass
    assert _positions(node, filled) == []
