"""A set of record ids as a table, so large deletes and lookups are one set-based statement each
(instead of thousands of ``IN (?, ?, ...)`` chunks). Use inside a store transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pyarrow as pa

from puente.store.base import Store

SUBQUERY = "(SELECT id FROM share_scratch)"


@contextmanager
def id_set(store: Store, ids: Sequence[str] | pa.Array | pa.ChunkedArray) -> Iterator[str]:
    """Yields a SQL subquery selecting ``ids``."""
    with store.transaction():
        store.execute("DELETE FROM share_scratch")
        values = ids if isinstance(ids, (pa.Array, pa.ChunkedArray)) else pa.array(list(ids), pa.string())
        store.insert_arrow("share_scratch", pa.table({"id": values}))
        try:
            yield SUBQUERY
        finally:
            store.execute("DELETE FROM share_scratch")
