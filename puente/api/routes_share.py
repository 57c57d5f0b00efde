"""Agreements and bundles over HTTP: a partner node pulls its next bundle or pushes one.

A pushed bundle goes through the share package's verify-before-parse path (signature,
recipient, sequence, expiry, agreement) before a byte of its payload is read.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, principal
from puente.api.policy import require_role
from puente.api.problems import ApiProblem, problem_responses
from puente.settings import setting
from puente.share import queries as share_queries

router = APIRouter(prefix="/api/v1", tags=["sharing"])
BUNDLE = "application/vnd.puente.bundle"


class AgreementSummary(BaseModel):
    agreement: str
    version: int
    partner: str
    status: str
    installed_at: str
    purpose: str | None = None
    handling: str | None = None
    retention_days: int | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    kinds: list[str]


class BundleRow(BaseModel):
    bundle_id: str
    direction: str
    partner: str
    agreement: str
    sequence: int
    created: str
    expires: str
    records: int
    deleted: int


class Imported(BaseModel):
    bundle_id: str
    sender: str
    sequence: int
    imported: dict[str, int]
    deleted: int
    purged: int
    terminated: bool
    receipt: str | None = None
    never_imported: list[int] | None = None  # [first, last] of the sender's bundles this node never imported


@router.get("/agreements", response_model=list[AgreementSummary], responses=problem_responses(401, 403))
def agreements(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[AgreementSummary]:
    """Installed agreements (a partner node sees only its own)."""
    from puente.api.agreements import agreements_summary

    rows = agreements_summary(c.store)
    if who.is_partner:
        rows = [r for r in rows if r["partner"] == who.partner]
    return [AgreementSummary(**r) for r in rows]


class Withheld(BaseModel):
    partner: str
    agreement: str
    kind: str
    fields: dict[str, str]  # field -> the clause and rule that withhold it


@router.get("/agreements/withheld", response_model=list[Withheld], responses=problem_responses(401))
def agreements_withheld(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[Withheld]:
    """The fields each agreement in force does not pass unchanged, by partner and record kind: a partner's
    record has no value there because the agreement withholds it (the dashboard says so instead of a blank)."""
    from puente.api.agreements import partner_grant
    from puente.model import load_model

    partners = share_queries.agreement_partners(c.store)
    if who.is_partner:
        partners = [p for p in partners if p == who.partner]
    out = []
    for partner in partners:
        for kind in load_model().kinds:
            grant = partner_grant(c.store, partner, kind)
            if grant is not None and grant.reasons:
                out.append(Withheld(partner=partner, agreement=grant.clause, kind=kind, fields=grant.reasons))
    return out


@router.get("/bundles", response_model=list[BundleRow], responses=problem_responses(401, 403))
def bundles(limit: int = Query(200, ge=1, le=5000), c: Ctx = Depends(ctx),
            who: Principal = Depends(principal)) -> list[BundleRow]:
    """Bundles sent and received, newest first (stewards and admins)."""
    require_role(who, "steward", "admin")
    return [BundleRow(bundle_id=b.bundle_id, direction=b.direction, partner=b.partner, agreement=b.agreement_id,
                      sequence=b.seq, created=b.created_at, expires=b.expires_at, records=b.records or 0,
                      deleted=b.deleted or 0)
            for b in share_queries.bundles(c.store, limit)]


@router.get("/bundles/next", responses={200: {"content": {BUNDLE: {"schema": {"type": "string", "format": "binary"}}},
                                              "description": "A signed bundle"}, **problem_responses(401, 403)})
def next_bundle(full: bool = Query(False, description="Resend every allowed record (after a lost bundle)."),
                c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """The calling partner node's next signed bundle (what changed since its last one)."""
    from puente.share.export import ExportReport, export_bundle

    require_role(who, "partner-node")
    report = ExportReport("", who.partner or "", 0)
    with c.audit_lock:
        data = export_bundle(c.node, c.store, who.partner or "", actor=f"{who.username} (partner-node, HTTP pull)",
                             report=report, full=full)
    return Response(data, media_type=BUNDLE, headers={"X-Bundle-Id": report.bundle_id,
                                                      "X-Bundle-Records": str(report.records)})


@router.post("/bundles/import", response_model=Imported, responses=problem_responses(401, 403, 413, 422),
             openapi_extra={"requestBody": {"required": True, "content": {
                 BUNDLE: {"schema": {"type": "string", "format": "binary"}},
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def push_bundle(request: Request, c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Imported:
    """Receive a signed bundle (pushed by the partner node, or uploaded by a steward); verified before parsing.

    The body streams to a file in the node's home and stops at ``bundle_max_bytes``; every refusal is audited."""
    from starlette.concurrency import run_in_threadpool

    try:
        require_role(who, "partner-node", "steward", "admin")
    except ApiProblem:
        await run_in_threadpool(_refuse, c, who, f"role {who.role} may not push bundles")
        raise
    limit = int(setting("bundle_max_bytes"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await run_in_threadpool(_refuse, c, who, f"bundle too large: {int(declared):,} bytes declared, over "
                                                 f"{limit:,} (bundle_max_bytes)")
        raise ApiProblem(413, "api_bundle_too_large", limit=limit)
    incoming = c.node.home / "incoming"
    incoming.mkdir(exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="push-", suffix=".bundle", dir=incoming)
    path = Path(name)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    break
                out.write(chunk)
        if size > limit:
            await run_in_threadpool(_refuse, c, who, f"bundle too large: more than {limit:,} bytes streamed, "
                                                     "stopped there (bundle_max_bytes)")
            raise ApiProblem(413, "api_bundle_too_large", limit=limit)
        return await run_in_threadpool(_import, c, who, path)
    finally:
        path.unlink(missing_ok=True)


def _actor(who: Principal) -> str:
    return f"{who.username} ({who.role}, HTTP push)"


def _refuse(c: Ctx, who: Principal, reason: str) -> None:
    from puente.share.receive import refused

    with c.audit_lock:
        refused(c.node, c.store, _actor(who), "HTTP push", reason)


def _import(c: Ctx, who: Principal, path: Path) -> Imported:
    from puente.errors import BundleError
    from puente.share.receive import import_bundle

    data = path.read_bytes()
    try:
        with c.audit_lock:
            rep = import_bundle(c.node, c.store, data, actor=_actor(who), source="HTTP push",
                                expect_sender=who.partner if who.is_partner else None)
    except BundleError as exc:
        if exc.key == "bundle_not_yours":
            raise ApiProblem(403, "api_bundle_not_yours", **exc.args_) from None
        raise
    receipt: Any = base64.b64encode(rep.receipt).decode() if rep.receipt else None
    return Imported(bundle_id=rep.bundle_id, sender=rep.sender, sequence=rep.sequence, imported=rep.imported,
                    deleted=rep.deleted, purged=rep.purged, terminated=rep.terminated, receipt=receipt,
                    never_imported=list(rep.skipped) if rep.skipped else None)
