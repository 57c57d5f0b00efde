"""What a node holds: counts by kind and owner, date ranges, share of places resolved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from puente.model import load_model
from puente.store import retention
from puente.store.base import Store


@dataclass
class KindSummary:
    kind: str
    owner: str
    records: int
    first: Any
    last: Any
    places: int
    resolved: int


def summarize(store: Store) -> list[KindSummary]:
    out = []
    for kind in load_model().kinds.values():
        date = kind.date_field
        geo = kind.place_field
        select = [
            "owner_node", "COUNT(*)",
            f"MIN({date})" if date else "NULL", f"MAX({date})" if date else "NULL",
            f"COUNT({geo}_text)" if geo else "0", f"COUNT({geo}_id)" if geo else "0",
        ]
        rows = store.query(f"SELECT {', '.join(select)} FROM {kind.table} WHERE {retention.LIVE} "
                           "GROUP BY owner_node ORDER BY owner_node", [retention.today()])
        for owner, count, first, last, places, resolved in rows:
            out.append(KindSummary(kind.name, owner, count, first, last, places, resolved))
    return out
