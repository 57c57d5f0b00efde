"""Reads of partner data land in the Merkle audit log; its proofs verify over HTTP."""

from __future__ import annotations

import base64

import pytest
from api_seed import bearer, build_env

from puente.audit import merkle
from puente.audit.checkpoint import Checkpoint, public_key_from_pem
from puente.errors import ProofError

PURPOSE = "hit 42 follow-up, Sinaloa corridor"


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = build_env(tmp_path_factory.mktemp("audit"))
    with client:
        yield client, {r: bearer(t) for r, t in tokens.items()}


def test_partner_read_is_a_merkle_entry_with_valid_proofs(env) -> None:  # type: ignore[no-untyped-def]
    client, h = env
    before = client.get("/api/v1/audit/checkpoint", headers=h["steward"]).json()
    page = client.get("/api/v1/records/seizure", headers=h["analyst"],
                      params={"purpose": PURPOSE, "owner": "partner"}).json()
    read_ids = [r["id"] for r in page["items"]]
    assert len(read_ids) == 5
    after = client.get("/api/v1/audit/checkpoint", headers=h["steward"]).json()
    assert after["size"] == before["size"] + 1
    cp = Checkpoint.from_dict({k: after[k] for k in ("node", "size", "root", "at", "signature")})
    assert cp.valid(public_key_from_pem(after["public_key"]))
    entries = client.get("/api/v1/audit/entries", headers=h["steward"], params={"limit": 1}).json()
    last = entries[-1]
    assert last["actor"] == "analyst (analyst)" and last["action"] == "read" and PURPOSE in last["reason"]
    inc = client.get("/api/v1/audit/proof/inclusion", headers=h["steward"], params={"index": last["index"]}).json()
    assert inc["record_ids"] == read_ids
    merkle.verify_inclusion(bytes.fromhex(inc["leaf_hash"]), inc["index"], inc["size"],
                            [bytes.fromhex(p) for p in inc["proof"]], bytes.fromhex(after["root"]))
    tampered = bytearray(bytes.fromhex(inc["leaf_hash"]))
    tampered[0] ^= 1
    with pytest.raises(ProofError):
        merkle.verify_inclusion(bytes(tampered), inc["index"], inc["size"],
                                [bytes.fromhex(p) for p in inc["proof"]], bytes.fromhex(after["root"]))
    client.get("/api/v1/records/person", headers=h["steward"], params={"purpose": PURPOSE})  # the log grows
    cons = client.get("/api/v1/audit/proof/consistency", headers=h["partner-node"],
                      params={"first": after["size"]}).json()
    assert cons["second"] == after["size"] + 1 and cons["first_root"] == after["root"]
    merkle.verify_consistency(cons["first"], cons["second"], [bytes.fromhex(p) for p in cons["proof"]],
                              bytes.fromhex(cons["first_root"]), bytes.fromhex(cons["second_root"]))
    assert base64.b64decode(after["signature"])


def test_audit_access_by_role(env) -> None:  # type: ignore[no-untyped-def]
    client, h = env
    assert client.get("/api/v1/audit/entries", headers=h["analyst"]).status_code == 403
    assert client.get("/api/v1/audit/entries", headers=h["partner-node"]).status_code == 403
    assert client.get("/api/v1/audit/proof/inclusion", headers=h["partner-node"], params={"index": 0}).status_code == 403
    assert client.get("/api/v1/audit/checkpoint", headers=h["partner-node"]).status_code == 200
    assert client.get("/api/v1/audit/entries", headers=h["admin"]).status_code == 200
    far = client.get("/api/v1/audit/proof/inclusion", headers=h["steward"], params={"index": 10**9})
    assert far.status_code == 404 and far.headers["content-type"] == "application/problem+json"
