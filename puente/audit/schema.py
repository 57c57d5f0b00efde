"""Audit tables (migrations 200–299).

``audit_log``        one row per entry: its fields, its RFC 9162 leaf hash, the tree root after it
                     and the node's Ed25519 signature over the checkpoint (index + 1, root, time);
                     ``bundle_id``: the bundle an export entry shipped (NULL otherwise; not part of the
                     leaf: ``audit verify`` checks it against the signed reason).
``audit_records``    the record ids an entry names (in order); the entry commits to their SHA-256.
``audit_head``       the latest signed checkpoint and the tree frontier, so appends are O(log n)
                     and a truncated log is detected.
``audit_published``  checkpoints this node sent to partners (they hold copies: the outside witness).
``audit_partner``    checkpoints received from partners, with the consistency proof that linked them.
"""

from __future__ import annotations

from puente.store.base import Store
from puente.store.migrations import register


@register(200, "audit log, records, head, published and partner checkpoints")
def _audit(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS audit_log (idx BIGINT PRIMARY KEY, logged_at TEXT, node TEXT, actor TEXT, action TEXT, "
        "records_count BIGINT, records_sha256 TEXT, clause TEXT, reason TEXT, leaf_hash TEXT, tree_root TEXT, "
        "signature TEXT)"
    )
    store.execute("CREATE TABLE IF NOT EXISTS audit_records (idx BIGINT, pos BIGINT, record_id TEXT)")
    store.execute(
        "CREATE TABLE IF NOT EXISTS audit_head (name TEXT PRIMARY KEY, size BIGINT, root TEXT, logged_at TEXT, "
        "frontier TEXT, signature TEXT)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS audit_published (partner TEXT, size BIGINT, root TEXT, logged_at TEXT, signature TEXT, "
        "bundle_id TEXT)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS audit_partner (partner TEXT, size BIGINT, root TEXT, logged_at TEXT, signature TEXT, "
        "public_key TEXT, proof TEXT, bundle_id TEXT, received_at TIMESTAMP)"
    )


@register(201, "audit log: the bundle an export entry shipped, as a column")
def _bundle_column(store: Store) -> None:
    """Readers (the API's scorecard) found an export's bundle by matching the text of ``reason``
    (``bundle <id> #<seq> to ...``); the id is now its own column. Entries written before are back-filled
    from that text once, here, so a node of the previous release migrates in place; the signed entry is
    unchanged (the column is not part of the leaf)."""
    store.execute("ALTER TABLE audit_log ADD COLUMN bundle_id TEXT")
    store.execute("UPDATE audit_log SET bundle_id = split_part(reason, ' ', 2) "
                  "WHERE action = 'export' AND reason LIKE 'bundle %'")


@register(202, "audit evidence: checkpoints exchanged before this release, to chain into the log once")
def _evidence_pending(store: Store) -> None:
    """Rows of ``audit_published`` / ``audit_partner`` are now chained into the log as they are written
    (``evidence`` entries, :func:`puente.audit.log.keep_evidence`). A store of an earlier release holds rows
    without one: this marks it, and the next open (which has the signing key) chains them with one entry
    (:func:`puente.audit.log.ensure_evidence`) and removes the mark. A store with no such rows is never
    marked, so a row inserted by hand later is never sealed."""
    store.execute("CREATE TABLE IF NOT EXISTS audit_evidence_pending (name TEXT PRIMARY KEY)")
    if store.query("SELECT 1 FROM audit_published LIMIT 1") or store.query("SELECT 1 FROM audit_partner LIMIT 1"):
        store.execute("INSERT INTO audit_evidence_pending VALUES ('upgrade')")
