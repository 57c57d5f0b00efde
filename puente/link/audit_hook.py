"""The one place the link package writes to the audit log (``puente.audit.log``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from puente.node import Node
from puente.store.base import Store


def audit(store: Store, node: Node, actor: str, action: str, records: Iterable[str], clause: str | None,
          reason: str) -> None:
    from puente.audit import log

    log.append(store, node, actor, action, [r for r in records if r], clause, reason)


def entries(store: Store, action_prefix: str = "") -> list[dict[str, Any]]:
    """Audit entries whose action starts with ``action_prefix``, oldest first, with their record ids."""
    from puente.audit import log

    out = []
    for entry in log.entries(store, limit=1_000_000):
        if entry["action"].startswith(action_prefix):
            out.append({**entry, "records": log.entry_records(store, entry["index"])})
    return out
