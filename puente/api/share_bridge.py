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
