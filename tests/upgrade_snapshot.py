"""What a store holds, as plain JSON, to compare a previous release's node before and after an upgrade.

Written with nothing but ``Store.query`` and portable SQL so that the same function runs on the
previous release (tests/fixtures/release-*/build.py records ``expected.json`` with it) and on the
current code (tests/test_upgrade.py compares against that file after the migrations ran).
Sorting is done here, not in SQL: DuckDB and PostgreSQL collate text differently.

Sections: ``counts``, ``kinds``, ``rows`` and ``audit_records`` (every fixture has them), and ``tables``
(fixtures from release 12 on): for every table, the columns it had and a digest of all its rows over those
columns, so that a migration that drops or changes any value of any row (a record's field, a field issue,
a token, a hit reference...) shows. The comparison skips a section an older ``expected.json`` lacks.
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


# tables a ``tables`` digest leaves out: the migrations ledger grows with every release, and the audit head moves
# when opening appends entries (its rows are compared in ``rows``, and what it signs is checked by audit verify)
UNDIGESTED = {"schema_migrations", "audit_head"}
# tables that opening a node may append to: their digest covers the rows of the entries an older release wrote
BY_AUDIT_INDEX = {"audit_log": "idx", "audit_records": "idx"}


def _table_digest(store: Any, table: str, columns: list[str], audit_below: int | None) -> dict[str, Any]:
    where = ""
    if audit_below is not None and table in BY_AUDIT_INDEX:
        where = f" WHERE {BY_AUDIT_INDEX[table]} < {int(audit_below)}"
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = sorted(([_plain(v) for v in row] for row in store.query(f"SELECT {quoted} FROM {table}{where}")), key=repr)
    return {"columns": columns, "rows": len(rows), "digest": _digest(rows)}


def snapshot(store: Any, audit_below: int | None = None,
             digest_columns: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Counts of every table; for every record kind, a digest of all (id, content_hash) pairs and a
    sample of ids; for the bookkeeping tables above, their rows (long values by digest). With
    ``audit_below``, the audit records digest covers only the entries before that index (the ones an
    older release wrote; opening a node may append entries of its own), and so do the ``tables`` digests of the
    audit log and its records. ``digest_columns`` names, per table, the columns its digest covers (those the older
    release had, from its ``expected.json``: a column a migration added is left out); by default, all of them."""
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
    out["tables"] = {}
    for table in tables:
        if table in UNDIGESTED:
            continue
        present = list(store.table_columns(table))
        wanted = present if digest_columns is None else digest_columns.get(table)
        if wanted is None:
            continue  # a table the older release did not have
        missing = [c for c in wanted if c not in present]
        if missing:  # a migration dropped a column: recorded as such (the comparison fails on it)
            out["tables"][table] = {"columns": [c for c in wanted if c in present], "rows": None, "digest": None}
            continue
        out["tables"][table] = _table_digest(store, table, wanted, audit_below)
    return out
