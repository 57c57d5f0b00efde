"""Counts from the sharing log for the joint scorecard."""

from __future__ import annotations

from collections import Counter
from typing import Any

from puente.api.context import Ctx


def sent_by_kind_month(c: Ctx) -> list[dict[str, Any]]:
    """Records this node shipped, by partner, kind and month, from its audit log's export entries."""
    rows = c.store.query(
        "SELECT b.partner, SUBSTR(b.created_at, 1, 7), r.record_id FROM share_bundles b "
        "JOIN audit_log l ON l.action = 'export' AND l.reason LIKE 'bundle ' || b.bundle_id || ' %' "
        "JOIN audit_records r ON r.idx = l.idx WHERE b.direction = 'sent'")
    counts: Counter[tuple[str, str, str]] = Counter()
    for partner, month, rid in rows:
        parts = str(rid).split(":")
        if len(parts) >= 3 and parts[0] == c.node.name:
            counts[(partner, parts[1], month)] += 1
    return [{"kind": k, "to": p, "month": m, "records": n} for (p, k, m), n in sorted(counts.items())]


def sent_by_data_month(c: Ctx) -> list[dict[str, Any]]:
    """Records this node shipped, by partner, kind and the month of the record's own date (the seizure date,
    not the day the bundle left), for the kinds that have a date."""
    from puente.model import load_model

    out: list[dict[str, Any]] = []
    for kind in load_model().kinds.values():
        if not kind.date_field:
            continue
        rows = c.store.query(
            f'SELECT b.partner, SUBSTR(CAST(t."{kind.date_field}" AS TEXT), 1, 7), COUNT(*) FROM share_bundles b '
            "JOIN audit_log l ON l.action = 'export' AND l.reason LIKE 'bundle ' || b.bundle_id || ' %' "
            f"JOIN audit_records r ON r.idx = l.idx JOIN {kind.table} t ON t.id = r.record_id "
            "WHERE b.direction = 'sent' AND t.owner_node = ? GROUP BY 1, 2 ORDER BY 2, 1", [c.node.name])
        out += [{"kind": kind.name, "to": p, "month": m, "records": int(n)} for p, m, n in rows]
    return out
