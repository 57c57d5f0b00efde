"""Privacy-preserving hit/no-hit between two nodes (the Prüm model).

Node A sends keyed Bloom-filter encodings of some of its records (``make_query``); node B
compares them with encodings of its own records under the same key and answers, for each
query encoding, with one opaque reference (its best match) or nothing (``answer_query``):
one bit per query record, never a count. A may ask for a reference (``request_followup``);
B's steward approves or refuses it (``decide_followup``). Every step is written to both
nodes' audit logs, naming the person who asked.

The agreement in force states the terms (section ``hits``, defaults in share.agreement):
which fields are match-only, the minimum set of fields a query and each of its encodings must
carry (so a surname alone is refused), and per-day caps on encodings and on the hit rate past
which B refuses and flags the partner to its steward.

Keys: the two nodes share one secret; every message is made under a matching key derived
from it (HKDF) for one agreement version and one direction (asker -> answerer), so keys
rotate whenever the agreement changes, and a key of a superseded version is refused once the
agreement's grace period has passed. Each message carries the key's id and an HMAC under it:
a message made with another key, or altered on the way, is refused before it is read.
Everything here takes and returns plain dicts (JSON-ready), so any transport works.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets as _secrets
import uuid
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from puente.errors import ConfigError, PolicyError, UsageError
from puente.i18n import t
from puente.link import clk, identity
from puente.link import normalize as nz
from puente.link.audit_hook import audit
from puente.link.minimum import MAX_DENSITY, complete, match
from puente.node import Node
from puente.store.base import Store

VERSION = 2
DEFAULT_THRESHOLD = 5.0  # bits of evidence (clk.FieldEncoding); chosen on FEBRL4, the simulator and generated people
MAX_ENCODINGS = 200_000


# -- the shared secret and the keys derived from it --------------------------------------
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return path


def load_secret(home: Path, partner: str) -> bytes:
    path = secret_path(home, partner)
    if not path.exists():
        raise ConfigError("hits_no_secret", partner=partner, path=str(path))
    return bytes.fromhex(path.read_text().strip())


def matching_key(secret: bytes, agreement_id: str, version: int, asker: str, answerer: str) -> bytes:
    """The key of one agreement version and one direction (HKDF-SHA256 of the shared secret)."""
    info = f"puente-hits\x1f{agreement_id}\x1f{version}\x1f{asker}>{answerer}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"puente-hits-v2", info=info).derive(secret)


def _installed(store: Store, agreement_id: str) -> dict[int, dt.datetime]:
    rows = store.query("SELECT version, MIN(installed_at) FROM share_agreements WHERE agreement_id = ? GROUP BY 1",
                       [agreement_id])
    return {int(v): cast(dt.datetime, at) for v, at in rows}


class Rejected(Exception):
    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key, self.args_ = key, args


def _key_for(store: Store, secret: bytes, partner: str, version: Any, asker: str, answerer: str) -> bytes:
    """The key a message of ``version`` must be made with, or Rejected if that version's key is no
    longer (or not yet) accepted: the current version's, or the one it superseded within the grace."""
    from puente.share import registry

    try:
        agreement, _ = registry.current(store, partner)
    except PolicyError as exc:
        raise Rejected("hits_rej_policy", reason=exc.message("en")) from None
    if version == agreement.version:
        return matching_key(secret, agreement.id, agreement.version, asker, answerer)
    installed = _installed(store, agreement.id)
    grace = dt.timedelta(days=int(agreement.hits_terms()["key_grace_days"]))
    newer = [v for v in installed if isinstance(version, int) and v > version]
    if not isinstance(version, int) or version not in installed or not newer:
        raise Rejected("hits_rej_key_version", version=str(version), current=agreement.version)
    replaced_at = installed[min(newer)]
    if _now() - replaced_at > grace:
        raise Rejected("hits_rej_old_key", version=version, current=agreement.version,
                       since=f"{replaced_at:%Y-%m-%d}", days=grace.days)
    return matching_key(secret, agreement.id, version, asker, answerer)


def _current_key(store: Store, secret: bytes, partner: str, asker: str, answerer: str) -> tuple[bytes, int]:
    from puente.share import registry

    agreement, _ = registry.current(store, partner)
    return matching_key(secret, agreement.id, agreement.version, asker, answerer), agreement.version


# -- messages ----------------------------------------------------------------------------
def _canonical(message: dict[str, Any]) -> bytes:
    body = {k: v for k, v in message.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _seal(message: dict[str, Any], key: bytes, agreement_version: int) -> dict[str, Any]:
    message = {**message, "version": VERSION, "agreement_version": agreement_version, "key_id": clk.key_id(key)}
    message["mac"] = hmac.new(clk.derive(key, "mac"), _canonical(message), hashlib.sha256).hexdigest()
    return message


# who asked and who answers, by message type: the direction of the key
_ASKS = {"hits.query": True, "hits.followup": True, "hits.answer": False, "hits.decision": False}


def _open(store: Store, message: Any, secret: bytes, me: str, kind_of_message: str) -> bytes:
    """Authenticate a partner's message before reading any of it; returns the key it was made with."""
    if not isinstance(message, dict):
        raise Rejected("hits_rej_not_object")
    if message.get("type") != kind_of_message or message.get("version") != VERSION:
        raise Rejected("hits_rej_type", expected=kind_of_message, found=str(message.get("type")))
    if message.get("to") != me:
        raise Rejected("hits_rej_recipient", to=str(message.get("to")), me=me)
    partner = str(message.get("from"))
    asker, answerer = (partner, me) if _ASKS[kind_of_message] else (me, partner)
    key = _key_for(store, secret, partner, message.get("agreement_version"), asker, answerer)
    if message.get("key_id") != clk.key_id(key):
        raise Rejected("hits_rej_wrong_secret")
    expected = hmac.new(clk.derive(key, "mac"), _canonical(message), hashlib.sha256).hexdigest()
    if not isinstance(message.get("mac"), str) or not hmac.compare_digest(expected, message["mac"]):
        raise Rejected("hits_rej_bad_mac")
    return key


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _own_records(store: Store, node: str, kind: str, ids: list[str] | None = None) -> pd.DataFrame:
    frame = store.query_arrow(f"SELECT * FROM {kind} WHERE owner_node = ? ORDER BY id", [node]).to_pandas()
    if ids is not None:
        frame = frame[frame["id"].isin(set(ids))]
    return frame.reset_index(drop=True)


def content_keys(records: pd.DataFrame) -> list[str]:
    """Per record, a text derived from its content alone (the ingest's content hash; empty where a record has
    none): the last tie-break between references whose encodings are equal, so that the reference kept never
    depends on the node's random record ids or the order records were loaded in."""
    if "content_hash" not in records:
        return [""] * len(records)
    return ["" if nz.is_missing(v) else str(v) for v in records["content_hash"]]


def allowed_fields(kind: str, agreement_fields: list[str]) -> list[str]:
    """The encodable fields whose model fields the agreement all marks match-only."""
    allowed = set(agreement_fields)
    return [f for f, spec in clk.FIELDS.get(kind, {}).items() if set(spec.reads) <= allowed]


class Terms:
    """What the agreement in force allows for hit/no-hit on one kind, and the clause to cite."""

    def __init__(self, store: Store, partner: str, kind: str) -> None:
        from puente.share import registry

        agreement, status = registry.current(store, partner)
        in_force = agreement.in_force()
        if status != "active" or not in_force.allowed:
            raise PolicyError("hits_agreement_not_in_force", partner=partner, agreement=agreement.id,
                              reason=status if status != "active" else in_force.reason)
        terms = agreement.hits_terms()
        self.fields = allowed_fields(kind, agreement.match_only_fields(kind))
        self.clause = f"{agreement.id}@v{agreement.version}:kinds.{kind}.fields(match_only)"
        self.cap_clause = f"{agreement.id}@v{agreement.version}:hits"
        stated = (terms["min_fields"] or {}).get(kind)
        self.min_fields: list[list[str]] = stated or clk.MIN_FIELDS.get(kind, [])
        self.max_per_day = int(terms["max_encodings_per_day"])
        self.max_hit_rate = float(terms["max_hit_rate"])
        self.hit_rate_after = int(terms["hit_rate_after"])
        self.max_per_identity = int(terms["max_per_identity"])

    def meets_minimum(self, fields: list[str]) -> bool:
        return any(set(need) <= set(fields) for need in self.min_fields)

    def describe_minimum(self) -> str:
        return " | ".join("+".join(need) for need in self.min_fields)


def policy(store: Store, partner: str, kind: str) -> tuple[list[str], str]:
    """(encodable fields, clause) the agreement in force with ``partner`` allows for hit/no-hit on ``kind``."""
    terms = Terms(store, partner, kind)
    return terms.fields, terms.clause


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
    terms = Terms(store, partner, kind)
    permitted = terms.fields
    fields = fields or [f for f in clk.DEFAULT_FIELDS.get(kind, []) if f in permitted]
    refused = [f for f in fields if f not in permitted]
    if refused or not fields:
        raise PolicyError("hits_fields_not_allowed", fields=", ".join(refused) or "-", partner=partner)
    if not terms.meets_minimum(fields):
        raise PolicyError("hits_min_fields", fields=", ".join(fields), need=terms.describe_minimum(),
                          partner=partner)
    records = _own_records(store, node.name, kind, record_ids)
    if records.empty:
        raise UsageError("hits_nothing_to_send", kind=kind)
    if len(records) > MAX_ENCODINGS:
        raise UsageError("hits_too_many", count=len(records), limit=MAX_ENCODINGS)
    key, version = _current_key(store, secret, partner, node.name, partner)
    encoder = clk.Encoder(key, kind, fields)
    encoded = encoder.encode(records)
    keep = complete(encoded, encoder.layout, terms.min_fields)  # records too thin to query with stay home
    skipped = int((~keep).sum())
    if not keep.any():
        raise UsageError("hits_nothing_to_send", kind=kind)
    encoded, records = encoded[keep], records[keep].reset_index(drop=True)
    query_id = "q-" + uuid.uuid4().hex[:16]
    message = _seal({"type": "hits.query", "query_id": query_id, "from": node.name, "to": partner, "kind": kind,
                     "fields": fields, "bytes": encoder.layout.nbytes, "count": len(records), "asked_by": actor,
                     "encodings": base64.b64encode(encoded.tobytes()).decode()}, key, version)
    with store.transaction():
        store.insert_arrow("hits_sent", pa.table({"query_id": [query_id] * len(records),
                                                  "i": list(range(len(records))), "local_id": list(records["id"])}))
        store.execute("INSERT INTO hits_queries VALUES (?, 'sent', ?, ?, ?, ?, 0, NULL, 'sent', ?, ?)",
                      [query_id, partner, kind, ",".join(fields), len(records),
                       f"{skipped} records lacked the minimum fields" if skipped else None, _now()])
        audit(store, node, actor, "hits.query.sent", list(records["id"]), terms.clause,
              f"{len(records)} {kind} encodings ({', '.join(fields)}) to {partner}, query {query_id}, "
              f"agreement version {version}" + (f"; {skipped} records without the minimum fields not sent"
                                                  if skipped else ""))
    return message


# -- B: answer ---------------------------------------------------------------------------
def _decode(message: dict[str, Any], terms: Terms) -> tuple[np.ndarray, clk.Layout, list[dict[str, Any]]]:
    kind, fields = message.get("kind"), message.get("fields")
    if kind not in clk.FIELDS:
        raise Rejected("hits_rej_kind", kind=str(kind))
    if not isinstance(fields, list) or not fields or any(f not in terms.fields for f in fields) \
            or len(set(fields)) != len(fields):
        raise Rejected("hits_rej_fields", fields=str(fields), allowed=", ".join(terms.fields))
    if not terms.meets_minimum(fields):
        raise Rejected("hits_rej_min_fields", fields=", ".join(fields), need=terms.describe_minimum())
    lay = clk.layout(str(kind), fields)
    if message.get("bytes") != lay.nbytes:
        raise Rejected("hits_rej_bits", bits=str(message.get("bytes")), expected=lay.nbytes)
    count = message.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1 or count > MAX_ENCODINGS:
        raise Rejected("hits_rej_count", count=str(count), limit=MAX_ENCODINGS)
    try:
        raw = base64.b64decode(message.get("encodings", ""), validate=True)
    except (ValueError, TypeError):
        raise Rejected("hits_rej_base64") from None
    if len(raw) != count * lay.nbytes:
        raise Rejected("hits_rej_length", size=len(raw), expected=count * lay.nbytes, count=count)
    packed = np.frombuffer(raw, dtype=np.uint8).reshape(count, lay.nbytes)
    carries = complete(packed, lay, terms.min_fields)
    reason = t("hits_rej_thin", lang="en", need=terms.describe_minimum(), high=f"{MAX_DENSITY:.0%}")
    rejected = [{"i": int(i), "reason": reason} for i in np.nonzero(~carries)[0]]
    return packed, lay, rejected


def _usage_today(store: Store, partner: str) -> tuple[int, int, int, int]:
    """(encodings received, encodings judged, hits given, queries flagged) for ``partner`` since midnight UTC.

    The daily cap counts every encoding received; the hit rate counts only the encodings actually matched
    ("judged": those of answered queries, less those rejected one by one), so encodings that could never hit
    (too thin, refused queries) do not dilute the rate a partner observes."""
    start = _now().replace(hour=0, minute=0, second=0, microsecond=0)
    row = store.query("SELECT COALESCE(SUM(encodings), 0), "
                      "COALESCE(SUM(CASE WHEN status = 'answered' THEN encodings - COALESCE(rejected, 0) ELSE 0 END), 0), "
                      "COALESCE(SUM(hits), 0), "
                      "COALESCE(SUM(CASE WHEN status = 'flagged' THEN 1 ELSE 0 END), 0) FROM hits_queries "
                      "WHERE direction = 'received' AND partner = ? AND created_at >= ?", [partner, start])
    return int(row[0][0]), int(row[0][1]), int(row[0][2]), int(row[0][3])


def _refuse(store: Store, node: Node, secret: bytes, key: bytes | None, version: Any, query: Any, exc: Rejected,
            actor: str, clause: str | None, flagged: bool = False, encodings: int = 0) -> dict[str, Any]:
    partner = str(query.get("from")) if isinstance(query, dict) else "?"
    query_id = str(query.get("query_id")) if isinstance(query, dict) else "?"
    reason = t(exc.key, lang="en", **exc.args_)
    with store.transaction():
        store.execute("INSERT INTO hits_queries VALUES (?, 'received', ?, ?, NULL, ?, 0, 0, ?, ?, ?)",
                      ["rx-" + uuid.uuid4().hex[:12] + ":" + query_id[:40], partner,
                       str(query.get("kind")) if isinstance(query, dict) else None, encodings,
                       "flagged" if flagged else "rejected", reason, _now()])
        audit(store, node, actor, "hits.query.flagged" if flagged else "hits.query.rejected", [], clause,
              f"query {query_id} from {partner}: {reason}" + ("; flagged to the steward" if flagged else ""))
    body = {"type": "hits.answer", "query_id": query_id, "from": node.name, "to": partner, "status": "rejected",
            "reason_key": exc.key, "reason": reason, "hits": []}
    if key is None:  # we could not authenticate the query: answer under the current key, if any
        try:
            key, version = _current_key(store, secret, partner, partner, node.name)
        except PolicyError:
            key, version = clk.derive(secret, "no-agreement"), 0
    return _seal(body, key, int(version) if isinstance(version, int) else 0)


def answer_query(store: Store, node: Node, secret: bytes, query: Any, threshold: float = DEFAULT_THRESHOLD,
                 actor: str = "operator") -> dict[str, Any]:
    """Answer a partner's query: for each encoding, the reference of its best match or nothing.

    ``actor`` is who processed the query here (the CLI user, the API's partner-node account);
    the audit entry names the person who asked at the partner as well."""
    partner = str(query.get("from")) if isinstance(query, dict) else "?"
    query_id = str(query.get("query_id")) if isinstance(query, dict) else "?"
    clause, key, asker = None, None, actor
    version = query.get("agreement_version") if isinstance(query, dict) else None
    try:
        key = _open(store, query, secret, node.name, "hits.query")
        asker = f"{query.get('asked_by') or '?'}@{partner} (processed by {actor})"
        try:
            terms = Terms(store, partner, str(query.get("kind")))
        except PolicyError as exc:
            raise Rejected("hits_rej_policy", reason=exc.message("en")) from None
        clause = terms.clause
        packed, lay, rejected = _decode(query, terms)
    except Rejected as exc:
        return _refuse(store, node, secret, key, version, query, exc, asker, clause)
    # the day's usage is read and this query recorded under one lock per partner: two processes answering at
    # once (server workers on PostgreSQL; a worker and `hits answer`) each read the usage before either
    # recorded its query, and both passed a cap that admits one (DuckDB: one process, whose API answers one
    # query at a time under its audit lock)
    with store.transaction() if store.dialect.multi_process else contextlib.nullcontext():
        if store.dialect.multi_process:
            store.lock(f"hits-answer:{partner}")
        used, judged, given, flagged = _usage_today(store, partner)
        if flagged:
            return _refuse(store, node, secret, key, version, query, Rejected("hits_rej_flagged"), asker, terms.cap_clause, True)
        if used + len(packed) > terms.max_per_day:
            return _refuse(store, node, secret, key, version, query,
                           Rejected("hits_rej_cap", used=used, count=len(packed), cap=terms.max_per_day),
                           asker, terms.cap_clause, True)
        bad = {r["i"] for r in rejected}
        usable = np.array([i for i in range(len(packed)) if i not in bad], dtype=np.int64)
        # one identity with one field varied (a known name under every birth date): counted over the day, before matching
        with store.transaction():
            same, batch = identity.count(store, partner, query_id, packed[usable], lay, key, _now().date())
        if same > terms.max_per_identity:
            identity.forget(store, batch)
            return _refuse(store, node, secret, key, version, query,
                           Rejected("hits_rej_identity", count=same, cap=terms.max_per_identity),
                           asker, terms.cap_clause, True, encodings=len(packed))
        kind, fields = str(query["kind"]), list(query["fields"])
        own = _own_records(store, node.name, kind)
        found = pd.DataFrame({"i": [], "j": [], "score": []})
        if not own.empty:
            mine = clk.Encoder(key, kind, fields).encode(own)
            if len(usable):
                found = match(packed[usable], mine, lay, key, terms.min_fields, threshold, content_keys(own))
                found["i"] = usable[found["i"].to_numpy().astype(np.int64)]
        # the rate is over encodings that could hit: one rejected one by one (too thin to match) never dilutes it
        total, total_hits = judged + len(packed) - len(bad), given + len(found)
        if total >= terms.hit_rate_after and total_hits > terms.max_hit_rate * total:
            identity.forget(store, batch)
            return _refuse(store, node, secret, key, version, query,
                           Rejected("hits_rej_rate", rate=f"{total_hits / total:.0%}", cap=f"{terms.max_hit_rate:.0%}"),
                           asker, terms.cap_clause, True, encodings=len(packed))
        hits: list[dict[str, Any]] = []
        refs_rows: list[tuple[str, str, float]] = []
        for i, j, score in zip(found["i"], found["j"], found["score"]):
            ref = "ref-" + uuid.uuid4().hex[:20]
            hits.append({"i": int(i), "ref": ref})
            refs_rows.append((ref, str(own["id"][int(j)]), float(score)))
        with store.transaction():
            now = _now()
            if refs_rows:
                store.insert_arrow("hits_refs", pa.table({
                    "ref": [r[0] for r in refs_rows], "query_id": [query_id] * len(refs_rows),
                    "partner": [partner] * len(refs_rows), "record_id": [r[1] for r in refs_rows],
                    "score": [r[2] for r in refs_rows], "created_at": [now] * len(refs_rows)}))
            store.execute("INSERT INTO hits_queries VALUES (?, 'received', ?, ?, ?, ?, ?, ?, 'answered', NULL, ?)",
                          ["rx-" + query_id, partner, kind, ",".join(fields), len(packed), len(rejected), len(hits), now])
            audit(store, node, asker, "hits.query.answered", [r[1] for r in refs_rows], clause,
                  f"query {query_id} from {partner}: {len(packed)} encodings, {len(hits)} hit, "
                  f"{len(rejected)} rejected (agreement version {version})")
        return _seal({"type": "hits.answer", "query_id": query_id, "from": node.name, "to": partner, "status": "answered",
                      "hits": hits, "rejected": rejected}, key, cast(int, version))


# -- A: read the answer ------------------------------------------------------------------
def accept_answer(store: Store, node: Node, secret: bytes, answer: Any, actor: str = "analyst") -> list[dict[str, Any]]:
    """Record the hits of a partner's answer against our own records; returns them."""
    try:
        _open(store, answer, secret, node.name, "hits.answer")
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
    seen: set[int] = set()
    results = []
    for h in answer.get("hits", []):
        if h.get("i") in sent and h["i"] not in seen:  # one reference per query record, whatever was sent
            seen.add(h["i"])
            results.append({"local_id": sent[h["i"]], "ref": h["ref"], "partner": partner})
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
    key, version = _current_key(store, secret, partner, node.name, partner)
    with store.transaction():
        store.execute("INSERT INTO hits_requests VALUES (?, 'sent', ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, NULL)",
                      [request_id, partner, ref, row[0][0], requested_by, reason, _now()])
        audit(store, node, requested_by, "hits.followup.sent", [row[0][1]], _clause(store, partner),
              f"follow-up {request_id} to {partner} for {ref}: {reason}")
    return _seal({"type": "hits.followup", "request_id": request_id, "from": node.name, "to": partner, "ref": ref,
                  "query_id": row[0][0], "requested_by": requested_by, "reason": reason}, key, version)


def receive_followup(store: Store, node: Node, secret: bytes, request: Any) -> str:
    try:
        _open(store, request, secret, node.name, "hits.followup")
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
    key, version = _current_key(store, secret, partner, partner, node.name)
    return _seal(body, key, version)


def accept_decision(store: Store, node: Node, secret: bytes, decision: Any) -> dict[str, Any]:
    try:
        _open(store, decision, secret, node.name, "hits.decision")
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
