"""Node-to-node sharing over HTTP: a partner pulls its bundle from the API, pushes one, and forgeries fail."""

from __future__ import annotations

import pytest
from api_seed import bearer, build_env, serve


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    client, tokens, us, mx = build_env(tmp_path_factory.mktemp("share"))
    client.close()
    srv, thread, url = serve(client.app)
    yield url, tokens, us, mx
    srv.should_exit = True
    thread.join(10)


def test_partner_pulls_its_bundle_over_http(env) -> None:  # type: ignore[no-untyped-def]
    from puente.api.client import pull

    url, tokens, _us, mx = env
    report = pull(mx, url, tokens["partner-node"])
    assert report.sender == "us-test" and report.imported.get("seizure") == 7 and report.imported.get("person") == 2
    with mx.open_store() as store:
        rows = store.query("SELECT drug, notes, owner_node FROM seizure WHERE owner_node = 'us-test'")
        assert len(rows) == 7 and {r[0] for r in rows} == {"fentanyl", "methamphetamine"}
        assert {r[1] for r in rows} == {None}  # the agreement drops notes
        assert store.scalar("SELECT COUNT(*) FROM person WHERE owner_node = 'us-test' AND id_number IS NOT NULL") == 0
    again = pull(mx, url, tokens["partner-node"])
    assert again.records == 0 and again.sequence == report.sequence + 1  # only what changed travels
    import httpx

    agreements = httpx.get(f"{url}/api/v1/agreements", headers=bearer(tokens["partner-node"])).json()
    assert [a["partner"] for a in agreements] == ["mx-test"]
    sent = httpx.get(f"{url}/api/v1/bundles", headers=bearer(tokens["steward"])).json()
    assert sent[0]["direction"] == "sent" and sent[0]["partner"] == "mx-test"
    card = httpx.get(f"{url}/api/v1/scorecard", headers=bearer(tokens["analyst"])).json()
    assert sum(r["records"] for r in card["sent"] if r["kind"] == "seizure") == 7


def test_push_verifies_before_import_and_refuses_replays(env) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from puente.share.export import export_bundle

    url, tokens, us, mx = env
    with mx.open_store() as store:
        store.execute("UPDATE seizure SET quantity = quantity + 1, quantity_kg = quantity_kg + 1 "
                      "WHERE owner_node = 'mx-test' AND source_id = 'MX-A-104'")
        data = export_bundle(mx, store, "us-test", actor="test")
    head = {**bearer(tokens["partner-node"]), "Content-Type": "application/vnd.puente.bundle"}
    forged = bytearray(data)
    forged[len(forged) // 2] ^= 0x01
    bad = httpx.post(f"{url}/api/v1/bundles/import", content=bytes(forged), headers=head)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    analyst = httpx.post(f"{url}/api/v1/bundles/import", content=data, headers={**head, **bearer(tokens["analyst"])})
    assert analyst.status_code == 403
    ok = httpx.post(f"{url}/api/v1/bundles/import", content=data, headers=head)
    assert ok.status_code == 200 and ok.json()["sender"] == "mx-test" and ok.json()["imported"] == {"seizure": 1}
    with us.open_store() as store:
        kg = store.scalar("SELECT quantity_kg FROM seizure WHERE source_id = 'MX-A-104'")
    assert kg == pytest.approx(4.2)
    replay = httpx.post(f"{url}/api/v1/bundles/import", content=data, headers=head)
    assert replay.status_code == 422 and "sequence" in replay.json()["detail"]
    assert httpx.get(f"{url}/api/v1/bundles/next", headers=bearer(tokens["analyst"])).status_code == 403
