"""The row hash of bundles made before set-based sharing (2026-11), which carry none.

Policy transforms now run in SQL over whole tables (:mod:`puente.share.plan`); each part of a new bundle
carries the engine's row hash (``row_hash``), signed with the rest. A part without one is hashed here on
import, the way the previous release did, so its bundles still import.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc


def row_hashes(table: pa.Table) -> list[str]:
    """A content hash per transformed row, as the previous release computed it."""
    if table.num_rows == 0:
        return []
    cols = [pc.cast(table.column(c), pa.string()) for c in table.column_names if c != "id"]
    joined = pc.binary_join_element_wise(*[pc.fill_null(c, "\x00") for c in cols], "\x1f") if cols else None
    values = joined.to_pylist() if joined is not None else [""] * table.num_rows
    return [hashlib.sha256(v.encode()).hexdigest()[:32] for v in values]
