"""Installed agreements: install (a policy change, audited), find by partner or by signing key."""

from __future__ import annotations

import datetime as dt
import json

from puente.audit import log as audit
from puente.errors import BundleError, PolicyError
from puente.node import Node
from puente.share import queries
from puente.share.agreement import Agreement, key_id
from puente.store import versions
from puente.store.base import Store


def install(node: Node, store: Store, agreement: Agreement, actor: str) -> None:
    """Install a fully signed agreement (a new version supersedes the old one)."""
    problems = agreement.signature_problems()
    if problems:
        raise PolicyError("agreement_unsigned", agreement=agreement.id, problems="; ".join(problems))
    partner = agreement.partner_of(node.name)
    from puente.audit.checkpoint import public_key_pem

    if key_id(agreement.parties[node.name]) != key_id(public_key_pem(node.public_key)):
        raise PolicyError("agreement_wrong_key", node=node.name, agreement=agreement.id)
    newest = store.scalar("SELECT MAX(version) FROM share_agreements WHERE agreement_id = ?", [agreement.id])
    if newest is not None and agreement.version < int(newest):
        raise PolicyError("agreement_older_version", agreement=agreement.id, version=agreement.version,
                          newest=newest)
    with store.transaction():
        store.execute("DELETE FROM share_agreements WHERE agreement_id = ? AND version = ?",
                      [agreement.id, agreement.version])
        store.execute("UPDATE share_agreements SET status = 'superseded' WHERE agreement_id = ? AND status = 'active'",
                      [agreement.id])
        store.execute("INSERT INTO share_agreements VALUES (?, ?, ?, ?, ?, 'active', ?)",
                      [agreement.id, agreement.version, partner, agreement.body().decode(),
                       json.dumps(agreement.signatures, sort_keys=True), _now()])
        audit.append(store, node, actor, "policy", [], f"{agreement.id}@v{agreement.version}",
                     f"agreement with {partner} installed (purpose: {agreement.doc['purpose']}, "
                     f"handling {agreement.doc['handling']}, retention {agreement.retention_days} days, "
                     f"onward transfer {'allowed' if agreement.onward_transfer else 'refused'})")
        versions.bump(store, f"agreement {agreement.id}@v{agreement.version}")  # partner views change


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _load(row: tuple) -> tuple[Agreement, str]:  # type: ignore[type-arg]
    doc, sigs, status = row
    return Agreement(json.loads(doc), json.loads(sigs), "store"), status


def current(store: Store, partner: str) -> tuple[Agreement, str]:
    """The agreement with ``partner`` (active, or revoked/terminated) and its status."""
    stored = queries.current_agreement(store, partner)
    if stored is None:
        raise PolicyError("no_agreement", partner=partner)
    return _load((stored.document, stored.signatures, stored.status))


def by_id(store: Store, agreement_id: str, version: int | None = None) -> tuple[Agreement, str] | None:
    sql = "SELECT document, signatures, status FROM share_agreements WHERE agreement_id = ?"
    params: list[object] = [agreement_id]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    rows = store.query(sql + " ORDER BY version DESC LIMIT 1", params)
    return _load(rows[0]) if rows else None


def by_key(store: Store, node: Node, keyid: str) -> tuple[Agreement, str, str]:
    """(agreement, status, signer) for the partner key ``keyid`` names, or BundleError."""
    for row in store.query("SELECT document, signatures, status FROM share_agreements WHERE status <> 'superseded'"):
        agreement, status = _load(row)
        for party, pem in agreement.parties.items():
            if party != node.name and key_id(pem) == keyid:
                return agreement, status, party
    raise BundleError("bundle_rejected", reason=f"signed by key {keyid[:16]}, which no agreement here names")


def set_status(store: Store, agreement: Agreement, status: str) -> None:
    store.execute("UPDATE share_agreements SET status = ? WHERE agreement_id = ? AND version = ?",
                  [status, agreement.id, agreement.version])
