"""Broken object-level and property-level authorization, tried as every role.

Each role tries to read what it must not: partner records without a purpose, sensitive
fields, internal provenance, other accounts, and (as a partner node) anything its agreement
does not share. Reads of partner data must land in the access log with user and purpose.
"""

from __future__ import annotations

import pytest
from api_seed import bearer, build_env

from puente.api.policy import INTERNAL
from puente.model import load_model

PURPOSE = "follow-up of hit 88, fentanyl corridor"
HUMANS = ("analyst", "steward", "admin")


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    client, tokens, us, _mx = build_env(tmp_path_factory.mktemp("authz"))
    with client:
        yield client, {role: bearer(tok) for role, tok in tokens.items()}, us


def partner_ids(client, h, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    items = client.get(f"/api/v1/records/{kind}", headers=h["steward"],
                       params={"purpose": PURPOSE, "owner": "partner", "per_page": 1000}).json()["items"]
    return [r["id"] for r in items]


@pytest.mark.parametrize("role", HUMANS)
def test_partner_records_need_a_purpose(env, role: str) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    for kind in ("seizure", "person", "lab_site", "firearm_trace"):
        ids = partner_ids(client, h, kind)
        assert ids, kind
        listed = client.get(f"/api/v1/records/{kind}", headers=h[role], params={"per_page": 1000}).json()
        assert not set(ids) & {r["id"] for r in listed["items"]}, (role, kind)
        forced = client.get(f"/api/v1/records/{kind}", headers=h[role], params={"owner": "mx-test"}).json()
        assert forced["total"] == 0  # asking for the partner's rows by name does not bypass the scope
        for rid in ids:
            one = client.get(f"/api/v1/records/{kind}/{rid}", headers=h[role])
            assert one.status_code == 404, (role, rid)  # same answer as a record that does not exist
            assert client.get(f"/api/v1/entities/{rid}", headers=h[role]).status_code == 404
        csv_text = client.get(f"/api/v1/records/{kind}", headers=h[role], params={"format": "csv"}).text
        assert "mx-test" not in csv_text
        with_purpose = client.get(f"/api/v1/records/{kind}/{ids[0]}", headers=h[role], params={"purpose": PURPOSE})
        assert with_purpose.status_code == 200


@pytest.mark.parametrize("role", HUMANS)
def test_partner_reads_are_logged_with_user_and_purpose(env, role: str) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    rid = partner_ids(client, h, "seizure")[0]
    purpose = f"{PURPOSE} ({role})"
    assert client.get(f"/api/v1/records/seizure/{rid}", headers=h[role], params={"purpose": purpose}).status_code == 200
    log = client.get("/api/v1/access-log", headers=h["steward"], params={"limit": 5000}).json()
    hit = [e for e in log if e["purpose"] == purpose]
    assert hit and hit[0]["username"] == role and rid in hit[0]["record_ids"] and "mx-test" in hit[0]["owners"]
    short = client.get(f"/api/v1/records/seizure/{rid}", headers=h[role], params={"purpose": "x"})
    assert short.status_code == 422 and short.headers["content-type"] == "application/problem+json"


def test_property_level_by_role(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    sensitive = {k.name: k.sensitive_fields for k in load_model().kinds.values() if k.sensitive_fields}
    assert sensitive  # pinned in tests/test_model_schema.py
    for kind, fields in sensitive.items():
        analyst = client.get(f"/api/v1/records/{kind}", headers=h["analyst"]).json()
        for item in analyst["items"]:
            assert not set(fields) & set(item), kind
            assert not set(INTERNAL) & set(item)
        assert set(fields) <= set(analyst["withheld"])
        steward = client.get(f"/api/v1/records/{kind}", headers=h["steward"]).json()
        for item in steward["items"]:
            assert set(fields) <= set(item) and "source_file" in item
    people = client.get("/api/v1/records/person", headers=h["analyst"], params={"purpose": PURPOSE}).json()["items"]
    carter = [p for p in people if p.get("surname1") == "Carter"]
    assert carter and carter[0]["id_number"] == "123-45-6789"  # a purpose unlocks identifiers...
    assert "source_file" not in carter[0]  # ...never internals
    partner_person = [p for p in people if p["owner_node"] == "mx-test"]
    assert partner_person and "curp" not in partner_person[0] or partner_person[0].get("curp") is None  # match-only
    one = client.get(f"/api/v1/records/person/{carter[0]['id']}", headers=h["analyst"]).json()
    assert "birth_date" not in one and "id_number" not in one
    parquet_cols = client.get("/api/v1/records/person", headers=h["analyst"], params={"format": "csv"}).text
    assert "curp" not in parquet_cols.splitlines()[0]


def test_accounts_are_admin_only(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    users = client.get("/api/v1/users", headers=h["admin"])
    assert users.status_code == 200
    assert {u["username"] for u in users.json()} == {"analyst", "steward", "admin", "partner"}
    assert all("password_hash" not in u for u in users.json())
    for role in ("analyst", "steward", "partner-node"):
        r = client.get("/api/v1/users", headers=h[role])
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


def test_analyst_sees_only_own_access_log(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    rid = partner_ids(client, h, "seizure")[0]
    client.get(f"/api/v1/records/seizure/{rid}", headers=h["steward"], params={"purpose": PURPOSE + " steward"})
    mine = client.get("/api/v1/access-log", headers=h["analyst"], params={"username": "steward"}).json()
    assert mine == []
    assert all(e["username"] == "analyst" for e in client.get("/api/v1/access-log", headers=h["analyst"]).json())


def test_partner_node_sees_only_what_the_agreement_shares(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _us = env
    p = h["partner-node"]
    for kind in ("organization", "vehicle", "link", "precursor_shipment", "seizure_aggregate"):
        r = client.get(f"/api/v1/records/{kind}", headers=p)
        assert r.status_code == 403 and "agreement" in r.json()["detail"], kind
        assert client.get(f"/api/v1/records/{kind}", headers=p, params={"format": "csv"}).status_code == 403
    seizures = client.get("/api/v1/records/seizure", headers=p, params={"per_page": 100}).json()
    assert seizures["scope"] == "agreement" and seizures["total"] == 7  # the filter: fentanyl and meth only
    assert {r["drug"] for r in seizures["items"]} == {"fentanyl", "methamphetamine"}
    assert {r["owner_node"] for r in seizures["items"]} == {"us-test"}  # never its own records sent back
    for item in seizures["items"]:
        assert "notes" not in item and not set(INTERNAL) & set(item)  # dropped by the agreement, internal
    assert "notes" in seizures["withheld"]
    cocaine = client.get("/api/v1/records/seizure", headers=h["analyst"], params={"drug": "cocaine"}).json()["items"]
    assert client.get(f"/api/v1/records/seizure/{cocaine[0]['id']}", headers=p).status_code == 404
    people = client.get("/api/v1/records/person", headers=p).json()
    assert people["total"] == 2 and all("id_number" not in r for r in people["items"])
    assert client.get("/api/v1/access-log", headers=p).status_code == 403
    monthly = client.get("/api/v1/stats/monthly", headers=p).json()
    assert sum(r["records"] for r in monthly) == 7 and {r["owner"] for r in monthly} == {"us-test"}
    counts = client.get("/api/v1/status", headers=p).json()["counts"]
    assert counts and all(c["owner"] == "us-test" for c in counts)
    pulls = [e for e in client.get("/api/v1/audit/entries", headers=h["steward"], params={"limit": 5000}).json()
             if e["action"] == "partner-pull"]
    assert pulls and pulls[-1]["actor"] == "partner (partner-node)"


def test_partner_node_without_agreement_sees_nothing(env) -> None:  # type: ignore[no-untyped-def]
    client, h, us = env
    from puente.api.auth import add_user, issue_token

    with us.open_store() as store:
        add_user(store, "stranger", "partner-node", None, partner="ca-node")
        p = bearer(issue_token(store, "stranger"))
    for kind in load_model().kinds:
        r = client.get(f"/api/v1/records/{kind}", headers=p, params={"purpose": PURPOSE})
        assert r.status_code == 403, kind
    own_id = client.get("/api/v1/records/seizure", headers=h["analyst"]).json()["items"][0]["id"]
    assert client.get(f"/api/v1/records/seizure/{own_id}", headers=p).status_code == 403
    assert client.get(f"/api/v1/entities/{own_id}", headers=p).status_code == 404
    assert client.get("/api/v1/stats/monthly", headers=p).status_code == 403
    assert client.get("/api/v1/map/flows", headers=p).status_code == 403


def test_every_route_needs_a_token(env) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = env
    schema = client.get("/api/openapi.json").json()
    checked = 0
    for path, ops in schema["paths"].items():
        for method in ops:
            if path == "/api/v1/auth/login":
                continue
            url = path.replace("{record_id}", "us-test:seizure:x").replace("{entity_id}", "us-test:person:x")
            r = client.request(method.upper(), url)
            assert r.status_code == 401, (method, path)
            checked += 1
    assert checked >= 25
