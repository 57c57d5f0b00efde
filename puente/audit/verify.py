"""Check the stored audit log against itself, its signatures and the checkpoints shared with partners.

Every problem carries the position (0-based entry index) where the log stops being the log that
was signed: an edited entry fails its leaf hash or its signed root; a deleted, inserted or
reordered entry breaks the index sequence and the signed roots; a truncated log is shorter than
its signed head or than a checkpoint already given to a partner.

With the node's home, the log is also checked against the heads kept outside the store: the latest
head this node ever signed and the latest head each partner countersigned (:mod:`puente.audit.head`).
An insider who deletes the tail and restores the checkpoint stored on the last remaining row, or
empties the log, passes every check inside the store but not these: the missing range is named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from puente.audit import merkle
from puente.audit.checkpoint import Checkpoint, public_key_from_pem
from puente.audit.log import Entry, entry_bytes, records_digest
from puente.errors import ProofError
from puente.store.base import Store


@dataclass(frozen=True)
class Problem:
    position: int
    key: str  # message key (audit/messages.yaml)
    detail: str = ""
    args: dict[str, Any] = field(default_factory=dict)  # further message arguments


@dataclass
class VerifyReport:
    size: int
    root: bytes
    problems: list[Problem]
    partner_checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _record_digests(store: Store) -> dict[int, tuple[int, str]]:
    out: dict[int, tuple[int, str]] = {}
    current: int | None = None
    ids: list[str] = []
    for idx, rid in store.query("SELECT idx, record_id FROM audit_records ORDER BY idx, pos"):
        if idx != current:
            if current is not None:
                out[current] = records_digest(ids)
            current, ids = idx, []
        ids.append(rid)
    if current is not None:
        out[current] = records_digest(ids)
    return out


def verify_log(store: Store, node_name: str, key: Ed25519PublicKey, home: Path | None = None) -> VerifyReport:
    problems: list[Problem] = []
    digests = _record_digests(store)
    rows = store.query(
        "SELECT idx, logged_at, node, actor, action, records_count, records_sha256, clause, reason, leaf_hash, tree_root, "
        "signature, bundle_id FROM audit_log ORDER BY idx")
    leaves: list[bytes] = []
    front: list[bytes] = []
    root_broken = False
    for pos, (idx, at, node, actor, action, count, sha, clause, reason, leaf, tree_root, sig, bundle) in enumerate(rows):
        if idx != pos:
            problems.append(Problem(pos, "audit_bad_index", f"{idx}"))
        entry = Entry(int(idx), at, node, actor, action, int(count), sha, clause, reason)
        computed = merkle.leaf_hash(entry_bytes(entry))
        if computed.hex() != leaf:
            problems.append(Problem(pos, "audit_bad_leaf"))
        if digests.get(int(idx), (0, records_digest([])[1])) != (int(count), sha):
            problems.append(Problem(pos, "audit_bad_records"))
        if bundle is not None and not str(reason).startswith(f"bundle {bundle} "):  # the column is not in the leaf
            problems.append(Problem(pos, "audit_bad_bundle", str(bundle)))
        front = merkle.frontier_append(front, pos, computed)
        leaves.append(computed)
        root = merkle.root_from_frontier(front)
        if not root_broken:
            checkpoint = Checkpoint(node_name, pos + 1, bytes.fromhex(tree_root), at, bytes.fromhex(sig))
            if not checkpoint.valid(key):
                problems.append(Problem(pos, "audit_bad_signature"))
                root_broken = True
            elif root != checkpoint.root:
                problems.append(Problem(pos, "audit_bad_root"))
                root_broken = True
    size = len(rows)
    root = merkle.root_from_frontier(front)
    head = store.query("SELECT size, root, logged_at, signature FROM audit_head WHERE name = 'head'")
    if head:
        h_size, h_root, h_at, h_sig = head[0]
        checkpoint = Checkpoint(node_name, int(h_size), bytes.fromhex(h_root), h_at, bytes.fromhex(h_sig))
        if not checkpoint.valid(key):
            problems.append(Problem(size, "audit_bad_head"))
        elif checkpoint.size > size:
            problems.append(Problem(size, "audit_truncated", str(checkpoint.size)))
        elif checkpoint.size < size or checkpoint.root != root:
            problems.append(Problem(min(checkpoint.size, size), "audit_head_mismatch", str(checkpoint.size)))
    elif size:
        problems.append(Problem(0, "audit_no_head"))
    for partner, p_size, p_root, p_at, p_sig in store.query(
            "SELECT partner, size, root, logged_at, signature FROM audit_published ORDER BY size"):
        checkpoint = Checkpoint(node_name, int(p_size), bytes.fromhex(p_root), p_at, bytes.fromhex(p_sig))
        if checkpoint.size > size:
            problems.append(Problem(size, "audit_truncated_published", f"{partner}:{checkpoint.size}"))
        elif merkle.root(leaves[: checkpoint.size]) != checkpoint.root:
            problems.append(Problem(checkpoint.size, "audit_published_mismatch", partner))
    problems += _evidence(store, size)
    if home is not None:
        problems += _outside_heads(home, node_name, key, leaves)
    problems.sort(key=lambda p: p.position)
    return VerifyReport(size=size, root=root, problems=problems)


def _evidence(store: Store, size: int) -> list[Problem]:
    """Every row of audit_published / audit_partner the log recorded (``evidence`` entries) must still be there,
    unchanged, and every row there must have been recorded: deleted, emptied, edited and hand-inserted rows."""
    from puente.audit.log import EVIDENCE_COLUMNS, evidence_rows

    recorded: dict[str, int] = {}
    for idx, rid in store.query("SELECT r.idx, r.record_id FROM audit_records r JOIN audit_log l ON l.idx = r.idx "
                                "WHERE l.action = 'evidence' ORDER BY r.idx, r.pos"):
        recorded.setdefault(str(rid), int(idx))
    problems: list[Problem] = []
    for table in EVIDENCE_COLUMNS:
        present = set(evidence_rows(store, table))
        mine = {rid: idx for rid, idx in recorded.items() if rid.startswith(f"{table}:")}
        gone = sorted((idx, rid) for rid, idx in mine.items() if rid not in present)
        for idx, _rid in gone:
            problems.append(Problem(idx, "audit_evidence_missing", table, {"table": table, "total": len(mine)}))
        unrecorded = len(present - set(mine))
        if unrecorded:
            problems.append(Problem(size, "audit_evidence_unrecorded", table, {"table": table, "count": unrecorded}))
    return problems


def missing_range(first: int, last: int) -> str:
    return f"{first:,}" if first == last else f"{first:,}–{last:,}"


def _outside_heads(home: Path, node_name: str, key: Ed25519PublicKey, leaves: list[bytes]) -> list[Problem]:
    """The stored log must still contain the latest head this node signed and every countersigned head."""
    from puente.audit.head import head_path, read_head, witnessed

    size = len(leaves)
    heads: list[tuple[str, Checkpoint]] = []
    problems: list[Problem] = []
    unreadable = False
    try:
        head = read_head(home)
    except ValueError as exc:
        problems.append(Problem(size, "audit_head_file_bad", str(exc)))
        head, unreadable = None, True
    if head is not None:
        heads.append((str(head_path(home)), head))
    elif size and not unreadable:  # an unreadable file is one problem, not also a missing one
        problems.append(Problem(size, "audit_head_file_missing", str(head_path(home))))
    for cosigned in witnessed(home):
        if isinstance(cosigned, str):
            problems.append(Problem(size, "audit_cosignature_bad", cosigned))
        elif not cosigned.valid():
            problems.append(Problem(size, "audit_cosignature_bad", cosigned.witness))
        else:
            heads.append((f"witness {cosigned.witness}", cosigned.checkpoint))
    for where, checkpoint in heads:
        if checkpoint.node != node_name or not checkpoint.valid(key):
            problems.append(Problem(size, "audit_outside_bad_signature", where))
        elif checkpoint.size > size:
            problems.append(Problem(size, "audit_missing", where, {
                "range": missing_range(size, checkpoint.size - 1), "count": checkpoint.size - size,
                "size": f"{checkpoint.size:,}"}))
        elif merkle.root(leaves[: checkpoint.size]) != checkpoint.root:
            problems.append(Problem(max(checkpoint.size - 1, 0), "audit_outside_mismatch", where, {"size": f"{checkpoint.size:,}"}))
    return problems


def verify_partner_checkpoints(store: Store) -> tuple[int, list[Problem]]:
    """Re-check every checkpoint received from partners: signature, and that each log only grew."""
    problems: list[Problem] = []
    rows = store.query("SELECT partner, size, root, logged_at, signature, public_key, proof FROM audit_partner "
                       "ORDER BY partner, received_at, size")
    previous: dict[str, Checkpoint] = {}
    for partner, size, root, at, sig, pem, proof in rows:
        checkpoint = Checkpoint(partner, int(size), bytes.fromhex(root), at, bytes.fromhex(sig))
        if not checkpoint.valid(public_key_from_pem(pem)):
            problems.append(Problem(int(size), "audit_partner_bad_signature", partner))
            continue
        before = previous.get(partner)
        if before is not None:
            try:
                merkle.verify_consistency(before.size, checkpoint.size, [bytes.fromhex(h) for h in json.loads(proof)],
                                          before.root, checkpoint.root)
            except ProofError as exc:
                problems.append(Problem(int(size), "audit_partner_inconsistent", f"{partner}: {exc.args_['reason']}"))
        previous[partner] = checkpoint
    return len(rows), problems
