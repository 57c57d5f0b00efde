"""Share tables (migrations 100–199).

``share_agreements``   installed agreements (document, signatures, status), one row per version.
``share_peers``        per partner: last sequence sent and received, last checkpoint of theirs we saw.
``share_sent``         what each partner holds of ours (record id -> hash of the transformed row),
                       so exports are incremental (new, changed, deleted).
``share_revocations``  records (or whole agreements) revoked for a partner; sent with the next bundle.
``share_bundles``      every bundle sent or received.
``share_receipts``     signed purge receipts received from partners.
"""

from __future__ import annotations

from puente.store.base import Store
from puente.store.migrations import register


@register(100, "agreements, peers, sent state, revocations, bundles, receipts")
def _share(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS share_agreements (agreement_id TEXT, version INTEGER, partner TEXT, "
        "document TEXT, signatures TEXT, status TEXT, installed_at TIMESTAMP, PRIMARY KEY (agreement_id, version))"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS share_peers (partner TEXT PRIMARY KEY, seq_sent BIGINT, seq_received BIGINT, "
        "partner_size BIGINT, partner_root TEXT)"
    )
    store.execute("CREATE TABLE IF NOT EXISTS share_sent (partner TEXT, kind TEXT, record_id TEXT, row_hash TEXT)")
    store.execute(
        "CREATE TABLE IF NOT EXISTS share_revocations (partner TEXT, agreement_id TEXT, kind TEXT, record_id TEXT, "
        "revoked_at TIMESTAMP, bundle_id TEXT)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS share_bundles (bundle_id TEXT PRIMARY KEY, direction TEXT, partner TEXT, "
        "agreement_id TEXT, version INTEGER, seq BIGINT, created_at TEXT, expires_at TEXT, records BIGINT, "
        "deleted BIGINT, revoked BIGINT, handled_at TIMESTAMP)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS share_receipts (receipt_id TEXT PRIMARY KEY, partner TEXT, bundle_id TEXT, "
        "document TEXT, received_at TIMESTAMP)"
    )


@register(101, "scratch id set for set-based deletes during import and export")
def _scratch(store: Store) -> None:
    store.execute("CREATE TABLE IF NOT EXISTS share_scratch (id TEXT)")
