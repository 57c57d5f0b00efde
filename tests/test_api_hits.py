"""Hit/no-hit between two live node APIs: query, hit, follow-up request, steward's decision."""

from __future__ import annotations

import httpx
import pytest
from api_seed import DATA, PASSWORD, bearer, build_env, serve

from puente.api.app import create_app
from puente.api.auth import add_user, issue_token
from puente.api.partners import connect
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.link import hits


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):  # type: ignore[no-untyped-def]
    client, tokens, us, mx = build_env(tmp_path_factory.mktemp("hits"))
    client.close()
    with us.open_store() as store:
        ingest_file(us, store, DATA / "us_persons_extra.csv", get_profile("person-us"))
    with mx.open_store() as store:
        add_user(store, "mxsteward", "steward", PASSWORD)
        add_user(store, "us-node", "partner-node", None, partner="us-test")
        mx_tokens = {"steward": issue_token(store, "mxsteward"), "partner": issue_token(store, "us-node")}
    us_srv, us_thread, us_url = serve(client.app)
    mx_srv, mx_thread, mx_url = serve(create_app(mx, rate_limit=0))
    with us.open_store() as store:
        connect(us, store, "mx-test", mx_url, mx_tokens["partner"])
    with mx.open_store() as store:
        connect(mx, store, "us-test", us_url, tokens["partner-node"])
    secret = hits.new_secret()
    hits.save_secret(us.home, "mx-test", secret)
    hits.save_secret(mx.home, "us-test", secret)
    yield {"us": us_url, "mx": mx_url, "us_tokens": tokens, "mx_tokens": mx_tokens}
    for srv, thread in ((us_srv, us_thread), (mx_srv, mx_thread)):
        srv.should_exit = True
        thread.join(10)


def test_query_followup_and_decision(two_nodes) -> None:  # type: ignore[no-untyped-def]
    us, mx = two_nodes["us"], two_nodes["mx"]
    analyst = bearer(two_nodes["us_tokens"]["analyst"])
    sent = httpx.post(f"{us}/api/v1/hits/queries", json={"partner": "mx-test", "kind": "person"}, headers=analyst,
                      timeout=60)
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["sent"] == 3 and len(body["hits"]) == 1  # only José Luis is known on the other side
    local = body["hits"][0]["local_id"]
    person = httpx.get(f"{us}/api/v1/records/person/{local}", headers=analyst).json()
    assert person["source_id"] == "US-P-3"
    ask = httpx.post(f"{us}/api/v1/hits/followups", headers=analyst, timeout=60,
                     json={"partner": "mx-test", "ref": body["hits"][0]["ref"], "reason": "case 2024-117, warrant"})
    assert ask.status_code == 200 and ask.json()["status"] == "pending"
    steward = bearer(two_nodes["mx_tokens"]["steward"])
    box = httpx.get(f"{mx}/api/v1/hits/inbox", headers=steward).json()
    received = [r for r in box["requests"] if r["direction"] == "received"]
    assert [r["status"] for r in received] == ["pending"] and received[0]["reason"] == "case 2024-117, warrant"
    assert [q["direction"] for q in box["queries"]] == ["received"] and box["queries"][0]["hits"] == 1
    assert httpx.post(f"{mx}/api/v1/hits/requests/{received[0]['request_id']}/decision", headers=steward,
                      json={"approve": True, "reason": "legal basis checked"}, timeout=60).status_code == 200
    mine = httpx.get(f"{us}/api/v1/hits/inbox", headers=analyst).json()
    assert [r["status"] for r in mine["requests"]] == ["approved"]
    card = httpx.get(f"{us}/api/v1/scorecard", headers=analyst).json()
    assert card["followups"]["answered"] == 1 and card["followups"]["approved"] == 1
    assert card["followups"]["median_hours"] is not None


def test_roles_on_hits(two_nodes) -> None:  # type: ignore[no-untyped-def]
    us = two_nodes["us"]
    t = two_nodes["us_tokens"]
    assert httpx.get(f"{us}/api/v1/hits/inbox", headers=bearer(t["partner-node"])).status_code == 403
    forged = {"type": "hits.query", "from": "someone-else", "to": "us-test"}
    r = httpx.post(f"{us}/api/v1/hits/incoming", json=forged, headers=bearer(t["partner-node"]))
    assert r.status_code == 403
    assert httpx.post(f"{us}/api/v1/hits/incoming", json=forged, headers=bearer(t["analyst"])).status_code == 403
    fake = httpx.post(f"{us}/api/v1/hits/requests/fr-nope/decision", headers=bearer(t["analyst"]),
                      json={"approve": True, "reason": "because"})
    assert fake.status_code == 403  # only stewards decide
    tampered = {"type": "hits.query", "from": "mx-test", "to": "us-test", "query_id": "q-x", "kind": "person",
                "fields": ["curp"], "bits": 1024, "count": 1, "encodings": "AAAA", "mac": "00"}
    answer = httpx.post(f"{us}/api/v1/hits/incoming", json=tampered, headers=bearer(t["partner-node"])).json()
    assert answer["status"] == "rejected" and answer["hits"] == []
