"""What other layers read from the share tables (``share_agreements``, ``share_bundles``, ``share_revocations``,
``share_receipts``): typed functions,
so no package above the share stage writes SQL on its tables (tests/test_api_queries.py checks the API)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from puente.store.base import Store


@dataclass(frozen=True)
class StoredAgreement:
    """An installed agreement as stored: its canonical document and signatures (JSON text) and status."""

    document: str
    signatures: str
    status: str


@dataclass(frozen=True)
class InstalledAgreement:
    agreement_id: str
    version: int
    partner: str
    status: str
    installed_at: dt.datetime
    document: str


@dataclass(frozen=True)
class Bundle:
    bundle_id: str
    direction: str  # sent or received
    partner: str
    agreement_id: str
    seq: int
    created_at: str
    expires_at: str
    records: int | None
    deleted: int | None


def current_agreement(store: Store, partner: str) -> StoredAgreement | None:
    """The agreement in effect with ``partner`` (active, or revoked/terminated; not superseded), newest first."""
    rows = store.query("SELECT document, signatures, status FROM share_agreements WHERE partner = ? "
                       "AND status <> 'superseded' ORDER BY version DESC, installed_at DESC LIMIT 1", [partner])
    return StoredAgreement(*(str(v) for v in rows[0])) if rows else None


def installed_agreements(store: Store) -> list[InstalledAgreement]:
    """Every installed agreement version, newest installation first."""
    rows = store.query("SELECT agreement_id, version, partner, status, installed_at, document FROM share_agreements "
                       "ORDER BY installed_at DESC")
    return [InstalledAgreement(str(a), int(v), str(p), str(s), at, str(d)) for a, v, p, s, at, d in rows]


def agreement_partners(store: Store) -> list[str]:
    """The partners any agreement was installed with, in order."""
    return [str(r[0]) for r in store.query("SELECT DISTINCT partner FROM share_agreements ORDER BY 1")]


def bundles(store: Store, limit: int) -> list[Bundle]:
    """Bundles sent and received, newest first."""
    rows = store.query("SELECT bundle_id, direction, partner, agreement_id, seq, created_at, expires_at, records, "
                       "deleted FROM share_bundles ORDER BY created_at DESC LIMIT ?", [limit])
    return [Bundle(str(b), str(d), str(p), str(a), int(seq), str(c), str(e), _count(n), _count(x))
            for b, d, p, a, seq, c, e, n, x in rows]


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def sent_bundles(store: Store) -> dict[str, tuple[str, str]]:
    """Bundle id -> (partner, month it was made, YYYY-MM) for every bundle this node sent."""
    rows = store.query("SELECT bundle_id, partner, SUBSTR(created_at, 1, 7) FROM share_bundles "
                       "WHERE direction = 'sent'")
    return {str(b): (str(p), str(m)) for b, p, m in rows}


@dataclass(frozen=True)
class RevocationGroup:
    """Records withdrawn from a partner in one bundle, for one kind, with the partner's purge receipt if any."""

    partner: str
    agreement_id: str | None
    kind: str | None
    bundle_id: str | None
    revoked_at: str
    records: int
    receipt_id: str | None


def revocations(store: Store, limit: int) -> list[RevocationGroup]:
    """Revocations sent, by partner, agreement, kind and bundle, newest first."""
    rows = store.query(
        "SELECT r.partner, r.agreement_id, r.kind, r.bundle_id, MIN(r.revoked_at), COUNT(*), MAX(s.receipt_id) "
        "FROM share_revocations r LEFT JOIN share_receipts s ON s.bundle_id = r.bundle_id AND s.partner = r.partner "
        "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT ?", [limit])
    return [RevocationGroup(str(p), a, k, b, str(at), int(n), rc) for p, a, k, b, at, n, rc in rows]


@dataclass(frozen=True)
class StoredReceipt:
    receipt_id: str
    partner: str
    bundle_id: str | None
    received_at: str
    document: str  # the signed envelope (JSON), verified when it was accepted


def receipts(store: Store, limit: int) -> list[StoredReceipt]:
    """Purge receipts partners sent back, newest first."""
    rows = store.query("SELECT receipt_id, partner, bundle_id, received_at, document FROM share_receipts "
                       "ORDER BY received_at DESC LIMIT ?", [limit])
    return [StoredReceipt(str(r), str(p), b, str(at), str(d or "")) for r, p, b, at, d in rows]


def peers(store: Store) -> list[str]:
    """The partners this node has exchanged with (``share_peers``), in order."""
    if "share_peers" not in store.tables():
        return []
    return [str(r[0]) for r in store.query("SELECT partner FROM share_peers ORDER BY partner")]
