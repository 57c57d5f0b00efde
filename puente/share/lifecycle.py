"""Revocation, retention and audited reads of partner data.

* :func:`revoke_records` / :func:`revoke_agreement`: the owner withdraws records (or the whole
  agreement); the next bundle carries the revocation and the partner answers with a purge receipt.
* :func:`purge_expired`: received records past ``retain_until`` are deleted, with an audit entry.
* :func:`read_partner`: the one way other packages read partner data; every read is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from puente.audit import log as audit
from puente.errors import UsageError
from puente.model import load_model
from puente.node import Node
from puente.share import registry
from puente.store import retention, versions
from puente.store.base import Store


def _kind_of(record_id: str) -> str:
    parts = record_id.split(":")
    if len(parts) != 3 or parts[1] not in load_model().kinds:
        raise UsageError("bad_record_id", record_id=record_id)
    return parts[1]


def revoke_records(node: Node, store: Store, partner: str, record_ids: Sequence[str], reason: str,
                   actor: str = "node") -> int:
    """Revoke records already shared with ``partner``; returns how many were pending or sent."""
    agreement, _ = registry.current(store, partner)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store.transaction():
        ids = []
        for rid in dict.fromkeys(record_ids):
            kind = _kind_of(rid)
            if not rid.startswith(node.name + ":"):
                raise UsageError("revoke_not_owner", record_id=rid, node=node.name)
            if store.scalar("SELECT COUNT(*) FROM share_revocations WHERE partner = ? AND record_id = ?",
                            [partner, rid]):
                continue
            store.execute("INSERT INTO share_revocations VALUES (?, ?, ?, ?, ?, NULL)",
                          [partner, agreement.id, kind, rid, now])
            ids.append(rid)
        audit.append(store, node, actor, "revoke", ids, f"{agreement.id}@v{agreement.version}:revocation",
                     f"revoked for {partner}: {reason}")
        versions.bump(store, f"revoke records for {partner}")
    return len(ids)


def revoke_agreement(node: Node, store: Store, partner: str, reason: str, actor: str = "node") -> None:
    """End the agreement: the next bundle tells the partner to purge everything received under it."""
    agreement, status = registry.current(store, partner)
    with store.transaction():
        registry.set_status(store, agreement, "revoked")
        audit.append(store, node, actor, "revoke", [], f"{agreement.id}@v{agreement.version}",
                     f"agreement with {partner} revoked ({reason}); was {status}")
        versions.bump(store, f"revoke agreement with {partner}")


def purge_expired(node: Node, store: Store, today: dt.date | None = None, actor: str = "node") -> dict[str, int]:
    """Delete partner records whose retention period has ended. Returns counts by kind."""
    today = today or retention.today()
    counts: dict[str, int] = {}
    with store.transaction():
        for kind in load_model().kinds:
            rows = store.query(f"SELECT id, owner_node, bundle_id FROM {kind} WHERE owner_node <> ? "
                               "AND retain_until < ? ORDER BY id", [node.name, today])
            if not rows:
                continue
            store.execute(f"DELETE FROM {kind} WHERE owner_node <> ? AND retain_until < ?",
                          [node.name, today])
            counts[kind] = len(rows)
            owners = sorted({r[1] for r in rows})
            audit.append(store, node, actor, "purge", [r[0] for r in rows], "retention_days",
                         f"{len(rows)} {kind} records from {', '.join(owners)} past their retention period "
                         f"(before {today})")
        if counts:
            versions.bump(store, "purge expired")
    return counts


def read_partner(node: Node, store: Store, kind: str, actor: str, reason: str, where: str = "",
                 params: Sequence[Any] = ()) -> pa.Table:
    """Read partner records of ``kind`` (optionally ``where`` with ``?`` params); the read is audited."""
    k = load_model().kind(kind)
    sql = f"SELECT * FROM {k.table} WHERE owner_node <> ?"
    if where:
        sql += f" AND ({where})"
    table = store.query_arrow(sql + " ORDER BY id", [node.name, *params])
    audit.append(store, node, actor, "read", table.column("id").to_pylist(), None,
                 f"read {table.num_rows} partner {kind} records: {reason}")
    return table
