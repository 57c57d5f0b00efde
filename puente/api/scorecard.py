"""The joint scorecard by which both sides measure the agreement (counts, never record content).

- records shared each way, by kind and month: received = partner-owned records here, by the
  month they arrived; sent = what the sharing log says left this node (when sharing is installed);
- hit/no-hit follow-ups answered and how fast (when linking is installed);
- firearm trace completion; coverage of records by state and by port of entry.
"""

from __future__ import annotations

from typing import Any

from puente.api.auth import Principal
from puente.api.context import Ctx
from puente.model import load_model


def build(c: Ctx, who: Principal) -> dict[str, Any]:
    store, own = c.store, c.node.name
    model = load_model()
    received: list[dict[str, Any]] = []
    coverage_state: dict[tuple[str, str, str], int] = {}
    for kind in model.kinds.values():
        if kind.name in ("link", "seizure_aggregate"):
            continue
        rows = store.query(
            f"SELECT owner_node, SUBSTR(CAST(ingested_at AS TEXT), 1, 7), COUNT(*) FROM {kind.table} "
            "WHERE owner_node <> ? GROUP BY 1, 2 ORDER BY 2, 1", [own])
        received += [{"kind": kind.name, "from": o, "month": m, "records": int(n)} for o, m, n in rows]
        if kind.geometry:
            geo = kind.geometry
            rows = store.query(
                f'SELECT "{geo}_country", "{geo}_admin1", COUNT(*) FROM {kind.table} '
                f'WHERE "{geo}_admin1" IS NOT NULL GROUP BY 1, 2', [])
            for country, admin1, n in rows:
                key = (country or "", admin1, kind.name)
                coverage_state[key] = coverage_state.get(key, 0) + int(n)
    ports = store.query("SELECT port_name, owner_node, COUNT(*), COALESCE(SUM(quantity_kg), 0) FROM seizure "
                        "WHERE port_name IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2")
    traces = store.query("SELECT owner_node, COALESCE(trace_status, 'unknown'), COUNT(*) FROM firearm_trace "
                         "GROUP BY 1, 2 ORDER BY 1, 2")
    by_owner: dict[str, dict[str, int]] = {}
    for owner, status, n in traces:
        by_owner.setdefault(owner, {})[status] = int(n)
    completion = [{"owner": o, "completed": s.get("completed", 0), "total": sum(s.values()),
                   "rate": s.get("completed", 0) / sum(s.values()) if sum(s.values()) else None, "by_status": s}
                  for o, s in sorted(by_owner.items())]
    out: dict[str, Any] = {
        "node": own,
        "received": received,
        "sent": _sent(c),
        "followups": _followups(c),
        "trace_completion": completion,
        "coverage_by_state": [{"country": k[0], "admin1": k[1], "kind": k[2], "records": v}
                              for k, v in sorted(coverage_state.items())],
        "coverage_by_port": [{"port": p, "owner": o, "records": int(n), "kg": float(kg)} for p, o, n, kg in ports],
    }
    return out


def _sent(c: Ctx) -> list[dict[str, Any]] | None:
    """Records this node sent, by kind and month, from the sharing log (None when sharing is not installed)."""
    try:
        from puente.api.share_bridge import sent_by_kind_month
    except ImportError:
        return None
    return sent_by_kind_month(c)


def _followups(c: Ctx) -> dict[str, Any] | None:
    """Hit/no-hit queries and follow-ups answered and how fast (None when linking is not installed)."""
    try:
        from puente.api.link_bridge import followup_stats
    except ImportError:
        return None
    return followup_stats(c)
