"""What other layers read from the share tables (``share_agreements``, ``share_bundles``): typed functions,
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
