"""Witnessing: a partner countersigns this node's checkpoints, so a cut log is caught outside the node.

In the style of the C2SP witness protocol (and CT / sigsum witnesses): the origin sends its latest
signed checkpoint with consistency proofs from the checkpoints it published before; the witness
checks the origin's signature and that the log only grew since the last checkpoint of that origin it
holds (from a witness request or from a bundle), refuses any rollback, remembers the new one and
returns its cosignature. The origin keeps the cosignature outside its store
(:mod:`puente.audit.head`), and ``puente audit verify`` fails if the log no longer contains it.

Request (JSON)::

    {"type": "puente-checkpoint-request/v1", "origin": ..., "witness": ...,
     "checkpoint": {...signed checkpoint...}, "consistency": [{"from_size", "from_root", "proof"}]}

The cosignature is Ed25519 by the witness over ``puente-cosignature/v1\\n<witness>\\n<time>\\n`` followed
by the checkpoint's signed body.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from puente.audit import log, merkle
from puente.audit.checkpoint import Checkpoint
from puente.audit.head import Cosigned, cosignature_body, record_cosigned
from puente.errors import AuditError, ProofError
from puente.node import Node
from puente.store.base import Store

REQUEST_TYPE = "puente-checkpoint-request/v1"
PROOF_HISTORY = 16


def _agreement(store: Store, partner: str) -> tuple[Any, str]:
    """The agreement installed with ``partner`` and its status: the share stage answers (the stage hook
    ``partner_agreement``, puente/stages.py), as the audit log sits below sharing."""
    from puente import stages

    found: tuple[Any, str] = stages.hook("partner_agreement")(store, partner)
    return found


def _refuse(reason: str) -> AuditError:
    return AuditError("witness_refused", reason=reason)


def checkpoint_request(node: Node, store: Store, partner: str) -> dict[str, Any]:
    """The latest signed checkpoint for ``partner`` to witness, with consistency proofs from earlier ones."""
    _agreement(store, partner)  # an agreement with the witness must be installed
    with store.transaction():
        checkpoint = log.latest_checkpoint(store, node)
        rows = store.query("SELECT DISTINCT size, root FROM audit_published WHERE partner = ? ORDER BY size DESC "
                           "LIMIT ?", [partner, PROOF_HISTORY])
        starts = dict([(int(s), str(r)) for s, r in rows] + [(0, merkle.EMPTY_ROOT.hex())])
        leaves = log.leaf_hashes(store, checkpoint.size)
        proofs = [{"from_size": s, "from_root": r, "proof": [h.hex() for h in merkle.consistency_proof(leaves, s)]}
                  for s, r in starts.items() if s <= checkpoint.size]
        log.publish(store, node, checkpoint, partner, "witness")
    return {"type": REQUEST_TYPE, "origin": node.name, "witness": partner, "checkpoint": checkpoint.to_dict(),
            "consistency": proofs}


def held(store: Store, origin: str) -> tuple[int, str]:
    """The latest checkpoint of ``origin`` this node holds (from bundles or witnessing): size and root."""
    rows = store.query("SELECT partner_size, partner_root FROM share_peers WHERE partner = ?", [origin])
    size, root = (int(rows[0][0] or 0), rows[0][1]) if rows else (0, None)
    return size, root or merkle.EMPTY_ROOT.hex()


def check_extends(store: Store, origin: str, checkpoint: Checkpoint, consistency: list[dict[str, Any]]) -> list[str]:
    """Refuse a checkpoint smaller than the one held for ``origin``, or one that does not extend it.
    Returns the proof used (hex)."""
    size, root = held(store, origin)
    if checkpoint.size < size:
        raise _refuse(f"rollback: the checkpoint of {origin} has {checkpoint.size} entries, but this node already "
                      f"holds one of {size} (entries {checkpoint.size:,}–{size - 1:,} would be missing)")
    if (checkpoint.size, checkpoint.root.hex()) == (size, root):
        return []  # the checkpoint already held (sent again)
    cons = next((c for c in consistency if (int(c["from_size"]), str(c["from_root"])) == (size, root)), None)
    if cons is None:
        sizes = ", ".join(str(c["from_size"]) for c in consistency) or "none"
        raise _refuse(f"this node holds the log of {origin} at size {size}, but consistency is proved only from "
                      f"sizes {sizes}")
    proof = [str(h) for h in cons["proof"]]
    try:
        merkle.verify_consistency(size, checkpoint.size, [bytes.fromhex(h) for h in proof], bytes.fromhex(root),
                                  checkpoint.root)
    except (ProofError, ValueError) as exc:
        reason = exc.args_["reason"] if isinstance(exc, ProofError) else str(exc)
        raise _refuse(f"the log of {origin} did not only grow since size {size}: {reason}") from None
    return proof


def remember(store: Store, node: Node, origin: str, checkpoint: Checkpoint, public_key: str, proof: list[str],
             source: str, now: dt.datetime) -> None:
    """Hold ``checkpoint`` as the latest of ``origin`` (share_peers) and keep it in audit_partner."""
    if store.scalar("SELECT COUNT(*) FROM share_peers WHERE partner = ?", [origin]):
        store.execute("UPDATE share_peers SET partner_size = ?, partner_root = ? WHERE partner = ?",
                      [checkpoint.size, checkpoint.root.hex(), origin])
    else:
        store.execute("INSERT INTO share_peers VALUES (?, 0, 0, ?, ?)", [origin, checkpoint.size, checkpoint.root.hex()])
    log.keep_evidence(store, node, "audit_partner",
                      [origin, checkpoint.size, checkpoint.root.hex(), checkpoint.at, checkpoint.signature.hex(),
                       public_key, json.dumps(proof), source, now.replace(tzinfo=None)],
                      f"checkpoint of {checkpoint.size} entries received from {origin} ({source})")


def witness(node: Node, store: Store, request: dict[str, Any], actor: str = "node",
            now: dt.datetime | None = None) -> dict[str, Any]:
    """Check a partner's checkpoint request and countersign it (refusals are audited and raise AuditError)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    origin = str(request.get("origin", "?")) if isinstance(request, dict) else "?"
    try:
        checkpoint, agreement, proof = _check_request(node, store, request, origin)
    except AuditError as exc:
        log.append(store, node, actor, "witness_refused", [], None, f"checkpoint from {origin}: {exc.args_['reason']}")
        raise
    at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    signature = node.signing_key.sign(cosignature_body(node.name, at, checkpoint))
    with store.transaction():
        remember(store, node, origin, checkpoint, agreement.parties[origin], proof, "witness", now)
        log.append(store, node, actor, "witness", [], f"{agreement.id}@v{agreement.version}",
                   f"countersigned the checkpoint of {origin}: {checkpoint.size} entries, root {checkpoint.root.hex()}")
    return Cosigned(node.name, at, checkpoint, signature, node.public_key_pem).to_dict()


def _check_request(node: Node, store: Store, request: Any, origin: str) -> tuple[Checkpoint, Any, list[str]]:
    from puente.errors import PolicyError

    try:
        if request.get("type") != REQUEST_TYPE:
            raise _refuse("not a Puente checkpoint request")
        if request.get("witness") != node.name:
            raise _refuse(f"addressed to {request.get('witness')}, not to this node ({node.name})")
        try:
            agreement, status = _agreement(store, origin)
        except PolicyError:
            raise _refuse(f"no agreement with {origin} is installed") from None
        if status == "terminated":
            raise _refuse(f"agreement {agreement.id} with {origin} has ended")
        checkpoint = Checkpoint.from_dict(request["checkpoint"])
        if checkpoint.node != origin or not checkpoint.valid(agreement.key_of(origin)):
            raise _refuse(f"the checkpoint is not validly signed by {origin}")
        proof = check_extends(store, origin, checkpoint, list(request["consistency"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _refuse(f"the request is malformed ({type(exc).__name__}: {exc})") from None
    return checkpoint, agreement, proof


def accept_cosignature(node: Node, store: Store, doc: dict[str, Any], actor: str = "node") -> Cosigned:
    """Verify a partner's cosignature over one of this node's checkpoints and keep it outside the store."""
    from puente.errors import PolicyError

    try:
        cosigned = Cosigned.from_dict(doc)
        agreement, _ = _agreement(store, cosigned.witness)
        cosigned = Cosigned(cosigned.witness, cosigned.at, cosigned.checkpoint, cosigned.signature,
                            agreement.parties[cosigned.witness])
    except (KeyError, TypeError, ValueError, AttributeError, PolicyError) as exc:
        raise _refuse(f"not a cosignature from a partner ({exc})") from None
    checkpoint = cosigned.checkpoint
    if not cosigned.valid():
        raise _refuse(f"the cosignature does not verify with {cosigned.witness}'s key")
    if checkpoint.node != node.name or not checkpoint.valid(node.public_key):
        raise _refuse("the countersigned checkpoint is not one this node signed")
    leaves = log.leaf_hashes(store, checkpoint.size)
    if len(leaves) < checkpoint.size or merkle.root(leaves) != checkpoint.root:
        raise _refuse("the countersigned checkpoint is not a prefix of this node's log")
    record_cosigned(node.home, cosigned)
    log.append(store, node, actor, "cosigned", [], f"{agreement.id}@v{agreement.version}",
               f"{cosigned.witness} countersigned this node's checkpoint of {checkpoint.size} entries at {cosigned.at}")
    return cosigned


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def decode(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise _refuse("the file is not JSON") from None
    if not isinstance(doc, dict):
        raise _refuse("the file is not a JSON object")
    return doc


def send_checkpoint(base_url: str, token: str, request: dict[str, Any], transport: Any = None) -> dict[str, Any]:
    """Send a checkpoint request to the partner's witness endpoint (its API); returns its cosignature."""
    import httpx

    from puente.errors import InputError

    url = base_url.rstrip("/") + "/api/v1/audit/witness"
    try:
        with httpx.Client(transport=transport, timeout=60) as http:
            response = http.post(url, json=request, headers={"Authorization": f"Bearer {token}"})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError (a bad host, port)
        raise InputError("api_pull_failed", url=base_url, error=str(exc)) from None
    if response.status_code != 200:
        raise InputError("api_pull_failed", url=base_url, error=f"HTTP {response.status_code}: {response.text[:300]}")
    doc: dict[str, Any] = response.json()
    return doc
