"""What a store holds, as plain JSON, to compare a previous release's node before and after an upgrade.

Written with nothing but ``Store.query`` and portable SQL so that the same function runs on the
previous release (tests/fixtures/release-0.1/build.py records ``expected.json`` with it) and on the
current code (tests/test_upgrade.py compares against that file after the migrations ran).
Sorting is done here, not in SQL: DuckDB and PostgreSQL collate text differently.
"""

from __future__ import annotations

import hashlib
from typing import Any

# bookkeeping tables whose every row must survive, with the columns that identify the row's content
TABLE_ROWS: dict[str, list[str]] = {
    "quarantine": ["file_hash", "source_row", "kind", "source_file", "field", "reason_key", "raw"],
    "batches": ["batch_id", "kind", "profile", "file_hash", "rows_read", "stored", "updated", "quarantined"],
    "share_agreements": ["agreement_id", "version", "partner", "document", "signatures", "status"],
    "share_bundles": ["bundle_id", "direction", "partner", "agreement_id", "version", "seq", "records"],
    "share_peers": ["partner", "seq_sent", "seq_received", "partner_size", "partner_root"],
    "audit_log": ["idx", "node", "actor", "action", "records_count", "records_sha256", "clause", "reason",
                  "leaf_hash", "tree_root", "signature"],
    "audit_head": ["name", "size", "root", "signature"],
    "audit_published": ["partner", "size", "root", "signature", "bundle_id"],
    "audit_partner": ["partner", "size", "root", "signature", "bundle_id"],
    "node_meta": ["key", "value"],
    "api_users": ["username", "role", "partner"],
    "api_partners": ["partner", "url"],
}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, int | str | bool) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 9)
    return str(value)


def _digest(rows: list[list[Any]]) -> str:
    text = "\n".join("\x1f".join("" if v is None else str(v) for v in row) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def snapshot(store: Any, audit_below: int | None = None) -> dict[str, Any]:
    """Counts of every table; for every record kind, a digest of all (id, content_hash) pairs and a
    sample of ids; for the bookkeeping tables above, their rows (long values by digest). With
    ``audit_below``, the audit records digest covers only the entries before that index (the ones an
    older release wrote; opening a node may append entries of its own)."""
    tables = sorted(r[0] for r in store.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))
    out: dict[str, Any] = {"counts": {}, "kinds": {}, "rows": {}}
    for table in tables:
        out["counts"][table] = int(store.query(f"SELECT COUNT(*) FROM {table}")[0][0])
        columns = set(store.table_columns(table))
        if {"id", "content_hash", "owner_node"} <= columns:
            pairs = sorted([str(i), str(h), str(o)] for i, h, o in
                           store.query(f"SELECT id, content_hash, owner_node FROM {table}"))
            out["kinds"][table] = {"digest": _digest(pairs), "sample": [p[0] for p in pairs[:: max(1, len(pairs) // 5)]]}
        if table in TABLE_ROWS:
            cols = TABLE_ROWS[table]
            rows = sorted(([_plain(v) for v in row] for row in
                           store.query(f"SELECT {', '.join(cols)} FROM {table}")), key=repr)
            out["rows"][table] = [[v if not isinstance(v, str) or len(v) <= 200 else
                                   "sha256:" + hashlib.sha256(v.encode()).hexdigest() for v in row] for row in rows]
    audit_ids = sorted([int(i), int(p), str(r)] for i, p, r in store.query("SELECT idx, pos, record_id FROM audit_records")
                       if audit_below is None or int(i) < audit_below)
    out["audit_records"] = _digest(audit_ids)
    return out
