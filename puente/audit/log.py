"""The append-only audit log: every export, import, revocation, purge, policy change and read of
partner data appends one entry here (time, actor, action, records, agreement clause, reason).

Each entry is serialised canonically (:func:`entry_bytes`) and becomes an RFC 9162 leaf. Every
append stores the new tree root and the node's signature over the checkpoint for the new size,
so ``puente audit verify`` can locate an edited, deleted, reordered, inserted or truncated entry.
Once the append commits, the new signed head is also kept outside the store (:mod:`puente.audit.head`),
so a log cut back to an older signed head is still detected.
Appends join the caller's transaction: an export that rolls back leaves no audit entry either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from puente.audit import merkle
from puente.audit.checkpoint import Checkpoint
from puente.audit.head import record_head
from puente.node import Node
from puente.store.base import Store

ENTRY_VERSION = 1
_RECORDS_SCHEMA = pa.schema([("idx", pa.int64()), ("pos", pa.int64()), ("record_id", pa.string())])


@dataclass(frozen=True)
class Entry:
    index: int
    at: str
    node: str
    actor: str
    action: str
    records_count: int
    records_sha256: str
    clause: str | None
    reason: str


def records_digest(records: Iterable[str]) -> tuple[int, str]:
    """Count and SHA-256 of the record ids, each followed by a newline, in order."""
    digest = hashlib.sha256()
    count = 0
    for rid in records:
        digest.update(rid.encode() + b"\n")
        count += 1
    return count, digest.hexdigest()


def _ids_digest(records: pa.Array | pa.ChunkedArray) -> tuple[int, str]:
    """:func:`records_digest` of an Arrow array of ids, without a Python string per id."""
    digest = hashlib.sha256()
    chunks = records.chunks if isinstance(records, pa.ChunkedArray) else [records]
    for chunk in chunks:
        if len(chunk):
            chunk = chunk.cast(pa.large_string())
            whole = pa.LargeListArray.from_arrays(pa.array([0, len(chunk)], pa.int64()), chunk)
            digest.update(pc.binary_join(whole, pa.scalar("\n", pa.large_string()))[0].as_buffer())
            digest.update(b"\n")
    return len(records), digest.hexdigest()


def entry_bytes(e: Entry) -> bytes:
    """The canonical form of an entry: sorted-key compact JSON in UTF-8 (the leaf data)."""
    doc = {"v": ENTRY_VERSION, "index": e.index, "at": e.at, "node": e.node, "actor": e.actor, "action": e.action,
           "records_count": e.records_count, "records_sha256": e.records_sha256, "clause": e.clause,
           "reason": e.reason}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _head(store: Store, lock: bool = False) -> tuple[int, list[bytes]]:
    sql = "SELECT size, frontier FROM audit_head WHERE name = 'head'"
    if lock:
        sql += store.dialect.for_update  # PostgreSQL locks the head row; DuckDB has one writer anyway
    rows = store.query(sql)
    if not rows:
        return 0, []
    size, front = rows[0]
    return int(size), [bytes.fromhex(h) for h in json.loads(front)]


def append(store: Store, node: Node, actor: str, action: str, records: list[str] | pa.Array | pa.ChunkedArray,
           clause: str | None, reason: str, bundle_id: str | None = None) -> int:
    """Append one entry and sign the checkpoint for the new size. Returns the entry's index. ``records`` may be
    an Arrow array (a whole bundle's ids): the entry commits to them the same way.

    ``bundle_id``: the bundle an export ships, stored in its own column for readers
    (:mod:`puente.audit.queries`); the reason must name it (``bundle <id> ...``), which ``audit verify`` checks."""
    with store.transaction():
        # An append of another process (PostgreSQL) waits on the head row and then reads the head that one
        # wrote, so the row is updated in place below (a row deleted and inserted again is not followed: the
        # waiter read no head, size 0, and died on audit_log's key), and it exists before the first entry (an
        # empty head, replaced in this transaction)
        store.execute("INSERT INTO audit_head (name, size, root, logged_at, frontier, signature) "
                      "VALUES ('head', 0, ?, '', '[]', '') ON CONFLICT (name) DO NOTHING", [merkle.EMPTY_ROOT.hex()])
        size, front = _head(store, lock=True)
        arrow = isinstance(records, (pa.Array, pa.ChunkedArray))
        count, digest = _ids_digest(records) if arrow else records_digest(records)
        entry = Entry(size, now_iso(), node.name, actor, action, count, digest, clause, reason)
        leaf = merkle.leaf_hash(entry_bytes(entry))
        front = merkle.frontier_append(front, size, leaf)
        checkpoint = Checkpoint(node.name, size + 1, merkle.root_from_frontier(front), entry.at).signed(
            node.signing_key)
        store.execute(
            "INSERT INTO audit_log (idx, logged_at, node, actor, action, records_count, records_sha256, clause, reason, "
            "leaf_hash, tree_root, signature, bundle_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [size, entry.at, entry.node, actor, action, count, digest, clause, reason, leaf.hex(),
             checkpoint.root.hex(), checkpoint.signature.hex(), bundle_id],
        )
        if count:
            store.insert_arrow("audit_records", pa.table(
                {"idx": pa.repeat(pa.scalar(size, pa.int64()), count),
                 "pos": pa.array(range(count), pa.int64()),
                 "record_id": records if arrow else pa.array(records, pa.string())}, schema=_RECORDS_SCHEMA))
        store.execute("UPDATE audit_head SET size = ?, root = ?, logged_at = ?, frontier = ?, signature = ? "
                      "WHERE name = 'head'",
                      [checkpoint.size, checkpoint.root.hex(), checkpoint.at, json.dumps([h.hex() for h in front]),
                       checkpoint.signature.hex()])
        store.after_commit(lambda: record_head(node.home, checkpoint))
    return size


def latest_checkpoint(store: Store, node: Node) -> Checkpoint:
    """The signed checkpoint of the current log (size 0: the empty tree, signed now)."""
    rows = store.query("SELECT size, root, logged_at, signature FROM audit_head WHERE name = 'head'")
    if not rows:
        return Checkpoint(node.name, 0, merkle.EMPTY_ROOT, now_iso()).signed(node.signing_key)
    size, root, at, sig = rows[0]
    return Checkpoint(node.name, int(size), bytes.fromhex(root), at, bytes.fromhex(sig))


def leaf_hashes(store: Store, size: int | None = None) -> list[bytes]:
    sql = "SELECT leaf_hash FROM audit_log ORDER BY idx"
    rows = store.query(sql + (" LIMIT ?" if size is not None else ""), [size] if size is not None else [])
    return [bytes.fromhex(r[0]) for r in rows]


def consistency_proof(store: Store, size1: int, size2: int) -> list[bytes]:
    return merkle.consistency_proof(leaf_hashes(store, size2), size1)


def inclusion_proof(store: Store, index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(leaf_hashes(store, size), index)


def entries(store: Store, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE action = ?", [action]) if action else ("", [])
    rows = store.query(
        f"SELECT idx, logged_at, actor, action, records_count, clause, reason FROM audit_log {where} "
        "ORDER BY idx DESC LIMIT ?", [*params, limit])
    keys = ("index", "at", "actor", "action", "records", "clause", "reason")
    return [dict(zip(keys, r)) for r in reversed(rows)]


def entry_records(store: Store, index: int) -> list[str]:
    return [r[0] for r in store.query("SELECT record_id FROM audit_records WHERE idx = ? ORDER BY pos", [index])]


# -- evidence kept beside the log: checkpoints published to partners and received from them ----------------
# Each row of audit_published / audit_partner is chained into the log when it is written: an ``evidence`` entry
# whose record list is ``<table>:<SHA-256 of the row>``. ``audit verify`` recomputes the rows' digests, so a
# deleted, emptied or edited row (and one inserted by hand) is reported with the entry that recorded it.
EVIDENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "audit_published": ("partner", "size", "root", "logged_at", "signature", "bundle_id"),
    "audit_partner": ("partner", "size", "root", "logged_at", "signature", "public_key", "proof", "bundle_id"),
}  # audit_partner.received_at (a local timestamp) is not in the digest: editing it changes no evidence


def evidence_id(table: str, values: list[Any] | tuple[Any, ...]) -> str:
    """``<table>:<sha256>`` of a row's evidence columns (in :data:`EVIDENCE_COLUMNS` order)."""
    text = json.dumps([None if v is None else str(v) for v in values], separators=(",", ":"), ensure_ascii=False)
    return f"{table}:{hashlib.sha256(text.encode()).hexdigest()}"


def evidence_rows(store: Store, table: str) -> list[str]:
    """The evidence id of every row of ``table`` as stored now."""
    cols = ", ".join(EVIDENCE_COLUMNS[table])
    return [evidence_id(table, row) for row in store.query(f"SELECT {cols} FROM {table}")]


def keep_evidence(store: Store, node: Node, table: str, values: list[Any], reason: str, actor: str = "node") -> None:
    """Insert one row of audit_published / audit_partner and chain its digest into the log (one transaction)."""
    cols = EVIDENCE_COLUMNS[table]
    with store.transaction():
        names = [*cols, "received_at"] if table == "audit_partner" else list(cols)
        store.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
        append(store, node, actor, "evidence", [evidence_id(table, values[: len(cols)])], None, reason)


def publish(store: Store, node: Node, checkpoint: Checkpoint, partner: str, bundle_id: str) -> None:
    """Remember a checkpoint sent to a partner (who keeps a copy: the outside witness)."""
    keep_evidence(store, node, "audit_published",
                  [partner, checkpoint.size, checkpoint.root.hex(), checkpoint.at, checkpoint.signature.hex(), bundle_id],
                  f"checkpoint of {checkpoint.size} entries published to {partner} ({bundle_id})")


def ensure_evidence(node: Any, store: Any) -> None:
    """A store of a release before evidence entries (marked by migration 202): chain every row of
    audit_published / audit_partner it holds into the log with one entry, once, and remove the mark."""
    if not store.table_columns("audit_evidence_pending") or not store.query("SELECT 1 FROM audit_evidence_pending"):
        return
    with store.transaction():
        _head(store, lock=True)  # one opener seals (PostgreSQL: the head row is locked)
        if not store.query("SELECT 1 FROM audit_evidence_pending"):
            return
        if store.query("SELECT 1 FROM audit_log WHERE action = 'evidence' LIMIT 1"):  # a mark made by hand:
            store.execute("DELETE FROM audit_evidence_pending")  # rows are chained as written; never re-sealed
            return
        published, received = evidence_rows(store, "audit_published"), evidence_rows(store, "audit_partner")
        append(store, node, "node", "evidence", sorted(set(published + received)), None,
               f"checkpoints kept before this release, chained into the log on upgrade: {len(published)} published "
               f"to partners, {len(received)} received from partners")
        store.execute("DELETE FROM audit_evidence_pending")
