"""What a partner node may read through the API: the installed agreement, applied to live records.

The API serves a partner only the fields its agreement passes unchanged (``keep``) and only the
records its filters allow; fields the agreement transforms (generalised places, truncated
dates, pseudonyms, rounding) travel only in signed bundles, where the transforms are applied.
No active agreement in force: nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from puente.share import queries as share_queries
from puente.store.base import Store


@dataclass(frozen=True)
class Grant:
    fields: list[str]
    where: list[str]
    params: list[Any]
    clause: str
    reasons: dict[str, str]  # field not kept -> the clause and rule that withhold it


def partner_grant(store: Store, partner: str, kind: str) -> Grant | None:
    # what share.registry.current reads; the parsed, checked agreement is cached by its text
    stored = share_queries.current_agreement(store, partner)
    if stored is None:
        return None
    return _grant(stored.document, stored.signatures, stored.status, kind, dt.datetime.now(dt.UTC).date())


@functools.lru_cache(maxsize=256)
def _grant(doc: str, sigs: str, status: str, kind: str, today: dt.date) -> Grant | None:
    import json

    from puente.model import load_model
    from puente.share.agreement import Agreement
    from puente.share.plan import record_predicates

    agreement = Agreement(json.loads(doc), json.loads(sigs), "store")
    if status != "active" or not agreement.in_force(today).allowed or not agreement.decide_kind(kind).allowed:
        return None
    k = load_model().kind(kind)
    decisions = {f: agreement.decide_field(kind, f) for f in k.fields}
    fields = [f for f, d in decisions.items() if d.action == "keep"]
    reasons = {f: (f"agreement {d.clause}: {d.action}" + ("" if d.action in ("drop", "match_only") else
                                                           " (the transformed value travels in bundles only)"))
               for f, d in decisions.items() if d.action != "keep"}
    # the records a bundle would carry (the same conditions, over the kind's table by name)
    preds = record_predicates(agreement, kind, lambda name: f'{k.table}."{name}"')
    where = [p.sql for p in preds]
    params = [v for p in preds for v in p.params]
    return Grant(fields, where, params, f"{agreement.id}@v{agreement.version}", reasons)


def agreements_summary(store: Store) -> list[dict[str, Any]]:
    import json

    out = []
    for a in share_queries.installed_agreements(store):
        d = json.loads(a.document)
        out.append({"agreement": a.agreement_id, "version": a.version, "partner": a.partner, "status": a.status,
                    "installed_at": str(a.installed_at), "purpose": d.get("purpose"), "handling": d.get("handling"),
                    "retention_days": d.get("retention_days"), "valid_from": str(d.get("valid_from")),
                    "valid_until": str(d.get("valid_until")), "kinds": sorted(d.get("kinds", {}))})
    return out
