"""Export: the records an agreement allows, transformed, as a signed incremental bundle for one partner.

Only what changed since the last bundle to that partner travels: new and corrected records,
ids that were deleted or no longer qualify, and pending revocations. Partner data (records this
node received) is never sent back to its owner, and is sent to anyone else only when both the
agreement it arrived under and the outgoing agreement allow onward transfer.

This is the commit half: :mod:`puente.share.plan` decides (purely) which records, fields and transforms;
here the plan runs on the store over whole tables. Per kind, one statement transforms, pseudonymizes and
hashes the allowed records and compares each hash with what the partner already holds (``share_sent``);
the engine writes the changed rows, with their hash, as the Parquet part; the sent state is updated with
two set-based statements; one audit entry commits to every id the bundle carries.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from puente.audit import log as audit
from puente.audit.checkpoint import Checkpoint
from puente.audit.merkle import EMPTY_ROOT, consistency_proof
from puente.errors import PolicyError
from puente.model import load_model
from puente.node import Node
from puente.share import registry
from puente.share.agreement import Agreement, key_id
from puente.share.bundle import decoded_size, pack_parts
from puente.share.envelope import BUNDLE_TYPE, seal
from puente.share.plan import HASH_COLUMN, KindPlan, plan_kind, pseudonym_key, row_hash_sql, select_sql
from puente.store.base import Store

PROOF_HISTORY = 16  # published checkpoints a bundle proves consistency from


@dataclass
class ExportReport:
    bundle_id: str
    partner: str
    sequence: int
    records: int = 0
    deleted: int = 0
    revoked: int = 0
    terminated: bool = False
    denied: Counter[str] = field(default_factory=Counter)
    onward_refused: int = 0


def _utc(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


def export_bundle(node: Node, store: Store, partner: str, actor: str = "node", ttl_hours: int = 168,
                  now: dt.datetime | None = None, report: ExportReport | None = None, full: bool = False) -> bytes:
    """Build, sign and record the next bundle for ``partner``. Returns the bundle bytes.

    ``full`` resends every allowed record (after a lost bundle), not only what changed."""
    now = _utc(now)
    agreement, terminating = _in_force(store, partner, now)
    with store.transaction(), tempfile.TemporaryDirectory(prefix="puente-export-") as tmp:
        # exports take turns (PostgreSQL: two processes), so the second reads the sequence and the records sent
        # that the first wrote; else both wrote bundle #1, both recorded as sent, and the partner refused one
        store.lock("share-export")
        seq = int(store.scalar("SELECT seq_sent FROM share_peers WHERE partner = ?", [partner]) or 0) + 1
        rep = report or ExportReport("", partner, seq)
        rep.bundle_id, rep.sequence, rep.terminated = uuid.uuid4().hex, seq, terminating
        run = _Run(node, store, agreement, partner, rep, full, Path(tmp))
        key = pseudonym_key(node.id_key, agreement.id)
        revoked = _pending_revocations(store, partner)
        parts: list[_Part] = []
        deleted: dict[str, list[str]] = {}
        for kind in load_model().kinds:
            allowed = not terminating and agreement.decide_kind(kind).allowed
            part, gone = _export_kind(run, plan_kind(agreement, kind, store.dialect, key), allowed)
            parts += [part] if part else []
            _settle(store, partner, kind, gone, terminating, revoked, deleted)
        rep.records = sum(p.rows for p in parts)
        rep.deleted = sum(map(len, deleted.values()))
        rep.revoked = sum(map(len, revoked.values()))
        _audit(run, actor, parts, deleted, revoked)
        checkpoint = audit.latest_checkpoint(store, node)
        manifest = _manifest(node, agreement, rep, now, ttl_hours, checkpoint, deleted, revoked)
        manifest["consistency"] = _consistency(store, partner, checkpoint.size)
        data = seal(BUNDLE_TYPE, pack_parts(manifest, [(p.kind, p.blob, p.rows, p.decoded) for p in parts]),
                    node.signing_key, key_id(node.public_key_pem))
        _record(store, node, partner, rep, agreement, manifest, checkpoint)
        if terminating:
            registry.set_status(store, agreement, "terminated")
    return data


def _in_force(store: Store, partner: str, now: dt.datetime) -> tuple[Agreement, bool]:
    """The agreement with ``partner`` and whether this bundle terminates it (it was revoked)."""
    agreement, status = registry.current(store, partner)
    if status == "terminated":
        raise PolicyError("agreement_terminated", agreement=agreement.id, partner=partner)
    if status != "revoked":
        decision = agreement.in_force(now.date())
        if not decision.allowed:
            raise PolicyError("agreement_not_in_force", agreement=agreement.id, clause=decision.clause,
                              reason=decision.reason)
    return agreement, status == "revoked"


def _onward(node: Node, store: Store, agreement: Agreement, partner: str, kind: str) -> tuple[list[str], int]:
    """Bundles of partner records that may travel onward to ``partner``, and how many partner records may not."""
    others = store.query(f"SELECT bundle_id, owner_node, COUNT(*) FROM {kind} WHERE owner_node <> ? "
                         "GROUP BY bundle_id, owner_node", [node.name])
    allowed: list[str] = []
    refused = 0
    for bundle_id, owner, count in others:
        origin = store.scalar("SELECT agreement_id FROM share_bundles WHERE bundle_id = ?", [bundle_id])
        found = registry.by_id(store, origin) if origin else None
        if owner != partner and agreement.onward_transfer and found and found[0].onward_transfer:
            allowed.append(bundle_id)
        elif owner != partner:
            refused += count
    return sorted(set(allowed)), refused


@dataclass
class _Part:
    kind: str
    blob: bytes
    rows: int
    decoded: int
    ids: pa.ChunkedArray


@dataclass
class _Run:
    """One export in progress: who to, under which agreement, and what it found so far."""

    node: Node
    store: Store
    agreement: Agreement
    partner: str
    rep: ExportReport
    full: bool
    workdir: Path


def _candidates(run: _Run, kind: str, allowed: bool) -> tuple[str, list[Any]]:
    """The records that may go to the partner at all, as a condition over ``t``: ours, and partner records
    allowed onward (never back to their owner); never revoked ones."""
    if not allowed:
        return "FALSE", []
    onward, refused = _onward(run.node, run.store, run.agreement, run.partner, kind)
    run.rep.onward_refused += refused
    owners = "t.owner_node = ?"
    if onward:
        owners += f" OR (t.bundle_id IN ({', '.join('?' for _ in onward)}) AND t.owner_node <> ?)"
    sql = f"({owners}) AND t.id NOT IN (SELECT record_id FROM share_revocations WHERE partner = ? AND kind = ?)"
    return sql, [run.node.name, *onward, *([run.partner] if onward else []), run.partner, kind]


def _write_changed(run: _Run, plan: KindPlan, allowed: bool, target: Path) -> tuple[str, list[Any]]:
    """Write the records the plan lets through that changed since what the partner holds, transformed and with
    their row hash, as the Parquet part at ``target``: one statement over the whole table, written by the engine.
    Returns the condition (over ``t``) that the records the partner should now hold meet, and its parameters."""
    store, kind = run.store, plan.kind
    cand, cand_params = _candidates(run, kind, allowed)
    _fill_lookups(store, plan, cand, cand_params)
    if allowed and plan.filters:
        denied_sql, denied_params = plan.denied_sql()
        counts = store.query(f"SELECT {denied_sql} FROM {kind} t WHERE {cand}", [*denied_params, *cand_params])[0]
        run.rep.denied.update({p.clause: int(n) for p, n in zip(plan.filters, counts) if n})
    where, params = plan.where()
    held = f"{cand} AND {where}"
    hashed = (f"SELECT q.*, {row_hash_sql(store.dialect, plan.names)} AS {HASH_COLUMN} "
              f"FROM ({select_sql(plan, kind)} WHERE {held}) q")
    changed = "" if run.full else f" WHERE s.row_hash IS NULL OR s.row_hash <> h.{HASH_COLUMN}"
    cols = ", ".join(f"h.{c}" for c in [*plan.names, HASH_COLUMN])
    store.query_parquet(f"SELECT {cols} FROM ({hashed}) h LEFT JOIN share_sent s ON s.partner = ? AND s.kind = ? "
                        f"AND s.record_id = h.id{changed}", [*cand_params, *params, run.partner, kind], target)
    return held, [*cand_params, *params]


def _export_kind(run: _Run, plan: KindPlan, allowed: bool) -> tuple[_Part | None, list[str]]:
    """The part for one kind (None when nothing changed) and the ids the partner holds that are gone. The sent
    state changes in two set-based statements (the written part's ids and hashes, read back from the file)."""
    store, partner, kind = run.store, run.partner, plan.kind
    target = run.workdir / f"{kind}.parquet"
    try:
        held, held_params = _write_changed(run, plan, allowed, target)
        still = f"EXISTS (SELECT 1 FROM {kind} t WHERE t.id = share_sent.record_id AND {held})"
        gone = [r for (r,) in store.query(f"SELECT record_id FROM share_sent WHERE partner = ? AND kind = ? AND NOT "
                                          f"{still} ORDER BY record_id", [partner, kind, *held_params])]
        sent = pq.read_table(target, columns=["id", HASH_COLUMN])
        n = sent.num_rows
        new = pa.table({"partner": pa.repeat(pa.scalar(partner), n), "kind": pa.repeat(pa.scalar(kind), n),
                        "record_id": sent.column("id"), "row_hash": sent.column(HASH_COLUMN)})
        with store.staged("share_new", new, "share_sent") as staged:
            store.execute(f"DELETE FROM share_sent WHERE partner = ? AND kind = ? AND (record_id IN (SELECT record_id "
                          f"FROM {staged}) OR NOT {still})", [partner, kind, *held_params])
            store.execute(f"INSERT INTO share_sent SELECT partner, kind, record_id, row_hash FROM {staged}")
    finally:
        _drop_lookups(store, plan)
    if not n:
        return None, gone
    return _Part(kind, target.read_bytes(), n, _decoded_bytes(target), sent.column("id")), gone


def as_sent(node: Node, store: Store, partner: str, kind: str) -> pa.Table:
    """This node's ``kind`` records as ``partner`` holds them: transformed by the agreement in force, kept where
    the result still hashes to what the sharing log says was sent, with that hash as ``content_hash``; by id.
    (The joint picture both nodes compare, :mod:`puente.analyze.joint`.)"""
    agreement, _ = registry.current(store, partner)
    plan = plan_kind(agreement, kind, store.dialect, pseudonym_key(node.id_key, agreement.id))
    try:
        _fill_lookups(store, plan, "t.owner_node = ?", [node.name])
        hashed = (f"SELECT q.*, {row_hash_sql(store.dialect, plan.names)} AS content_hash "
                  f"FROM ({select_sql(plan, kind)} WHERE t.owner_node = ?) q")
        return store.query_arrow(f"SELECT h.* FROM ({hashed}) h JOIN share_sent s ON s.partner = ? AND s.kind = ? "
                                 "AND s.record_id = h.id AND s.row_hash = h.content_hash ORDER BY h.id",
                                 [node.name, partner, kind])
    finally:
        _drop_lookups(store, plan)


def _fill_lookups(store: Store, plan: KindPlan, where: str, params: list[Any]) -> None:
    """Create the plan's place lookups, filled for the distinct values of the rows of ``t`` meeting ``where``."""
    for lk in plan.lookups:
        store.execute(lk.ddl(store.dialect))
        values = [v for (v,) in store.query(f"SELECT DISTINCT t.{lk.source} FROM {plan.kind} t WHERE {where} AND "
                                            f"t.{lk.source} IS NOT NULL", params)]
        store.insert_arrow(lk.alias, lk.rows(values))


def _drop_lookups(store: Store, plan: KindPlan) -> None:
    for lk in plan.lookups:
        store.execute(f"DROP TABLE IF EXISTS {lk.alias}")


def _decoded_bytes(path: Path) -> int:
    """What the part takes once read, measured the way the recipient measures it (strings kept
    dictionary-encoded, counted per value), declared in the manifest so a part decoding to more is refused."""
    meta = pq.ParquetFile(path)
    strings = [f.name for f in meta.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    stream = pq.ParquetFile(path, read_dictionary=strings)
    return sum(decoded_size(batch) for batch in stream.iter_batches(batch_size=65536))


def _pending_revocations(store: Store, partner: str) -> dict[str, list[str]]:
    revoked: dict[str, list[str]] = {}
    for kind, rid in store.query("SELECT kind, record_id FROM share_revocations WHERE partner = ? "
                                 "AND bundle_id IS NULL ORDER BY revoked_at, record_id", [partner]):
        revoked.setdefault(kind, []).append(rid)
    return revoked


def _settle(store: Store, partner: str, kind: str, gone: list[str], terminating: bool,
            revoked: dict[str, list[str]], deleted: dict[str, list[str]]) -> None:
    """Sort what the partner holds but no longer gets into deleted and revoked (all of it, when terminating)."""
    revoked_ids = {r for (r,) in store.query(
        "SELECT record_id FROM share_revocations WHERE partner = ? AND kind = ?", [partner, kind])}
    if terminating:  # everything the partner holds of ours is revoked
        pending = set(revoked.get(kind, []))
        revoked.setdefault(kind, []).extend(sorted(rid for rid in gone if rid not in pending))
        revoked_ids |= set(gone)
        if not revoked[kind]:
            del revoked[kind]
    gone = [rid for rid in gone if rid not in revoked_ids]
    if gone:
        deleted[kind] = gone


def _audit(run: _Run, actor: str, parts: list[_Part], deleted: dict[str, list[str]],
           revoked: dict[str, list[str]]) -> None:
    """One audit entry for the bundle, committing to every id it carries (shipped, deleted, revoked)."""
    rep = run.rep
    clause = f"{run.agreement.id}@v{run.agreement.version}"
    if rep.onward_refused:
        audit.append(run.store, run.node, actor, "onward_refused", [], f"{clause}:onward_transfer",
                     f"{rep.onward_refused} partner records withheld from {run.partner}: onward transfer not allowed")
    others = [r for v in deleted.values() for r in v] + [r for v in revoked.values() for r in v]
    ids = pa.chunked_array([c for p in parts for c in p.ids.chunks] + [pa.array(others, pa.string())], pa.string())
    denied_text = ", ".join(f"{c}: {n}" for c, n in sorted(rep.denied.items())) or "none"
    audit.append(run.store, run.node, actor, "export", ids, clause,
                 f"bundle {rep.bundle_id} #{rep.sequence} to {run.partner}: {rep.records} records, {rep.deleted} "
                 f"deleted, {rep.revoked} revoked{', agreement terminated' if rep.terminated else ''}; denied by "
                 f"{denied_text}", bundle_id=rep.bundle_id)


def _manifest(node: Node, agreement: Agreement, rep: ExportReport, now: dt.datetime, ttl_hours: int,
              checkpoint: Checkpoint, deleted: dict[str, list[str]], revoked: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "type": "bundle", "bundle_id": rep.bundle_id, "sender": node.name, "recipient": rep.partner,
        "agreement": agreement.id, "agreement_version": agreement.version, "sequence": rep.sequence,
        "created": now.isoformat(timespec="seconds"),
        "expires": (now + dt.timedelta(hours=ttl_hours)).isoformat(timespec="seconds"),
        "checkpoint": checkpoint.to_dict(),
        "deleted": deleted, "revoked": revoked, "terminated": rep.terminated,
        "match_only": {k: agreement.match_only_fields(k) for k in agreement.kinds()},
        "handling": agreement.doc["handling"], "retention_days": agreement.retention_days,
    }


def _consistency(store: Store, partner: str, size: int) -> list[dict[str, object]]:
    """Consistency proofs to ``size`` from the last checkpoints published to ``partner`` (and from 0), so a
    partner that missed a bundle can still link what it last saw to the new checkpoint."""
    rows = store.query("SELECT DISTINCT size, root FROM audit_published WHERE partner = ? ORDER BY size DESC "
                       "LIMIT ?", [partner, PROOF_HISTORY])
    starts = [(int(s), r) for s, r in rows] + [(0, EMPTY_ROOT.hex())]
    leaves = audit.leaf_hashes(store, size)
    return [{"from_size": s, "from_root": r, "proof": [h.hex() for h in consistency_proof(leaves, s)]}
            for s, r in dict(starts).items() if s <= size]


def _record(store: Store, node: Node, partner: str, rep: ExportReport, agreement: Agreement, manifest: dict[str, Any],
            checkpoint: Checkpoint) -> None:
    store.execute("UPDATE share_revocations SET bundle_id = ? WHERE partner = ? AND bundle_id IS NULL",
                  [rep.bundle_id, partner])
    if store.scalar("SELECT COUNT(*) FROM share_peers WHERE partner = ?", [partner]):
        store.execute("UPDATE share_peers SET seq_sent = ? WHERE partner = ?", [rep.sequence, partner])
    else:
        store.execute("INSERT INTO share_peers VALUES (?, ?, 0, 0, NULL)", [partner, rep.sequence])
    store.execute("INSERT INTO share_bundles VALUES (?, 'sent', ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
                  [rep.bundle_id, partner, agreement.id, agreement.version, rep.sequence, manifest["created"],
                   manifest["expires"], rep.records, rep.deleted, rep.revoked])
    audit.publish(store, node, checkpoint, partner, rep.bundle_id)
