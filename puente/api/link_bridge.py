"""Hit/no-hit follow-up counts for the joint scorecard."""

from __future__ import annotations

import statistics
from typing import Any

from puente.api.context import Ctx
from puente.link import queries


def followup_stats(c: Ctx, partner: str | None = None) -> dict[str, Any]:
    """Queries and follow-ups, both directions; only those exchanged with ``partner`` when one is named."""
    rows = queries.followup_timings(c.store, partner)
    hours = [(d - a).total_seconds() / 3600 for _, s, a, d in rows if d is not None and a is not None]
    by_dir = {d: {"queries": n, "hits": h} for d, (n, h) in queries.query_counts(c.store, partner).items()}
    return {
        "total": len(rows),
        "answered": sum(1 for _, s, _, _ in rows if s != "pending"),
        "approved": sum(1 for _, s, _, _ in rows if s == "approved"),
        "refused": sum(1 for _, s, _, _ in rows if s == "refused"),
        "median_hours": statistics.median(hours) if hours else None,
        "by_direction": {d: sum(1 for r in rows if r[0] == d) for d in ("sent", "received")},
        "queries": by_dir,
    }
