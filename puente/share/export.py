"""Export: the records an agreement allows, transformed, as a signed incremental bundle for one partner.

Only what changed since the last bundle to that partner travels: new and corrected records,
ids that were deleted or no longer qualify, and pending revocations. Partner data (records this
node received) is never sent back to its owner, and is sent to anyone else only when both the
agreement it arrived under and the outgoing agreement allow onward transfer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from puente.audit import log as audit
from puente.audit.checkpoint import Checkpoint
from puente.audit.merkle import EMPTY_ROOT, consistency_proof
from puente.errors import PolicyError
from puente.model import load_model
from puente.node import Node
from puente.share import registry
from puente.share.agreement import Agreement, key_id
from puente.share.bundle import pack
from puente.share.envelope import BUNDLE_TYPE, seal
from puente.share.idset import id_set
from puente.share.transforms import pseudonym_key, row_hashes, select, transform
from puente.store.base import Store

PROOF_HISTORY = 16  # published checkpoints a bundle proves consistency from
_SENT_SCHEMA = pa.schema([("partner", pa.string()), ("kind", pa.string()), ("record_id", pa.string()),
                          ("row_hash", pa.string())])


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


def _candidates(node: Node, store: Store, agreement: Agreement, partner: str, kind: str) -> tuple[pa.Table, int]:
    """Own records plus partner records that may travel onward; and the count refused onward."""
    own = store.query_arrow(f"SELECT * FROM {kind} WHERE owner_node = ?", [node.name])
    others = store.query(f"SELECT bundle_id, owner_node, COUNT(*) FROM {kind} WHERE owner_node <> ? "
                         "GROUP BY bundle_id, owner_node", [node.name])
    refused = 0
    tables = [own]
    for bundle_id, owner, count in others:
        origin = store.scalar("SELECT agreement_id FROM share_bundles WHERE bundle_id = ?", [bundle_id])
        found = registry.by_id(store, origin) if origin else None
        if owner != partner and agreement.onward_transfer and found and found[0].onward_transfer:
            tables.append(store.query_arrow(f"SELECT * FROM {kind} WHERE bundle_id = ?", [bundle_id]))
        elif owner != partner:
            refused += count
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else own, refused


def export_bundle(node: Node, store: Store, partner: str, actor: str = "node", ttl_hours: int = 168,
                  now: dt.datetime | None = None, report: ExportReport | None = None, full: bool = False) -> bytes:
    """Build, sign and record the next bundle for ``partner``. Returns the bundle bytes.

    ``full`` resends every allowed record (after a lost bundle), not only what changed."""
    now = _utc(now)
    agreement, status = registry.current(store, partner)
    if status == "terminated":
        raise PolicyError("agreement_terminated", agreement=agreement.id, partner=partner)
    terminating = status == "revoked"
    if not terminating:
        decision = agreement.in_force(now.date())
        if not decision.allowed:
            raise PolicyError("agreement_not_in_force", agreement=agreement.id, clause=decision.clause,
                              reason=decision.reason)
    with store.transaction():
        seq = int(store.scalar("SELECT seq_sent FROM share_peers WHERE partner = ?", [partner]) or 0) + 1
        rep = report or ExportReport("", partner, seq)
        rep.bundle_id, rep.sequence, rep.terminated = uuid.uuid4().hex, seq, terminating
        key = pseudonym_key(node.id_key, agreement.id)
        parts: dict[str, pa.Table] = {}
        deleted: dict[str, list[str]] = {}
        revoked: dict[str, list[str]] = {}
        for kind, rid in store.query("SELECT kind, record_id FROM share_revocations WHERE partner = ? "
                                     "AND bundle_id IS NULL ORDER BY revoked_at, record_id", [partner]):
            revoked.setdefault(kind, []).append(rid)
        sent_changes: list[pa.Table] = []
        drop_sent: list[tuple[str, str]] = []
        for kind in load_model().kinds:
            sent = dict(store.query("SELECT record_id, row_hash FROM share_sent WHERE partner = ? AND kind = ?",
                                    [partner, kind]))
            revoked_ids = {r[0] for r in store.query(
                "SELECT record_id FROM share_revocations WHERE partner = ? AND kind = ?", [partner, kind])}
            current: dict[str, str] = {}
            if not terminating and agreement.decide_kind(kind).allowed:
                table, refused = _candidates(node, store, agreement, partner, kind)
                rep.onward_refused += refused
                if revoked_ids and table.num_rows:
                    table = table.filter(pa.compute.invert(pa.compute.is_in(
                        table.column("id"), value_set=pa.array(sorted(revoked_ids), pa.string()))))
                table, denied = select(agreement, kind, table)
                rep.denied.update(denied)
                out = transform(agreement, kind, table, key)
                hashes = row_hashes(out)
                ids = out.column("id").to_pylist()
                current = dict(zip(ids, hashes))
                changed = [i for i, (rid, h) in enumerate(zip(ids, hashes)) if full or sent.get(rid) != h]
                if changed:
                    parts[kind] = out.take(pa.array(changed, pa.int64()))
                    sent_changes.append(pa.table({
                        "partner": pa.array([partner] * len(changed)), "kind": pa.array([kind] * len(changed)),
                        "record_id": parts[kind].column("id"),
                        "row_hash": pa.array([hashes[i] for i in changed], pa.string())}, schema=_SENT_SCHEMA))
                    drop_sent += [(kind, ids[i]) for i in changed if ids[i] in sent]
            if terminating:  # everything the partner holds of ours is revoked
                pending = set(revoked.get(kind, []))
                revoked.setdefault(kind, []).extend(sorted(rid for rid in sent if rid not in pending))
                revoked_ids |= set(sent)
                if not revoked[kind]:
                    del revoked[kind]
            gone = sorted(rid for rid in sent if rid not in current and rid not in revoked_ids)
            if gone:
                deleted[kind] = gone
            drop_sent += [(kind, rid) for rid in sent if rid not in current]
        rep.records = sum(t.num_rows for t in parts.values())
        rep.deleted = sum(map(len, deleted.values()))
        rep.revoked = sum(map(len, revoked.values()))
        clause = f"{agreement.id}@v{agreement.version}"
        if rep.onward_refused:
            audit.append(store, node, actor, "onward_refused", [], f"{clause}:onward_transfer",
                         f"{rep.onward_refused} partner records withheld from {partner}: onward transfer not allowed")
        shipped = [rid for t in parts.values() for rid in t.column("id").to_pylist()]
        denied_text = ", ".join(f"{c}: {n}" for c, n in sorted(rep.denied.items())) or "none"
        audit.append(store, node, actor, "export", shipped + [r for v in deleted.values() for r in v]
                     + [r for v in revoked.values() for r in v], clause,
                     f"bundle {rep.bundle_id} #{seq} to {partner}: {rep.records} records, {rep.deleted} deleted, "
                     f"{rep.revoked} revoked{', agreement terminated' if terminating else ''}; denied by "
                     f"{denied_text}", bundle_id=rep.bundle_id)
        checkpoint = audit.latest_checkpoint(store, node)
        consistency = _consistency(store, partner, checkpoint.size)
        manifest = {
            "type": "bundle", "bundle_id": rep.bundle_id, "sender": node.name, "recipient": partner,
            "agreement": agreement.id, "agreement_version": agreement.version, "sequence": seq,
            "created": now.isoformat(timespec="seconds"),
            "expires": (now + dt.timedelta(hours=ttl_hours)).isoformat(timespec="seconds"),
            "checkpoint": checkpoint.to_dict(),
            "consistency": consistency,
            "deleted": deleted, "revoked": revoked, "terminated": terminating,
            "match_only": {k: agreement.match_only_fields(k) for k in agreement.kinds()},
            "handling": agreement.doc["handling"], "retention_days": agreement.retention_days,
        }
        data = seal(BUNDLE_TYPE, pack(manifest, parts), node.signing_key, key_id(node.public_key_pem))
        _record(store, node, partner, rep, agreement, manifest, sent_changes, drop_sent, checkpoint)
        if terminating:
            registry.set_status(store, agreement, "terminated")
    return data


def _consistency(store: Store, partner: str, size: int) -> list[dict[str, object]]:
    """Consistency proofs to ``size`` from the last checkpoints published to ``partner`` (and from 0), so a
    partner that missed a bundle can still link what it last saw to the new checkpoint."""
    rows = store.query("SELECT DISTINCT size, root FROM audit_published WHERE partner = ? ORDER BY size DESC "
                       "LIMIT ?", [partner, PROOF_HISTORY])
    starts = [(int(s), r) for s, r in rows] + [(0, EMPTY_ROOT.hex())]
    leaves = audit.leaf_hashes(store, size)
    return [{"from_size": s, "from_root": r, "proof": [h.hex() for h in consistency_proof(leaves, s)]}
            for s, r in dict(starts).items() if s <= size]


def _record(store: Store, node: Node, partner: str, rep: ExportReport, agreement: Agreement,
            manifest: dict[str, object], sent_changes: list[pa.Table], drop_sent: list[tuple[str, str]],
            checkpoint: Checkpoint) -> None:
    by_kind: dict[str, list[str]] = {}
    for kind, rid in drop_sent:
        by_kind.setdefault(kind, []).append(rid)
    for kind, ids in by_kind.items():
        with id_set(store, ids) as subquery:
            store.execute(f"DELETE FROM share_sent WHERE partner = ? AND kind = ? AND record_id IN {subquery}",
                          [partner, kind])
    for table in sent_changes:
        store.insert_arrow("share_sent", table)
    store.execute("UPDATE share_revocations SET bundle_id = ? WHERE partner = ? AND bundle_id IS NULL",
                  [rep.bundle_id, partner])
    if store.scalar("SELECT COUNT(*) FROM share_peers WHERE partner = ?", [partner]):
        store.execute("UPDATE share_peers SET seq_sent = ? WHERE partner = ?", [rep.sequence, partner])
    else:
        store.execute("INSERT INTO share_peers VALUES (?, ?, 0, 0, NULL)", [partner, rep.sequence])
    store.execute("INSERT INTO share_bundles VALUES (?, 'sent', ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
                  [rep.bundle_id, partner, agreement.id, agreement.version, rep.sequence, manifest["created"],
                   manifest["expires"], rep.records, rep.deleted, rep.revoked])
    audit.publish(store, checkpoint, partner, rep.bundle_id)
