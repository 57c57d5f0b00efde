"""The steward's page data (issue 16 item 9): revocations sent with the partner's purge receipt, the receipts,
and the retention of partner records held. Real nodes: the Mexican node revokes a record it shared, the next
bundle carries the revocation, the U.S. node purges it and answers with a signed receipt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from api_seed import bearer, build_env
from fastapi.testclient import TestClient

from puente.api.app import create_app
from puente.api.auth import add_user, issue_token

pytestmark = pytest.mark.slow  # two seeded nodes, a revocation round trip


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from puente.share.export import export_bundle
    from puente.share.lifecycle import revoke_records
    from puente.share.receive import accept_receipt, import_bundle

    client, tokens, us, mx = build_env(tmp_path_factory.mktemp("steward"))
    with mx.open_store() as store:
        shared = [r[0] for r in store.query("SELECT record_id FROM share_sent WHERE kind = 'seizure' ORDER BY 1")]
        assert len(shared) >= 2
        assert revoke_records(mx, store, us.name, shared[:2], "court order") == 2
        data = export_bundle(mx, store, us.name, actor="test")
        add_user(store, "mx-steward", "steward", "correct horse battery")
        add_user(store, "mx-analyst", "analyst", "correct horse battery")
        steward, analyst = issue_token(store, "mx-steward"), issue_token(store, "mx-analyst")
    with us.open_store() as store:
        report = import_bundle(us, store, data, actor="test")
    assert report.receipt is not None
    with mx.open_store() as store:
        receipt = accept_receipt(mx, store, report.receipt)
    with client, TestClient(create_app(mx, rate_limit=0)) as mx_client:
        yield client, tokens, us, mx, mx_client, bearer(steward), bearer(analyst), shared[:2], receipt


def test_revocations_list_what_was_withdrawn_with_its_receipt(env) -> None:  # type: ignore[no-untyped-def]
    _client, _tokens, us, _mx, mx_client, steward, analyst, revoked, receipt = env
    rows = mx_client.get("/api/v1/revocations", headers=steward).json()
    assert [(r["partner"], r["kind"], r["records"]) for r in rows] == [(us.name, "seizure", len(revoked))]
    assert rows[0]["receipt"] == receipt.receipt_id and rows[0]["bundle_id"]
    assert mx_client.get("/api/v1/revocations", headers=analyst).status_code == 403


def test_receipts_show_the_partner_signed_purge(env) -> None:  # type: ignore[no-untyped-def]
    _client, _tokens, us, _mx, mx_client, steward, analyst, revoked, receipt = env
    rows = mx_client.get("/api/v1/receipts", headers=steward).json()
    assert len(rows) == 1
    r = rows[0]
    assert (r["receipt_id"], r["partner"], r["records"], r["terminated"]) == (receipt.receipt_id, us.name, len(revoked), False)
    assert r["purged_at"] and r["agreement"].endswith("v1")
    assert mx_client.get("/api/v1/receipts", headers=analyst).status_code == 403


def test_retention_counts_the_partner_records_held(env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, mx, _mx_client, _steward, _analyst, revoked, _receipt = env
    rows = client.get("/api/v1/retention", headers=bearer(tokens["steward"])).json()
    with us.open_store() as store:
        held = {k: int(n) for k, n in store.query(
            "SELECT 'seizure', COUNT(*) FROM seizure WHERE owner_node <> ? UNION ALL "
            "SELECT 'lab_site', COUNT(*) FROM lab_site WHERE owner_node <> ?", [us.name, us.name])}
        for rid in revoked:  # the revoked records were purged on import
            assert store.scalar("SELECT COUNT(*) FROM seizure WHERE id = ?", [rid]) == 0
    got = {r["kind"]: r for r in rows if r["owner"] == mx.name}
    assert got["seizure"]["records"] == held["seizure"] > 0 and got["lab_site"]["records"] == held["lab_site"]
    soon = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    for r in got.values():  # a 365-day agreement: nothing past its date, nothing ending within 30 days
        assert r["expired"] == 0 and r["within_30_days"] == 0 and r["no_limit"] == 0 and r["earliest"] > soon
    assert client.get("/api/v1/retention", headers=bearer(tokens["analyst"])).status_code == 403
