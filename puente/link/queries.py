"""What other layers read from the hit/no-hit tables (``hits_queries``, ``hits_results``, ``hits_requests``):
typed functions, so no package above the link stage writes SQL on its tables (tests/test_api_queries.py
checks the API)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from puente.store.base import Store


class HitQuery(NamedTuple):
    """One query sent or received (``hits`` is None until a sent query is answered)."""

    query_id: str
    direction: str
    partner: str
    kind: str | None
    fields: str | None
    encodings: int | None
    rejected: int | None
    hits: int | None
    status: str
    reason: str | None
    created_at: dt.datetime


class HitResult(NamedTuple):
    query_id: str
    local_id: str
    partner: str
    ref: str
    created_at: dt.datetime


class FollowupTiming(NamedTuple):
    direction: str
    status: str
    created_at: dt.datetime | None
    decided_at: dt.datetime | None


def recent_queries(store: Store, limit: int = 500) -> list[HitQuery]:
    """Queries sent and received, newest first."""
    rows = store.query("SELECT query_id, direction, partner, kind, fields, encodings, rejected, hits, status, reason, "
                       "created_at FROM hits_queries ORDER BY created_at DESC LIMIT ?", [limit])
    return [HitQuery(*r) for r in rows]


def recent_results(store: Store, limit: int = 2000) -> list[HitResult]:
    """Hits partners answered on our records, newest first."""
    rows = store.query("SELECT query_id, local_id, partner, ref, created_at FROM hits_results "
                       "ORDER BY created_at DESC LIMIT ?", [limit])
    return [HitResult(*r) for r in rows]


def _with(partner: str | None) -> tuple[str, list[str]]:
    return ("WHERE partner = ?", [partner]) if partner is not None else ("", [])


def query_counts(store: Store, partner: str | None = None) -> dict[str, tuple[int, int]]:
    """Per direction (sent, received): how many queries, and how many hits they found (with ``partner``, only
    those exchanged with it)."""
    where, params = _with(partner)
    rows = store.query(f"SELECT direction, COUNT(*), COALESCE(SUM(hits), 0) FROM hits_queries {where} GROUP BY 1",
                       params)
    return {str(d): (int(n), int(h)) for d, n, h in rows}


def followup_timings(store: Store, partner: str | None = None) -> list[FollowupTiming]:
    """Every follow-up request, both directions (with ``partner``, only those exchanged with it): its status,
    when it was made and decided."""
    where, params = _with(partner)
    rows = store.query(f"SELECT direction, status, created_at, decided_at FROM hits_requests {where}", params)
    return [FollowupTiming(*r) for r in rows]


def received_request_partner(store: Store, request_id: str) -> str | None:
    """The partner that sent follow-up request ``request_id``; None if no such request was received."""
    rows = store.query("SELECT partner FROM hits_requests WHERE request_id = ? AND direction = 'received'",
                       [request_id])
    return str(rows[0][0]) if rows else None
