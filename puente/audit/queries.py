"""What other layers read from the audit tables (``audit_log``, ``audit_records``): typed functions, so
no package above the audit stage writes SQL on its tables (tests/test_api_queries.py checks the API).

An export entry names the bundle it shipped in the ``bundle_id`` column (migration 201), so readers
join on it instead of parsing the entry's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from puente.audit.merkle import EMPTY_ROOT
from puente.store.base import Store


@dataclass(frozen=True)
class ExportedMonth:
    """Records of one kind an export entry shipped, counted by the month of the record's own date."""

    bundle_id: str
    month: str | None  # YYYY-MM; None for a record without a date
    records: int


def size(store: Store) -> int:
    """How many entries the log holds."""
    return int(store.scalar("SELECT COUNT(*) FROM audit_log") or 0)


def root_at(store: Store, size: int) -> str:
    """The tree root (hex) after the first ``size`` entries (the empty tree's root for 0)."""
    if size == 0:
        return EMPTY_ROOT.hex()
    return str(store.scalar("SELECT tree_root FROM audit_log WHERE idx = ?", [size - 1]))


def leaf_hash(store: Store, index: int) -> str | None:
    """The stored RFC 9162 leaf hash (hex) of entry ``index``; None when there is no such entry."""
    value = store.scalar("SELECT leaf_hash FROM audit_log WHERE idx = ?", [index])
    return None if value is None else str(value)


def exported_records(store: Store) -> list[tuple[str, str]]:
    """(bundle id, record id) for every record an export entry names (shipped, deleted or revoked)."""
    rows = store.query("SELECT l.bundle_id, r.record_id FROM audit_log l JOIN audit_records r ON r.idx = l.idx "
                       "WHERE l.action = 'export' AND l.bundle_id IS NOT NULL")
    return [(str(b), str(r)) for b, r in rows]


def exported_by_month(store: Store, table: str, date_field: str, owner: str) -> list[ExportedMonth]:
    """Records of the kind stored in ``table`` (owned by ``owner``) that export entries name, per bundle and
    month of ``date_field`` (the model's names: identifiers, never user input)."""
    rows = store.query(
        f'SELECT l.bundle_id, SUBSTR(CAST(t."{date_field}" AS TEXT), 1, 7), COUNT(*) FROM audit_log l '
        f"JOIN audit_records r ON r.idx = l.idx JOIN {table} t ON t.id = r.record_id "
        "WHERE l.action = 'export' AND l.bundle_id IS NOT NULL AND t.owner_node = ? GROUP BY 1, 2", [owner])
    return [ExportedMonth(str(b), m, int(n)) for b, m, n in rows]
