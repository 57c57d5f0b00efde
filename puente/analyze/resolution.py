"""The entity resolution the analytics read: current, and run again when it is stale.

Networks, key players, purchasers, multiple sales and precursor → lab chains are computed over resolved
entities (``link_entities``, written by ``puente link run``): one person under three spellings is one
player, and the owner of a front company is the person arrested at a lab only once the two records are
one entity. ``puente analyze`` therefore checks, before it reads, that the resolution of people and
organisations covers the records the node holds now.

A kind's resolution is **stale** when any of these holds:

* it was never run while the kind has records;
* a record of the kind is not in ``link_entities`` (ingested, or received from a partner, after the run);
* ``link_entities`` names a record the kind no longer holds (revoked, purged);
* a record was (re)ingested or imported after the run started (``ingested_at`` later than the run's
  ``started_at``: a re-import that replaced a record in place).

Analyst decisions (confirm, split) re-cluster at once (:func:`puente.link.runs.decide`), so they never
make a resolution stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from puente.store.base import Store

# The kinds the analytics resolve: people (players, purchasers, detainees, owners) and organisations
# (importers, consignees, front companies).
ER_KINDS = ("person", "organization")


@dataclass(frozen=True)
class Freshness:
    kind: str
    records: int
    run_id: str | None
    unresolved: int  # records of the kind missing from link_entities
    gone: int  # link_entities rows whose record is gone
    newer: int  # records ingested or imported after the run started

    @property
    def stale(self) -> bool:
        if not self.records:
            return False
        return self.run_id is None or bool(self.unresolved or self.gone or self.newer)


def _has(store: Store, table: str) -> bool:
    return bool(store.table_columns(table))


def freshness(store: Store, kind: str) -> Freshness:
    """How the latest resolution of ``kind`` stands against the records the store holds now."""
    if not _has(store, kind):
        return Freshness(kind, 0, None, 0, 0, 0)
    records = int(store.scalar(f"SELECT COUNT(*) FROM {kind}") or 0)
    if not _has(store, "link_runs"):
        return Freshness(kind, records, None, records, 0, 0)
    last = store.query("SELECT run_id, started_at FROM link_runs WHERE kind = ? ORDER BY started_at DESC LIMIT 1",
                       [kind])
    if not last:
        return Freshness(kind, records, None, records, 0, 0)
    run_id, started = last[0]
    unresolved = int(store.scalar(
        f"SELECT COUNT(*) FROM {kind} r LEFT JOIN link_entities e ON e.kind = ? AND e.record_id = r.id "
        "WHERE e.record_id IS NULL", [kind]) or 0)
    gone = int(store.scalar(
        f"SELECT COUNT(*) FROM link_entities e LEFT JOIN {kind} r ON r.id = e.record_id "
        "WHERE e.kind = ? AND r.id IS NULL", [kind]) or 0)
    newer = 0
    if "ingested_at" in store.table_columns(kind) and started is not None:
        newer = int(store.scalar(f"SELECT COUNT(*) FROM {kind} WHERE ingested_at > ?", [started]) or 0)
    return Freshness(kind, records, str(run_id), unresolved, gone, newer)


def ensure_resolution(store: Store, kinds: tuple[str, ...] = ER_KINDS, force: bool = False,
                      backend: str = "duckdb") -> list[tuple[Freshness, Any]]:
    """Run entity resolution for each kind whose resolution is stale (or every kind with records, with
    ``force``). Returns (freshness before, run report) for each run made."""
    from puente.link import runs

    done = []
    for kind in kinds:
        state = freshness(store, kind)
        if state.records and (force or state.stale):
            done.append((state, runs.run(store, kind, backend=backend)))
    return done
