"""Import: verify a bundle completely before reading its records, then store them with provenance.

Checks, in order, before a byte of Parquet is parsed: the envelope is canonical DSSE; it is signed
by a partner key an installed agreement names; the signature holds; the manifest names this node
as recipient, the signer as sender, and the agreement and version in force here; the sequence
number is above the last one seen (no replay, no rollback); it has not expired; the sender's
checkpoint is signed and provably extends the last checkpoint of theirs this node saw.
Records land in the same kind tables with ``owner_node`` = the sender, ``bundle_id`` and
``retain_until``. Revocations are purged at once and answered with a signed purge receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from puente.audit import log as audit
from puente.audit.checkpoint import Checkpoint
from puente.errors import BundleError, PuenteError
from puente.ingest.pipeline import schema_for
from puente.model import load_model
from puente.node import Node
from puente.share import conform, registry
from puente.share.agreement import key_id
from puente.share.bundle import Budget, read_manifest, read_part
from puente.share.envelope import BUNDLE_TYPE, RECEIPT_TYPE, open_envelope, seal
from puente.share.idset import id_set
from puente.share.plan import HASH_COLUMN
from puente.share.transforms import row_hashes
from puente.store import versions
from puente.store.base import Store


@dataclass
class ImportReport:
    bundle_id: str
    sender: str
    sequence: int
    imported: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    purged: int = 0
    terminated: bool = False
    receipt: bytes | None = None
    skipped: tuple[int, int] | None = None  # the sender's bundles never imported here (first, last), if any

    @property
    def records(self) -> int:
        return sum(self.imported.values())


def _reject(reason: str) -> BundleError:
    return BundleError("bundle_rejected", reason=reason)


def verify_bundle(node: Node, store: Store, data: bytes, now: dt.datetime | None = None
                  ) -> tuple[dict[str, Any], memoryview, Any]:
    """Every check, without parsing any record. Returns (manifest, parts body, agreement)."""
    try:
        return _verify(node, store, data, now)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _reject(f"the manifest is malformed ({type(exc).__name__}: {exc})") from None


def _verify(node: Node, store: Store, data: bytes, now: dt.datetime | None) -> tuple[dict[str, Any], memoryview, Any]:
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    opened = open_envelope(data)
    if opened.payload_type != BUNDLE_TYPE:
        raise _reject(f"payload type {opened.payload_type!r} is not a Puente bundle")
    agreement, status, signer = registry.by_key(store, node, opened.keyid)
    payload = opened.verify(agreement.key_of(signer))
    manifest, body = read_manifest(payload)
    if manifest.get("type") != "bundle" or manifest.get("sender") != signer:
        raise _reject(f"the manifest's sender is not the signer {signer}")
    if manifest.get("recipient") != node.name:
        raise _reject(f"addressed to {manifest.get('recipient')}, not to this node ({node.name})")
    if (manifest.get("agreement"), manifest.get("agreement_version")) != (agreement.id, agreement.version):
        raise _reject(f"made under {manifest.get('agreement')} v{manifest.get('agreement_version')}, but the "
                      f"agreement here is {agreement.id} v{agreement.version}")
    if status == "terminated" or (status == "revoked" and not manifest.get("terminated")):
        raise _reject(f"agreement {agreement.id} is no longer in force here ({status})")
    decision = agreement.in_force(now.date())
    if not decision.allowed and not manifest.get("terminated"):
        raise _reject(f"agreement {agreement.id} is not in force ({decision.clause}: {decision.reason})")
    last = int(store.scalar("SELECT seq_received FROM share_peers WHERE partner = ?", [signer]) or 0)
    if int(manifest["sequence"]) <= last:
        raise _reject(f"sequence {manifest['sequence']} is not above {last}, the last one received (replay)")
    if dt.datetime.fromisoformat(manifest["expires"]) <= now:
        raise _reject(f"expired at {manifest['expires']}")
    _check_checkpoint(store, agreement, signer, manifest)
    return manifest, body, agreement


def _check_checkpoint(store: Store, agreement: Any, signer: str, manifest: dict[str, Any]) -> None:
    """The sender's checkpoint must be signed and extend the latest one of theirs this node holds (from a bundle
    or from witnessing): an older or smaller one is a rollback and is refused."""
    from puente.audit.witness import check_extends
    from puente.errors import AuditError

    checkpoint = Checkpoint.from_dict(manifest["checkpoint"])
    if checkpoint.node != signer or not checkpoint.valid(agreement.key_of(signer)):
        raise _reject("the sender's audit checkpoint is not validly signed")
    try:
        manifest["_proof"] = check_extends(store, signer, checkpoint, list(manifest["consistency"]))
    except AuditError as exc:
        raise _reject(f"the sender's audit log: {exc.args_['reason']}") from None


def import_bundle(node: Node, store: Store, data: bytes, actor: str = "node", now: dt.datetime | None = None,
                  source: str = "bundle", expect_sender: str | None = None) -> ImportReport:
    """Verify, check every record against the manifest and the agreement, then import. A refused bundle
    (whatever the reason, however malformed) is written to the audit log before BundleError is raised."""
    try:
        manifest, body, agreement = verify_bundle(node, store, data, now)
        if expect_sender is not None and manifest["sender"] != expect_sender:
            raise BundleError("bundle_not_yours", sender=str(manifest["sender"]), partner=expect_sender)
        rows = _prepare(node, manifest, body, agreement, now)
    except BundleError as exc:
        refused(node, store, actor, source, str(exc.message("en")), data)
        raise
    try:
        return _import(node, store, manifest, agreement, rows, actor, now)
    except BundleError as exc:  # the sequence re-checked under the import lock: a concurrent replay
        refused(node, store, actor, source, str(exc.message("en")), data)
        raise


def refused(node: Node, store: Store, actor: str, source: str, reason: str, data: bytes | None = None) -> None:
    """Write a refused exchange (bundle, push, receipt) to the audit log."""
    digest = f" (sha256 {hashlib.sha256(data).hexdigest()}, {len(data):,} bytes)" if data is not None else ""
    audit.append(store, node, actor, "import_rejected", [], None, f"{source}{digest}: {reason}")


def _prepare(node: Node, manifest: dict[str, Any], body: memoryview, agreement: Any,
             now: dt.datetime | None) -> dict[str, pa.Table]:
    """Each part read (within the manifest's counts and the caps) and shaped to its kind's table; the owner of
    every record must be the sender unless the agreement allows onward transfer."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    sender = str(manifest["sender"])
    model = load_model()
    retain = (now + dt.timedelta(days=agreement.retention_days)).date()
    naive_now = now.replace(tzinfo=None)
    budget = Budget()
    out: dict[str, pa.Table] = {}
    try:
        for key in ("deleted", "revoked"):
            lists = manifest[key]
            if not isinstance(lists, dict) or not all(
                    isinstance(v, list) and all(isinstance(r, str) for r in v) for v in lists.values()):
                raise _reject(f"the manifest's {key} ids are not lists of record ids per kind")
            for kind in lists:
                model.kind(str(kind))
        for part in manifest["parts"]:
            kind = model.kind(str(part["kind"])).name
            if kind in out:
                raise _reject(f"part {kind} appears twice")
            table = read_part(body, part, budget)
            n = table.num_rows
            owners = (pc.fill_null(table.column("owner_node").cast(pa.string()), sender)
                      if "owner_node" in table.column_names else pa.repeat(pa.scalar(sender, pa.string()), n))
            foreign = pc.value_counts(owners.filter(pc.not_equal(owners, sender))).to_pylist() if n else []
            if foreign and not agreement.onward_transfer:
                named = ", ".join(f"{c['values']} ({c['counts']})" for c in foreign[:5])
                raise _reject(f"{sum(c['counts'] for c in foreign):,} {kind} records claim another owner than the "
                              f"sender {sender} ({named}), but agreement {agreement.id} v{agreement.version} does not "
                              "allow onward transfer")
            beyond = conform.problem(agreement, kind, table, owners)
            if beyond:
                raise BundleError(beyond[0], **beyond[1])
            schema = schema_for(model.kind(kind))
            bundle_id = str(manifest["bundle_id"])
            extra = {"owner_node": owners, "source_file": pa.repeat(pa.scalar(f"bundle:{bundle_id}"), n),
                     "batch_id": pa.repeat(pa.scalar(bundle_id), n), "bundle_id": pa.repeat(pa.scalar(bundle_id), n),
                     "ingested_at": pa.repeat(pa.scalar(naive_now, pa.timestamp("us")), n),
                     "retain_until": pa.repeat(pa.scalar(retain, pa.date32()), n),
                     "content_hash": _carried_hashes(table)}
            cols = {}
            for f in schema:
                if f.name in extra:
                    cols[f.name] = extra[f.name]
                elif f.name in table.column_names and f.name != "extra":
                    cols[f.name] = table.column(f.name).cast(f.type)
                else:
                    cols[f.name] = pa.nulls(n, f.type)
            out[kind] = pa.table(cols, schema=schema)
    except (KeyError, TypeError, ValueError, AttributeError, pa.ArrowException) as exc:
        raise _reject(f"a part is malformed ({type(exc).__name__}: {exc})") from None
    except PuenteError as exc:
        if isinstance(exc, BundleError):
            raise
        raise _reject(str(exc.message("en"))) from None
    return out


def _carried_hashes(table: pa.Table) -> pa.Array | pa.ChunkedArray:
    """The row hash the sender computed and signed (bundles before 2026-11 carry none: computed here)."""
    if HASH_COLUMN in table.column_names:
        return table.column(HASH_COLUMN).cast(pa.string())
    return pa.array(row_hashes(table), pa.string())


def _import(node: Node, store: Store, manifest: dict[str, Any], agreement: Any, tables: dict[str, pa.Table],
            actor: str, now: dt.datetime | None) -> ImportReport:
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    sender = manifest["sender"]
    report = ImportReport(manifest["bundle_id"], sender, int(manifest["sequence"]))
    model = load_model()
    clause = f"{agreement.id}@v{agreement.version}"
    retain = (now + dt.timedelta(days=agreement.retention_days)).date()
    naive_now = now.replace(tzinfo=None)
    with store.transaction():
        store.lock("records")  # DuckDB: its kind tables have no key, imports into one database take turns
        # checked again under the lock: the same bundle imported twice at once (PostgreSQL: two processes) passed
        # verify_bundle's check both times; the second now waits here and is refused as a replay, in one line
        last = int(store.scalar("SELECT seq_received FROM share_peers WHERE partner = ?", [sender]) or 0)
        if report.sequence <= last:
            raise _reject(f"sequence {report.sequence} is not above {last}, the last one received (replay)")
        if report.sequence > last + 1:  # bundles lost on the way: their records never arrive unless resent
            report.skipped = (last + 1, report.sequence - 1)
        imported: list[pa.Array] = []
        for kind, rows in tables.items():
            ids = _insert(store, kind, rows, sender, node.name)
            report.imported[kind] = len(ids)
            imported += ids.chunks
        deleted = [(k, r) for k, ids in manifest["deleted"].items() for r in ids]
        for kind, ids in manifest["deleted"].items():
            _delete(store, model.kind(kind).name, ids, sender, node.name)
        versions.bump(store, f"import {manifest['bundle_id']}")
        report.deleted = len(deleted)
        ids = pa.chunked_array([*imported, pa.array([r for _, r in deleted], pa.string())], pa.string())
        audit.append(store, node, actor, "import", ids, clause,
                     f"bundle {report.bundle_id} #{report.sequence} from {sender}: {report.records} records, "
                     f"{report.deleted} deleted; retained until {retain}"
                     + (f"; bundles #{report.skipped[0]}-#{report.skipped[1]} of {sender} were never imported here"
                        if report.skipped else ""))
        revoked = [r for ids in manifest["revoked"].values() for r in ids]
        if manifest.get("terminated"):
            for kind in model.kinds:
                ids = [r for (r,) in store.query(f"SELECT id FROM {kind} WHERE owner_node = ? OR bundle_id IN "
                                                 "(SELECT bundle_id FROM share_bundles WHERE direction = 'received' "
                                                 "AND partner = ?)", [sender, sender])]
                revoked += ids
                _delete(store, kind, ids, sender, node.name)
            registry.set_status(store, agreement, "terminated")
            report.terminated = True
        for kind, ids in manifest["revoked"].items():
            _delete(store, model.kind(kind).name, ids, sender, node.name)
        revoked = list(dict.fromkeys(revoked))
        report.purged = len(revoked)
        if revoked or report.terminated:
            audit.append(store, node, actor, "purge", revoked, f"{clause}:revocation",
                         f"revoked by {sender} in bundle {report.bundle_id}"
                         + ("; agreement terminated" if report.terminated else ""))
        checkpoint = Checkpoint.from_dict(manifest["checkpoint"])
        _remember(store, node, sender, report, manifest, agreement, checkpoint, naive_now)
        if revoked or report.terminated:
            report.receipt = _receipt(node, store, sender, agreement, report, revoked, now)
    return report


def _delete(store: Store, kind: str, ids: list[str], sender: str, self_name: str) -> None:
    """Delete partner records the sender is entitled to replace or remove: its own, or ones it sent us."""
    if not ids:
        return
    with id_set(store, ids) as subquery:
        store.execute(f"DELETE FROM {kind} WHERE id IN {subquery} AND {_REPLACEABLE}", [self_name, sender, sender])


_REPLACEABLE = ("owner_node <> ? AND (owner_node = ? OR bundle_id IN (SELECT bundle_id FROM share_bundles "
                "WHERE direction = 'received' AND partner = ?))")


def _insert(store: Store, kind: str, rows: pa.Table, sender: str, self_name: str) -> pa.ChunkedArray:
    """Store one part in two set-based statements: the sender's earlier versions of these records go, then one
    keyed INSERT ... SELECT whose anti-join skips every id still held (ours, or another partner's: a sender may
    not replace those) and every record claiming to be ours. Returns the ids stored."""
    cols = ", ".join(f'"{c}"' for c in rows.column_names)
    with store.staged("share_incoming", rows, kind) as incoming:
        store.execute(f"DELETE FROM {kind} WHERE id IN (SELECT id FROM {incoming}) AND {_REPLACEABLE}",
                      [self_name, sender, sender])
        return store.query_arrow(
            f"INSERT INTO {kind} ({cols}) SELECT {cols} FROM {incoming} i WHERE i.owner_node <> ? AND NOT EXISTS "
            f"(SELECT 1 FROM {kind} k WHERE k.id = i.id) RETURNING id", [self_name]).column("id")


def _remember(store: Store, node: Node, sender: str, report: ImportReport, manifest: dict[str, Any], agreement: Any,
              checkpoint: Checkpoint, now: dt.datetime) -> None:
    if store.scalar("SELECT COUNT(*) FROM share_peers WHERE partner = ?", [sender]):
        store.execute("UPDATE share_peers SET seq_received = ?, partner_size = ?, partner_root = ? WHERE partner = ?",
                      [report.sequence, checkpoint.size, checkpoint.root.hex(), sender])
    else:
        store.execute("INSERT INTO share_peers VALUES (?, 0, ?, ?, ?)",
                      [sender, report.sequence, checkpoint.size, checkpoint.root.hex()])
    store.execute("INSERT INTO share_bundles VALUES (?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [report.bundle_id, sender, agreement.id, agreement.version, report.sequence, manifest["created"],
                   manifest["expires"], report.records, report.deleted, report.purged, now])
    audit.keep_evidence(store, node, "audit_partner",
                        [sender, checkpoint.size, checkpoint.root.hex(), checkpoint.at, checkpoint.signature.hex(),
                         agreement.parties[sender], json.dumps(manifest["_proof"]), report.bundle_id, now],
                        f"checkpoint of {checkpoint.size} entries received from {sender} (bundle {report.bundle_id})")


def _receipt(node: Node, store: Store, sender: str, agreement: Any, report: ImportReport, revoked: list[str],
             now: dt.datetime) -> bytes:
    count, digest = audit.records_digest(revoked)
    doc = {"type": "purge_receipt", "receipt_id": uuid.uuid4().hex, "from": node.name, "to": sender,
           "agreement": agreement.id, "agreement_version": agreement.version, "bundle_id": report.bundle_id,
           "records": count, "records_sha256": digest, "terminated": report.terminated,
           "purged_at": now.isoformat(timespec="seconds"),
           "checkpoint": audit.latest_checkpoint(store, node).to_dict()}
    payload = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return seal(RECEIPT_TYPE, payload, node.signing_key, key_id(node.public_key_pem))


@dataclass
class Receipt:
    receipt_id: str
    partner: str
    bundle_id: str
    records: int
    terminated: bool


def accept_receipt(node: Node, store: Store, data: bytes, actor: str = "node") -> Receipt:
    """Verify a partner's signed purge receipt against what this node revoked, and record it."""
    opened = open_envelope(data)
    if opened.payload_type != RECEIPT_TYPE:
        raise _reject(f"payload type {opened.payload_type!r} is not a purge receipt")
    agreement, _, signer = registry.by_key(store, node, opened.keyid)
    doc = json.loads(opened.verify(agreement.key_of(signer)))
    if doc.get("to") != node.name or doc.get("from") != signer:
        raise _reject(f"the receipt is from {doc.get('from')} to {doc.get('to')}, not from {signer} to {node.name}")
    ids = [r for (r,) in store.query("SELECT record_id FROM share_revocations WHERE partner = ? AND bundle_id = ? "
                                     "ORDER BY revoked_at, record_id", [signer, doc["bundle_id"]])]
    sent = store.scalar("SELECT COUNT(*) FROM share_bundles WHERE bundle_id = ? AND direction = 'sent'",
                        [doc["bundle_id"]])
    if not sent:
        raise _reject(f"no bundle {doc['bundle_id']} was sent to {signer}")
    if not doc["terminated"] and audit.records_digest(ids) != (doc["records"], doc["records_sha256"]):
        raise _reject("the receipt does not list exactly the records revoked in that bundle")
    if not Checkpoint.from_dict(doc["checkpoint"]).valid(agreement.key_of(signer)):
        raise _reject("the receipt's audit checkpoint is not validly signed")
    with store.transaction():
        store.execute("DELETE FROM share_receipts WHERE receipt_id = ?", [doc["receipt_id"]])
        store.execute("INSERT INTO share_receipts VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)",
                      [doc["receipt_id"], signer, doc["bundle_id"], data.decode()])
        audit.append(store, node, actor, "receipt", ids, f"{agreement.id}@v{agreement.version}:revocation",
                     f"{signer} confirms purging {doc['records']} records revoked in bundle {doc['bundle_id']}")
    return Receipt(doc["receipt_id"], signer, doc["bundle_id"], int(doc["records"]), bool(doc["terminated"]))
