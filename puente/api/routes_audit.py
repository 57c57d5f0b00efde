"""The tamper-evident audit log over HTTP: entries, the signed checkpoint, inclusion and consistency proofs.

Stewards and admins read entries; a partner node may fetch checkpoints and consistency proofs
(it keeps the checkpoints it saw, so it can prove later that the log only grew).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, principal
from puente.api.policy import require_role
from puente.api.problems import ApiProblem, problem_responses
from puente.audit import log as audit
from puente.audit import queries as audit_queries
from puente.audit.checkpoint import public_key_pem

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
_R = problem_responses(400, 401, 403)


class Entry(BaseModel):
    index: int
    at: str
    actor: str
    action: str
    records: int
    clause: str | None = None
    reason: str


class Checkpoint(BaseModel):
    node: str
    size: int
    root: str
    at: str
    signature: str
    public_key: str


class Inclusion(BaseModel):
    index: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]
    entry: Entry
    record_ids: list[str]


class Consistency(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


@router.get("/entries", response_model=list[Entry], responses=_R)
def entries(limit: int = Query(100, ge=1, le=5000), action: str | None = Query(None, max_length=40),
            c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[Entry]:
    """The latest entries, oldest first (stewards and admins)."""
    require_role(who, "steward", "admin")
    return [Entry(**{**e, "records": int(e["records"] or 0)}) for e in audit.entries(c.store, limit, action)]


@router.get("/checkpoint", response_model=Checkpoint, responses=_R)
def checkpoint(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Checkpoint:
    """The node's latest signed checkpoint (tree size and root) and the public key that verifies it."""
    require_role(who, "steward", "admin", "partner-node")
    cp = audit.latest_checkpoint(c.store, c.node)
    return Checkpoint(**cp.to_dict(), public_key=public_key_pem(c.node.public_key))


@router.get("/proof/inclusion", response_model=Inclusion, responses=problem_responses(400, 401, 403, 404))
def inclusion(index: int = Query(..., ge=0, le=10**12), size: int | None = Query(None, ge=1, le=10**12),
              c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Inclusion:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries (default: the whole log)."""
    require_role(who, "steward", "admin")
    total = audit_queries.size(c.store)
    size = size or total
    if index >= size or size > total:
        raise ApiProblem(404, "api_audit_range", index=index, size=size, total=total)
    entry = next(e for e in audit.entries(c.store, total - index) if e["index"] == index)
    leaf = audit_queries.leaf_hash(c.store, index)
    return Inclusion(index=index, size=size, leaf_hash=str(leaf), root=audit_queries.root_at(c.store, size),
                     proof=[h.hex() for h in audit.inclusion_proof(c.store, index, size)],
                     entry=Entry(**{**entry, "records": int(entry["records"] or 0)}),
                     record_ids=audit.entry_records(c.store, index))


@router.get("/proof/consistency", response_model=Consistency, responses=problem_responses(400, 401, 403, 404))
def consistency(first: int = Query(..., ge=0, le=10**12), second: int | None = Query(None, ge=0, le=10**12),
                c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Consistency:
    """RFC 9162 consistency proof that the log of ``first`` entries is a prefix of the log of ``second``."""
    require_role(who, "steward", "admin", "partner-node")
    total = audit_queries.size(c.store)
    second = total if second is None else second
    if first > second or second > total:
        raise ApiProblem(404, "api_audit_range", index=first, size=second, total=total)
    proof: list[Any] = audit.consistency_proof(c.store, first, second) if 0 < first < second else []
    return Consistency(first=first, second=second, first_root=audit_queries.root_at(c.store, first),
                       second_root=audit_queries.root_at(c.store, second),
                       proof=[h.hex() for h in proof])


@router.post("/witness", responses=problem_responses(400, 401, 403, 422))
def witness(request: dict[str, Any] = Body(...), c: Ctx = Depends(ctx),
            who: Principal = Depends(principal)) -> dict[str, Any]:
    """Countersign the calling partner node's checkpoint (witness): its log must only have grown since the last
    checkpoint of it this node holds. Returns the cosignature."""
    from puente.audit.witness import witness as countersign
    from puente.errors import AuditError

    require_role(who, "partner-node")
    if request.get("origin") != who.partner:
        raise ApiProblem(403, "api_witness_not_yours", origin=str(request.get("origin")), partner=who.partner or "")
    try:
        with c.audit_lock:
            return countersign(c.node, c.store, request, actor=f"{who.username} (partner-node, HTTP witness)")
    except AuditError as exc:
        raise ApiProblem(422, "witness_refused", reason=str(exc.args_["reason"])) from None
