"""The steward's view of an agreement's life after the exchange: revocations sent, purge receipts received,
and the retention of the partner records this node holds (stewards and admins; counts only, no content)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, principal
from puente.api.policy import require_role
from puente.api.problems import problem_responses
from puente.model import load_model
from puente.share import queries
from puente.store.retention import today as retention_day

router = APIRouter(prefix="/api/v1", tags=["sharing"])


class Revocation(BaseModel):
    partner: str
    agreement: str | None = None
    kind: str | None = None
    bundle_id: str | None = None
    revoked_at: str
    records: int
    receipt: str | None = None  # the partner's purge receipt for that bundle, once it came back


@router.get("/revocations", response_model=list[Revocation], responses=problem_responses(401, 403))
def revocations(limit: int = Query(500, ge=1, le=5000), c: Ctx = Depends(ctx),
                who: Principal = Depends(principal)) -> list[Revocation]:
    """Records this node withdrew from a partner, by bundle and kind, newest first, with the purge receipt
    the partner sent back for that bundle (none yet: the partner has not confirmed the purge)."""
    require_role(who, "steward", "admin")
    return [Revocation(partner=r.partner, agreement=r.agreement_id, kind=r.kind, bundle_id=r.bundle_id,
                       revoked_at=r.revoked_at, records=r.records, receipt=r.receipt_id)
            for r in queries.revocations(c.store, limit)]


class PurgeReceipt(BaseModel):
    receipt_id: str
    partner: str
    bundle_id: str | None = None
    received_at: str
    purged_at: str | None = None
    records: int | None = None
    terminated: bool | None = None
    agreement: str | None = None


def _payload(document: str) -> dict[str, Any]:
    """The receipt's signed statement (verified when it was accepted: share.receive.accept_receipt)."""
    try:
        env = json.loads(document)
        out = json.loads(base64.b64decode(env["payload"]))
        return out if isinstance(out, dict) else {}
    except (ValueError, KeyError, TypeError):
        return {}


@router.get("/receipts", response_model=list[PurgeReceipt], responses=problem_responses(401, 403))
def receipts(limit: int = Query(500, ge=1, le=5000), c: Ctx = Depends(ctx),
             who: Principal = Depends(principal)) -> list[PurgeReceipt]:
    """Signed purge receipts partners sent back (they purged what this node revoked), newest first."""
    require_role(who, "steward", "admin")
    out = []
    for r in queries.receipts(c.store, limit):
        rid, partner, bundle, received = r.receipt_id, r.partner, r.bundle_id, r.received_at
        doc = _payload(r.document)
        agreement = f"{doc['agreement']} v{doc.get('agreement_version')}" if doc.get("agreement") else None
        out.append(PurgeReceipt(receipt_id=rid, partner=partner, bundle_id=bundle, received_at=str(received),
                                purged_at=doc.get("purged_at"), records=doc.get("records"),
                                terminated=doc.get("terminated"), agreement=agreement))
    return out


class Retention(BaseModel):
    owner: str
    kind: str
    records: int
    no_limit: int
    expired: int
    within_30_days: int
    earliest: str | None = None
    latest: str | None = None


@router.get("/retention", response_model=list[Retention], responses=problem_responses(401, 403))
def retention(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[Retention]:
    """Partner records held, by partner and kind, with their retention dates: how many are past their date
    (the next ``puente share purge`` deletes them), how many end within 30 days, and how many have none."""
    require_role(who, "steward", "admin")
    today = retention_day()
    soon = today + dt.timedelta(days=30)
    out = []
    for kind in load_model().kinds.values():
        rows = c.store.query(
            "SELECT owner_node, COUNT(*), SUM(CASE WHEN retain_until IS NULL THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN retain_until < ? THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN retain_until >= ? AND retain_until < ? THEN 1 ELSE 0 END), MIN(retain_until), "
            f"MAX(retain_until) FROM {kind.table} WHERE owner_node <> ? GROUP BY 1 ORDER BY 1",
            [today, today, soon, c.node.name])
        out += [Retention(owner=r[0], kind=kind.name, records=int(r[1]), no_limit=int(r[2] or 0),
                          expired=int(r[3] or 0), within_30_days=int(r[4] or 0),
                          earliest=str(r[5]) if r[5] else None, latest=str(r[6]) if r[6] else None) for r in rows]
    return out
