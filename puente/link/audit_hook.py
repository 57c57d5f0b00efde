"""The one place the link package writes to the audit log.

Until the audit package (``puente.audit.log``) is on main, entries go to the local
``link_audit`` table with the same fields; switching is this module only.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Iterable

from puente.store.base import Store


def audit(store: Store, node: str, actor: str, action: str, records: Iterable[str], clause: str,
          reason: str) -> None:
    entry = "aud-" + uuid.uuid4().hex[:16]
    at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    store.execute("INSERT INTO link_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  [entry, at, node, actor, action, json.dumps(sorted(records)), clause, reason])


def entries(store: Store, action_prefix: str = "") -> list[dict[str, Any]]:
    rows = store.query("SELECT logged_at, node, actor, action, records, clause, reason FROM link_audit "
                       "WHERE action LIKE ? ORDER BY logged_at, entry_id", [action_prefix + "%"])
    return [{"at": r[0], "node": r[1], "actor": r[2], "action": r[3], "records": json.loads(r[4]),
             "clause": r[5], "reason": r[6]} for r in rows]
