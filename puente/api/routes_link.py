"""Hit/no-hit over HTTP: the inbox, sending a query, follow-up requests and the steward's decisions.

Messages are the link package's sealed dicts; this module only carries them between the two
nodes' APIs (partners' connections in partners.py) and records nothing of its own: every step
is written to the audit log by the link package.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, principal
from puente.api.partners import deliver
from puente.api.policy import require_role
from puente.api.problems import ApiProblem, problem_responses
from puente.link import hits
from puente.link import queries as link_queries
from puente.link.clk import DEFAULT_FIELDS

router = APIRouter(prefix="/api/v1/hits", tags=["hit/no-hit"])
HitKind = Literal[tuple(DEFAULT_FIELDS)]  # type: ignore[valid-type]  # the kinds hit/no-hit encodes (link stage)
_R = problem_responses(400, 401, 403, 404)


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner: str = Field(min_length=1, max_length=100)
    kind: HitKind = "person"  # type: ignore[valid-type]
    fields: list[str] | None = Field(None, max_length=10)
    record_ids: list[str] | None = Field(None, max_length=100_000)


class FollowupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner: str = Field(min_length=1, max_length=100)
    ref: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=5, max_length=500, pattern=r"\S")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: str = Field(min_length=3, max_length=500, pattern=r"\S")


def _secret(c: Ctx, partner: str) -> bytes:
    return hits.load_secret(c.node.home, partner)


@router.get("/inbox", responses=_R)
def inbox(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> dict[str, Any]:
    """Queries sent and received, hits on our records, follow-up requests in both directions."""
    require_role(who, "analyst", "steward", "admin")
    queries = [{k: (str(v) if k == "created_at" else v) for k, v in q._asdict().items()}
               for q in link_queries.recent_queries(c.store, 500)]
    results = [{**r._asdict(), "created_at": str(r.created_at)} for r in link_queries.recent_results(c.store, 2000)]
    requests = [{k: (str(v) if k == "created_at" and v is not None else v) for k, v in r.items()}
                for r in hits.list_requests(c.store)]
    connected = [r[0] for r in c.store.query("SELECT partner FROM api_partners ORDER BY partner")]
    return {"queries": queries, "results": results, "requests": requests, "partners": connected}


@router.post("/queries", responses=_R)
def send_query(body: QueryIn, c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> dict[str, Any]:
    """Encode our records, ask the partner, and record the hits it answers (all audited on both sides)."""
    require_role(who, "analyst", "steward")
    secret = _secret(c, body.partner)
    actor = f"{who.username} ({who.role})"
    with c.audit_lock:
        message = hits.make_query(c.store, c.node, body.partner, secret, body.kind, body.fields, body.record_ids,
                                  actor=actor)
    answer = deliver(c.node, c.store, body.partner, message)
    with c.audit_lock:
        results = hits.accept_answer(c.store, c.node, secret, answer, actor=actor)
    return {"query_id": message["query_id"], "sent": message["count"], "hits": results}


@router.post("/followups", responses=_R)
def send_followup(body: FollowupIn, c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> dict[str, Any]:
    """Ask the partner's steward for the record behind a hit, with the reason (case, legal basis)."""
    require_role(who, "analyst", "steward")
    secret = _secret(c, body.partner)
    with c.audit_lock:
        message = hits.request_followup(c.store, c.node, body.partner, secret, body.ref, body.reason,
                                        f"{who.username} ({who.role})")
    deliver(c.node, c.store, body.partner, message)
    return {"request_id": message["request_id"], "status": "pending"}


@router.post("/requests/{request_id}/decision", responses=_R)
def decide(request_id: str, body: DecisionIn, c: Ctx = Depends(ctx),
           who: Principal = Depends(principal)) -> dict[str, Any]:
    """A steward approves or refuses a partner's follow-up request; the decision is sent back."""
    require_role(who, "steward")
    partner = link_queries.received_request_partner(c.store, request_id)
    if partner is None:
        raise ApiProblem(404, "api_not_found", kind="follow-up request", id=request_id)
    with c.audit_lock:
        message = hits.decide_followup(c.store, c.node, _secret(c, partner), request_id, body.approve,
                                       f"{who.username} ({who.role})", body.reason)
    deliver(c.node, c.store, partner, message)
    return {"request_id": request_id, "decision": message["decision"]}


@router.post("/incoming", responses=_R)
def incoming(message: dict[str, Any] = Body(...), c: Ctx = Depends(ctx),
             who: Principal = Depends(principal)) -> dict[str, Any]:
    """A partner node delivers a sealed message: a query (answered at once), a follow-up request, or a decision."""
    require_role(who, "partner-node")
    sender = str(message.get("from"))
    if sender != who.partner:
        raise ApiProblem(403, "api_message_not_yours", sender=sender, partner=who.partner or "")
    secret = _secret(c, sender)
    kind = message.get("type")
    with c.audit_lock:
        if kind == "hits.followup":
            return {"request_id": hits.receive_followup(c.store, c.node, secret, message)}
        if kind == "hits.decision":
            return hits.accept_decision(c.store, c.node, secret, message)
        return hits.answer_query(c.store, c.node, secret, message, actor=f"{who.username} (partner-node)")
