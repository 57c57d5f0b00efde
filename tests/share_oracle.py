"""The row-by-row reference for incremental exports and imports, one record at a time, for the tests.

With :func:`share_reference.expected` (what the partner must hold of each record), these say which records
a bundle must carry (new or changed), which ids it must delete, and what the recipient holds after
importing it. They share no code with puente.share (which does the same over whole tables in SQL).
"""

from __future__ import annotations

from typing import Any

Rows = dict[str, dict[str, Any]]


def diff(before: Rows, after: Rows) -> tuple[set[str], list[str]]:
    """(ids to ship, ids to delete) when the partner holds ``before`` and should hold ``after``."""
    ship = {rid for rid, row in after.items() if before.get(rid) != row}
    return ship, sorted(rid for rid in before if rid not in after)


def apply_import(held: dict[str, tuple[str, dict[str, Any]]], incoming: Rows, deleted: list[str], sender: str,
                 self_name: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """What the recipient holds (id -> (owner, columns)) after a bundle from ``sender``: the sender replaces or
    deletes only its own records; an id still held by someone else, or claiming to be the recipient's, is
    never overwritten."""
    out = dict(held)
    for rid in list(incoming) + deleted:
        if rid in out and out[rid][0] == sender:
            del out[rid]
    for rid, row in incoming.items():
        if rid not in out and sender != self_name:
            out[rid] = (sender, row)
    return out
