"""Counts from the sharing log for the joint scorecard: the bundles this node sent (share) joined in Python
with the records their export entries name (audit), each read through its package's query functions."""

from __future__ import annotations

from collections import Counter
from typing import Any

from puente.api.context import Ctx
from puente.audit import queries as audit_queries
from puente.share import queries as share_queries


def sent_by_kind_month(c: Ctx) -> list[dict[str, Any]]:
    """Records this node shipped, by partner, kind and month, from its audit log's export entries."""
    sent = share_queries.sent_bundles(c.store)
    counts: Counter[tuple[str, str, str]] = Counter()
    for bundle_id, rid in audit_queries.exported_records(c.store):
        if bundle_id not in sent:
            continue
        partner, month = sent[bundle_id]
        parts = rid.split(":")
        if len(parts) >= 3 and parts[0] == c.node.name:
            counts[(partner, parts[1], month)] += 1
    return [{"kind": k, "to": p, "month": m, "records": n} for (p, k, m), n in sorted(counts.items())]


def sent_by_data_month(c: Ctx) -> list[dict[str, Any]]:
    """Records this node shipped, by partner, kind and the month of the record's own date (the seizure date,
    not the day the bundle left), for the kinds that have a date."""
    from puente.model import load_model

    sent = share_queries.sent_bundles(c.store)
    out: list[dict[str, Any]] = []
    for kind in load_model().kinds.values():
        if not kind.date_field:
            continue
        counts: Counter[tuple[str | None, str]] = Counter()
        for row in audit_queries.exported_by_month(c.store, kind.table, kind.date_field, c.node.name):
            if row.bundle_id in sent:
                counts[(row.month, sent[row.bundle_id][0])] += row.records
        ordered = sorted(counts.items(), key=lambda item: (item[0][0] is None, item[0][0] or "", item[0][1]))
        out += [{"kind": kind.name, "to": p, "month": m, "records": n} for (m, p), n in ordered]
    return out
