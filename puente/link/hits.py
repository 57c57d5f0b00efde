"""Privacy-preserving hit/no-hit between two nodes (the Prüm model).

Node A sends keyed Bloom-filter encodings of some of its records (``make_query``); node B
compares them with encodings of its own records under the same shared secret and answers
with an opaque reference for each encoding that hits, and nothing else (``answer_query``).
A may ask for a reference (``request_followup``); B's steward approves or refuses it
(``decide_followup``). Every step is written to both nodes' audit logs.

Everything here takes and returns plain dicts (JSON-ready), so any transport works: files
(the CLI), HTTP (the API) or a test calling both sides. Each message carries the id of the
secret it was made with and an HMAC over its content under a key derived from that secret:
a message made with another secret, or altered on the way, is refused before it is read.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets as _secrets
import uuid
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from puente.errors import ConfigError, PolicyError, UsageError
from puente.i18n import t
from puente.link import clk
from puente.link.audit_hook import audit
from puente.link.clkmatch import match_blocked
from puente.node import Node
from puente.store.base import Store

VERSION = 1
DEFAULT_THRESHOLD = 0.8
MAX_ENCODINGS = 200_000
MIN_DENSITY, MAX_DENSITY = 0.02, 0.65  # share of bits set in a genuine filter (observed 0.2-0.5)


# -- the shared secret -------------------------------------------------------------------
def secret_path(home: Path, partner: str) -> Path:
    return home / "keys" / f"hits-{partner}.key"


def new_secret() -> str:
    return _secrets.token_hex(32)


def save_secret(home: Path, partner: str, secret_hex: str) -> Path:
    value = secret_hex.strip()
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise UsageError("hits_bad_secret") from None
    if len(raw) < 32:
        raise UsageError("hits_bad_secret")
    path = secret_path(home, partner)
    path.parent.mkdir(parents=True, exist_ok=True)
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return path


def load_secret(home: Path, partner: str) -> bytes:
    path = secret_path(home, partner)
    if not path.exists():
        raise ConfigError("hits_no_secret", partner=partner, path=str(path))
    return bytes.fromhex(path.read_text().strip())


# -- messages ----------------------------------------------------------------------------
def _canonical(message: dict[str, Any]) -> bytes:
    body = {k: v for k, v in message.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _seal(message: dict[str, Any], secret: bytes) -> dict[str, Any]:
    message = {**message, "version": VERSION, "key_id": clk.key_id(secret)}
    message["mac"] = hmac.new(clk.derive(secret, "mac"), _canonical(message), hashlib.sha256).hexdigest()
    return message


class Rejected(Exception):
    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key, self.args_ = key, args


def _open(message: Any, secret: bytes, me: str, kind_of_message: str) -> dict[str, Any]:
    """Authenticate a partner's message before reading any of it."""
    if not isinstance(message, dict):
        raise Rejected("hits_rej_not_object")
    if message.get("type") != kind_of_message or message.get("version") != VERSION:
        raise Rejected("hits_rej_type", expected=kind_of_message, found=str(message.get("type")))
    if message.get("to") != me:
        raise Rejected("hits_rej_recipient", to=str(message.get("to")), me=me)
    if message.get("key_id") != clk.key_id(secret):
        raise Rejected("hits_rej_wrong_secret")
    expected = hmac.new(clk.derive(secret, "mac"), _canonical(message), hashlib.sha256).hexdigest()
    if not isinstance(message.get("mac"), str) or not hmac.compare_digest(expected, message["mac"]):
        raise Rejected("hits_rej_bad_mac")
    return message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _own_records(store: Store, node: str, kind: str, ids: list[str] | None = None) -> pd.DataFrame:
    frame = store.query_arrow(f"SELECT * FROM {kind} WHERE owner_node = ? ORDER BY id", [node]).to_pandas()
    if ids is not None:
        frame = frame[frame["id"].isin(set(ids))]
    return frame.reset_index(drop=True)


def allowed_fields(kind: str, agreement_fields: list[str]) -> list[str]:
    """The encodable fields whose model fields the agreement all marks match-only."""
    allowed = set(agreement_fields)
    return [f for f in clk.FIELDS.get(kind, {}) if clk.source_fields([f]) <= allowed]


def policy(store: Store, partner: str, kind: str) -> tuple[list[str], str]:
    """(encodable fields, clause) the agreement in force with ``partner`` allows for hit/no-hit on ``kind``."""
    from puente.share import registry

    agreement, status = registry.current(store, partner)
    in_force = agreement.in_force()
    if status != "active" or not in_force.allowed:
        raise PolicyError("hits_agreement_not_in_force", partner=partner, agreement=agreement.id,
                          reason=status if status != "active" else in_force.reason)
    fields = allowed_fields(kind, agreement.match_only_fields(kind))
    return fields, f"{agreement.id}@v{agreement.version}:kinds.{kind}.fields(match_only)"


def _clause(store: Store, partner: str) -> str | None:
    """The agreement clause to cite for a follow-up step (None if no agreement is installed)."""
    from puente.share import registry

    try:
        agreement, _ = registry.current(store, partner)
    except PolicyError:
        return None
    return f"{agreement.id}@v{agreement.version}"


# -- A: query ----------------------------------------------------------------------------
def make_query(store: Store, node: Node, partner: str, secret: bytes, kind: str = "person",
               fields: list[str] | None = None, record_ids: list[str] | None = None,
               actor: str = "analyst") -> dict[str, Any]:
    permitted, clause = policy(store, partner, kind)
    fields = fields or [f for f in clk.DEFAULT_FIELDS.get(kind, []) if f in permitted]
    refused = [f for f in fields if f not in permitted]
    if refused or not fields:
        raise PolicyError("hits_fields_not_allowed", fields=", ".join(refused) or "-", partner=partner)
    records = _own_records(store, node.name, kind, record_ids)
    if records.empty:
        raise UsageError("hits_nothing_to_send", kind=kind)
    if len(records) > MAX_ENCODINGS:
        raise UsageError("hits_too_many", count=len(records), limit=MAX_ENCODINGS)
    encoded = clk.Encoder(secret, kind, fields).encode(records.to_dict("records"))
    query_id = "q-" + uuid.uuid4().hex[:16]
    message = _seal({"type": "hits.query", "query_id": query_id, "from": node.name, "to": partner, "kind": kind,
                     "fields": fields, "bits": clk.BITS, "count": len(records),
                     "encodings": base64.b64encode(encoded.tobytes()).decode()}, secret)
    with store.transaction():
        store.insert_arrow("hits_sent", pa.table({"query_id": [query_id] * len(records),
                                                  "i": list(range(len(records))), "local_id": list(records["id"])}))
        store.execute("INSERT INTO hits_queries VALUES (?, 'sent', ?, ?, ?, ?, 0, NULL, 'sent', NULL, ?)",
                      [query_id, partner, kind, ",".join(fields), len(records), _now()])
        audit(store, node, actor, "hits.query.sent", list(records["id"]), clause,
              f"{len(records)} {kind} encodings ({', '.join(fields)}) to {partner}, query {query_id}")
    return message


# -- B: answer ---------------------------------------------------------------------------
def _decode(message: dict[str, Any], permitted: list[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    kind, fields = message.get("kind"), message.get("fields")
    if kind not in clk.FIELDS:
        raise Rejected("hits_rej_kind", kind=str(kind))
    if not isinstance(fields, list) or not fields or any(f not in permitted for f in fields):
        raise Rejected("hits_rej_fields", fields=str(fields), allowed=", ".join(permitted))
    if message.get("bits") != clk.BITS:
        raise Rejected("hits_rej_bits", bits=str(message.get("bits")), expected=clk.BITS)
    count = message.get("count")
    if not isinstance(count, int) or count < 1 or count > MAX_ENCODINGS:
        raise Rejected("hits_rej_count", count=str(count), limit=MAX_ENCODINGS)
    try:
        raw = base64.b64decode(message.get("encodings", ""), validate=True)
    except (ValueError, TypeError):
        raise Rejected("hits_rej_base64") from None
    if len(raw) != count * clk.BYTES:
        raise Rejected("hits_rej_length", size=len(raw), expected=count * clk.BYTES, count=count)
    packed = np.frombuffer(raw, dtype=np.uint8).reshape(count, clk.BYTES)
    density = clk.popcount(packed) / clk.BITS
    rejected = []
    for i in np.nonzero((density < MIN_DENSITY) | (density > MAX_DENSITY))[0]:
        rejected.append({"i": int(i), "reason": t("hits_rej_density", lang="en", share=f"{density[i]:.0%}",
                                                   low=f"{MIN_DENSITY:.0%}", high=f"{MAX_DENSITY:.0%}")})
    return packed, rejected


def answer_query(store: Store, node: Node, secret: bytes, query: Any, threshold: float = DEFAULT_THRESHOLD,
                 actor: str = "system") -> dict[str, Any]:
    """Answer a partner's query with opaque references for the encodings that hit, and nothing else."""
    partner = str(query.get("from")) if isinstance(query, dict) else "?"
    query_id = str(query.get("query_id")) if isinstance(query, dict) else "?"
    clause = None
    try:
        _open(query, secret, node.name, "hits.query")
        kind = query.get("kind")
        try:
            permitted, clause = policy(store, partner, str(kind))
        except PolicyError as exc:
            raise Rejected("hits_rej_policy", reason=exc.message("en")) from None
        packed, rejected = _decode(query, permitted)
    except Rejected as exc:
        reason = t(exc.key, lang="en", **exc.args_)
        with store.transaction():
            store.execute("INSERT INTO hits_queries VALUES (?, 'received', ?, ?, NULL, 0, 0, 0, 'rejected', ?, ?)",
                          ["rx-" + uuid.uuid4().hex[:12] + ":" + query_id[:40], partner,
                           str(query.get("kind")) if isinstance(query, dict) else None, reason, _now()])
            audit(store, node, actor, "hits.query.rejected", [], clause, f"query {query_id} from {partner}: {reason}")
        return _seal({"type": "hits.answer", "query_id": query_id, "from": node.name, "to": partner,
                      "status": "rejected", "reason_key": exc.key, "reason": reason, "hits": []}, secret)
    fields = list(query["fields"])
    own = _own_records(store, node.name, kind)
    hits: list[dict[str, Any]] = []
    refs_rows: list[tuple[str, str, float]] = []
    if not own.empty:
        mine = clk.Encoder(secret, kind, fields).encode(own.to_dict("records"))
        bad = {r["i"] for r in rejected}
        usable = np.array([i for i in range(len(packed)) if i not in bad], dtype=np.int64)
        if len(usable):
            found = match_blocked(packed[usable], mine, threshold, clk.derive(secret, "lsh"))
            for i, j, score in zip(found["i"], found["j"], found["score"]):
                ref = "ref-" + uuid.uuid4().hex[:20]
                hits.append({"i": int(usable[i]), "ref": ref})
                refs_rows.append((ref, str(own["id"][j]), float(score)))
    with store.transaction():
        now = _now()
        if refs_rows:
            store.insert_arrow("hits_refs", pa.table({
                "ref": [r[0] for r in refs_rows], "query_id": [query_id] * len(refs_rows),
                "partner": [partner] * len(refs_rows), "record_id": [r[1] for r in refs_rows],
                "score": [r[2] for r in refs_rows], "created_at": [now] * len(refs_rows)}))
        store.execute("INSERT INTO hits_queries VALUES (?, 'received', ?, ?, ?, ?, ?, ?, 'answered', NULL, ?)",
                      ["rx-" + query_id, partner, kind, ",".join(fields), len(packed), len(rejected), len(hits), now])
        audit(store, node, actor, "hits.query.answered", [r[1] for r in refs_rows], clause,
              f"query {query_id} from {partner}: {len(packed)} encodings, {len(hits)} hits, "
              f"{len(rejected)} rejected")
    return _seal({"type": "hits.answer", "query_id": query_id, "from": node.name, "to": partner, "status": "answered",
                  "hits": hits, "rejected": rejected}, secret)


# -- A: read the answer ------------------------------------------------------------------
def accept_answer(store: Store, node: Node, secret: bytes, answer: Any, actor: str = "analyst") -> list[dict[str, Any]]:
    """Record the hits of a partner's answer against our own records; returns them."""
    try:
        _open(answer, secret, node.name, "hits.answer")
    except Rejected as exc:
        raise PolicyError("hits_bad_answer", reason=t(exc.key, **exc.args_)) from None
    if answer.get("status") == "rejected":
        reason = str(answer.get("reason"))
        with store.transaction():
            store.execute("UPDATE hits_queries SET status = 'rejected', reason = ? WHERE query_id = ?",
                          [reason, str(answer.get("query_id"))])
            audit(store, node, actor, "hits.answer.rejected", [], _clause(store, str(answer.get("from"))),
                  f"query {answer.get('query_id')} rejected by {answer.get('from')}: {reason}")
        raise PolicyError("hits_query_refused", partner=str(answer.get("from")), reason=reason)
    query_id = answer["query_id"]
    sent = dict(store.query("SELECT i, local_id FROM hits_sent WHERE query_id = ?", [query_id]))
    if not sent:
        raise UsageError("hits_unknown_query", query_id=query_id)
    partner = answer["from"]
    results = [{"local_id": sent[h["i"]], "ref": h["ref"], "partner": partner}
               for h in answer.get("hits", []) if h.get("i") in sent]
    now = _now()
    with store.transaction():
        store.insert_arrow("hits_results", pa.table({
            "query_id": [query_id] * len(results), "local_id": [r["local_id"] for r in results],
            "partner": [partner] * len(results), "ref": [r["ref"] for r in results],
            "score": pa.array([None] * len(results), pa.float64()), "created_at": [now] * len(results)}))
        store.execute("UPDATE hits_queries SET hits = ?, rejected = ?, status = 'answered' WHERE query_id = ?",
                      [len(results), len(answer.get("rejected", [])), query_id])
        audit(store, node, actor, "hits.answer.received", [r["local_id"] for r in results], _clause(store, partner),
              f"query {query_id}: {len(results)} hits from {partner}")
    return results


# -- follow-up ---------------------------------------------------------------------------
def request_followup(store: Store, node: Node, partner: str, secret: bytes, ref: str, reason: str,
                     requested_by: str) -> dict[str, Any]:
    row = store.query("SELECT query_id, local_id FROM hits_results WHERE ref = ? AND partner = ?", [ref, partner])
    if not row:
        raise UsageError("hits_unknown_ref", ref=ref, partner=partner)
    if not reason.strip():
        raise UsageError("hits_reason_required")
    request_id = "fr-" + uuid.uuid4().hex[:16]
    with store.transaction():
        store.execute("INSERT INTO hits_requests VALUES (?, 'sent', ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, NULL)",
                      [request_id, partner, ref, row[0][0], requested_by, reason, _now()])
        audit(store, node, requested_by, "hits.followup.sent", [row[0][1]], _clause(store, partner),
              f"follow-up {request_id} to {partner} for {ref}: {reason}")
    return _seal({"type": "hits.followup", "request_id": request_id, "from": node.name, "to": partner, "ref": ref,
                  "query_id": row[0][0], "requested_by": requested_by, "reason": reason}, secret)


def receive_followup(store: Store, node: Node, secret: bytes, request: Any) -> str:
    try:
        _open(request, secret, node.name, "hits.followup")
    except Rejected as exc:
        raise PolicyError("hits_bad_followup", reason=t(exc.key, **exc.args_)) from None
    ref = store.query("SELECT record_id FROM hits_refs WHERE ref = ? AND partner = ?", [request["ref"], request["from"]])
    status = "pending" if ref else "refused"
    with store.transaction():
        store.execute("INSERT INTO hits_requests VALUES (?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [request["request_id"], request["from"], request["ref"], request.get("query_id"),
                       request.get("requested_by"), request.get("reason"), status,
                       None if ref else "system", None if ref else "unknown reference", _now(),
                       None if ref else _now()])
        audit(store, node, str(request.get("requested_by")), "hits.followup.received", [ref[0][0]] if ref else [],
              _clause(store, request["from"]), f"follow-up {request['request_id']} from {request['from']} for {request['ref']}: "
                      f"{request.get('reason')}")
    return cast(str, request["request_id"])


def decide_followup(store: Store, node: Node, secret: bytes, request_id: str, approve: bool, steward: str,
                    reason: str) -> dict[str, Any]:
    """The steward's decision; an approval names the record, which then travels by the agreement's route."""
    row = store.query("SELECT partner, ref, status FROM hits_requests WHERE request_id = ? AND direction = 'received'",
                      [request_id])
    if not row:
        raise UsageError("hits_unknown_request", request_id=request_id)
    partner, ref, status = row[0]
    if status != "pending":
        raise UsageError("hits_request_decided", request_id=request_id, status=status)
    record = store.scalar("SELECT record_id FROM hits_refs WHERE ref = ?", [ref])
    decision = "approved" if approve else "refused"
    with store.transaction():
        store.execute("UPDATE hits_requests SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ? "
                      "WHERE request_id = ? AND direction = 'received'", [decision, steward, reason, _now(), request_id])
        audit(store, node, steward, f"hits.followup.{decision}", [record], _clause(store, partner),
              f"follow-up {request_id} from {partner} for {ref}: {reason}")
    body = {"type": "hits.decision", "request_id": request_id, "from": node.name, "to": partner, "ref": ref,
            "decision": decision, "steward": steward, "reason": reason}
    if approve:
        body["record_id"] = record
    return _seal(body, secret)


def accept_decision(store: Store, node: Node, secret: bytes, decision: Any) -> dict[str, Any]:
    try:
        _open(decision, secret, node.name, "hits.decision")
    except Rejected as exc:
        raise PolicyError("hits_bad_decision", reason=t(exc.key, **exc.args_)) from None
    local = store.scalar("SELECT r.local_id FROM hits_requests q JOIN hits_results r ON r.ref = q.ref "
                         "WHERE q.request_id = ? AND q.direction = 'sent'", [decision["request_id"]])
    with store.transaction():
        store.execute("UPDATE hits_requests SET status = ?, decided_by = ?, decision_reason = ?, decided_at = ? "
                      "WHERE request_id = ? AND direction = 'sent'",
                      [decision["decision"], decision["steward"], decision["reason"], _now(), decision["request_id"]])
        audit(store, node, str(decision["steward"]), f"hits.followup.{decision['decision']}.received",
              [local] if local else [], _clause(store, decision["from"]),
              f"follow-up {decision['request_id']} {decision['decision']} by {decision['from']}: {decision['reason']}")
    return {"request_id": decision["request_id"], "decision": decision["decision"],
            "record_id": decision.get("record_id")}


def list_requests(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    rows = store.query("SELECT request_id, direction, partner, ref, requested_by, reason, status, decided_by, "
                       "decision_reason, created_at FROM hits_requests ORDER BY created_at, request_id")
    keys = ("request_id", "direction", "partner", "ref", "requested_by", "reason", "status", "decided_by",
            "decision_reason", "created_at")
    return [dict(zip(keys, r)) for r in rows if status is None or r[6] == status]
