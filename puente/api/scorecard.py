"""The joint scorecard by which both sides measure the agreement (counts, never record content).

- records shared each way, by kind and month: received = partner-owned records here, by the
  month they arrived; sent = what the sharing log says left this node (when sharing is installed);
  and the same by the month of each record's own date (``shared_by_data_month``), which is what
  the dashboard charts (the exchange month is one month when a whole history arrives at once);
- hit/no-hit follow-ups answered and how fast (when linking is installed);
- firearm trace completion; coverage of records by state and by port of entry;
- the digest of the joint picture with each partner (``puente analyze joint``: the shared records and the
  analyses of them, hashed), which both sides compare: equal digests, the same joint results.

A partner node's scorecard counts only what its agreement shares, grouped only by columns it sees.
"""

from __future__ import annotations

from typing import Any

from puente.api.auth import Principal
from puente.api.context import Ctx
from puente.api.policy import view_for
from puente.errors import PolicyError
from puente.model import Kind, load_model
from puente.store import retention


def _scope(c: Ctx, who: Principal, kind: Kind, *columns: str,
           purpose: str | None = None) -> tuple[str, list[Any]] | None:
    """People: with a purpose the whole table, else this node's own records (counts only; partner records past
    retention never). A partner node: the records and columns its agreement shares, as for every other use
    (policy.py); None when a column it would group or sum by is outside its view."""
    if not who.is_partner:
        if purpose is None:
            return f"owner_node = ? AND {retention.LIVE} AND ", [c.node.name, retention.today()]
        return f"{retention.LIVE} AND ", [retention.today()]
    try:
        view = view_for(who, kind, c.node, None, c.store)
    except PolicyError:
        return None
    if not view.sees(*columns):
        return None
    return " AND ".join(view.where) + " AND ", list(view.params)


def build(c: Ctx, who: Principal, purpose: str | None = None) -> dict[str, Any]:
    store, own = c.store, c.node.name
    model = load_model()
    received: list[dict[str, Any]] = []
    received_data: list[dict[str, Any]] = []
    coverage_state: dict[tuple[str, str, str], int] = {}
    owners: set[str] = set()
    for kind in model.kinds_of("event", "entity"):  # records, not relations or published statistics
        mine = "owner_node = ? AND " if who.is_partner else ""  # a partner: only what it sent
        # a person without a purpose: no partner records (as for every other read); none past retention
        args = [*([who.partner] if mine else []), own, retention.today()]
        where = f"WHERE {mine}owner_node <> ? AND {retention.LIVE}" + ("" if who.is_partner or purpose else " AND 1 = 0")
        rows = store.query(
            f"SELECT owner_node, SUBSTR(CAST(ingested_at AS TEXT), 1, 7), COUNT(*) FROM {kind.table} "
            f"{where} GROUP BY 1, 2 ORDER BY 2, 1", args)
        received += [{"kind": kind.name, "from": o, "month": m, "records": int(n)} for o, m, n in rows]
        owners.update(o for o, _, _ in rows)
        if kind.date_field:
            rows = store.query(
                f'SELECT owner_node, SUBSTR(CAST("{kind.date_field}" AS TEXT), 1, 7), COUNT(*) FROM {kind.table} '
                f"{where} GROUP BY 1, 2 ORDER BY 2, 1", args)
            received_data += [{"kind": kind.name, "direction": "received", "partner": o, "month": m, "records": int(n)}
                              for o, m, n in rows]
        geo = kind.geometry
        scope = _scope(c, who, kind, f"{geo}_country", f"{geo}_admin1", purpose=purpose) if geo else None
        if geo and scope is not None:
            rows = store.query(
                f'SELECT "{geo}_country", "{geo}_admin1", COUNT(*) FROM {kind.table} '
                f'WHERE {scope[0]}"{geo}_admin1" IS NOT NULL GROUP BY 1, 2', scope[1])
            for country, admin1, n in rows:
                key = (country or "", admin1, kind.name)
                coverage_state[key] = coverage_state.get(key, 0) + int(n)
    seizure, traces_kind = model.kind("seizure"), model.kind("firearm_trace")
    scope = _scope(c, who, seizure, "port_name", "quantity_kg", purpose=purpose)
    ports = [] if scope is None else store.query(
        "SELECT port_name, owner_node, COUNT(*), COALESCE(SUM(quantity_kg), 0) FROM seizure "
        f"WHERE {scope[0]}port_name IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2", scope[1])
    scope = _scope(c, who, traces_kind, "trace_status", purpose=purpose)
    traces = [] if scope is None else store.query(
        "SELECT owner_node, COALESCE(trace_status, 'unknown'), COUNT(*) FROM firearm_trace "
        f"WHERE {scope[0]}1 = 1 GROUP BY 1, 2 ORDER BY 1, 2", scope[1])
    by_owner: dict[str, dict[str, int]] = {}
    for owner, status, n in traces:
        by_owner.setdefault(owner, {})[status] = int(n)
    completion = [{"owner": o, "completed": s.get("completed", 0), "total": sum(s.values()),
                   "rate": s.get("completed", 0) / sum(s.values()) if sum(s.values()) else None, "by_status": s}
                  for o, s in sorted(by_owner.items())]
    out: dict[str, Any] = {
        "node": own,
        "received": received,
        "sent": _sent(c, who),
        "shared_by_data_month": received_data + _sent_data(c, who),
        "followups": _followups(c, who),
        "trace_completion": completion,
        "coverage_by_state": [{"country": k[0], "admin1": k[1], "kind": k[2], "records": v}
                              for k, v in sorted(coverage_state.items())],
        "coverage_by_port": [{"port": p, "owner": o, "records": int(n), "kg": float(kg)} for p, o, n, kg in ports],
        "joint_digest": _joint(c, who) if who.is_partner or purpose else [],  # its counts include the partner's
    }
    owners |= {o for _, o, _, _ in ports} | set(by_owner)
    if not who.is_partner and purpose and owners - {own}:
        from puente.api.context import log_access

        log_access(c, who, "aggregate", "scorecard", [], owners, purpose)
    return out


def _joint(c: Ctx, who: Principal) -> list[dict[str, Any]] | None:
    """The joint digests last computed here (hashes and counts only); a partner node sees the one with it.
    None when the analytics are not installed."""
    try:
        from puente.analyze.joint import stored_joint
    except ImportError:
        return None
    keep = ("partner", "node", "computed_at", "inputs", "inputs_sha256", "results_sha256", "results")
    return [{k: d.get(k) for k in keep} for d in stored_joint(c.node)
            if not who.is_partner or d.get("partner") == who.partner]


def _sent(c: Ctx, who: Principal) -> list[dict[str, Any]] | None:
    """Records this node sent, by kind and month, from the sharing log (None when sharing is not installed); a
    partner node sees only what was sent to it (another partner's exchange is outside its agreement)."""
    try:
        from puente.api.share_bridge import sent_by_kind_month
    except ImportError:
        return None
    return [r for r in sent_by_kind_month(c) if not who.is_partner or r["to"] == who.partner]


def _sent_data(c: Ctx, who: Principal) -> list[dict[str, Any]]:
    """What this node sent, by the month of each record's own date (none for a partner node's view)."""
    if who.is_partner:
        return []
    try:
        from puente.api.share_bridge import sent_by_data_month
    except ImportError:
        return []
    return [{"kind": r["kind"], "direction": "sent", "partner": r["to"], "month": r["month"], "records": r["records"]}
            for r in sent_by_data_month(c)]


def _followups(c: Ctx, who: Principal) -> dict[str, Any] | None:
    """Hit/no-hit queries and follow-ups answered and how fast (None when linking is not installed); a partner
    node sees only its own exchange with this node."""
    try:
        from puente.api.link_bridge import followup_stats
    except ImportError:
        return None
    return followup_stats(c, who.partner if who.is_partner else None)
