"""The data version: a counter that every committed change to the records bumps (ingest, bundle import,
revocation, purge, agreement changes), kept in the store so that every process sharing it sees the same.

It is the number of rows of ``data_versions``: each change inserts one row in its own transaction, so the
count grows exactly when that transaction commits, and concurrent writers never contend for one row (a
single counter row would serialize PostgreSQL writers and make DuckDB abort one of two concurrent ones).
Readers that cache anything derived from the records (API responses, counts) key it by this number: an
entry made under version V read the records after V was read, so it can never be older than V.
"""

from __future__ import annotations

import datetime as dt
import uuid

from puente.store import epoch
from puente.store.base import Store
from puente.store.migrations import register


@register(20, "data version: one row per committed change to the records")
def _data_versions(store: Store) -> None:
    store.execute("CREATE TABLE IF NOT EXISTS data_versions (change_id TEXT PRIMARY KEY, what TEXT, "
                  "changed_at TIMESTAMP)")


def bump(store: Store, what: str) -> None:
    """Count one change; inside the caller's transaction, it becomes visible exactly when that commits, and the
    change epoch (:mod:`puente.store.epoch`) announces it to every server process once it has."""
    with epoch.changing(store):
        store.execute("INSERT INTO data_versions VALUES (?, ?, ?)",
                      [uuid.uuid4().hex, what, dt.datetime.now(dt.UTC).replace(tzinfo=None)])


CURRENT = "SELECT COUNT(*) FROM data_versions"  # the version, as a statement (or a scalar subquery of one)


def current(store: Store) -> int:
    """The data version now (monotonic; changes whenever committed records change)."""
    return int(store.scalar(CURRENT) or 0)
