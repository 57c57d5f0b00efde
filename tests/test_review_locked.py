"""An outside reviewer's attacks on LOCKED (review7): the rate limit and credentials."""

from __future__ import annotations

from pathlib import Path

from tests.api_seed import PASSWORD, bearer, build_env


def test_a_fresh_forged_token_per_request_does_not_escape_the_rate_limit(tmp_path: Path) -> None:
    """The limit counts per Authorization header (its hash), valid or not: a client sending a new made-up token
    with every request had a new budget every time, so guessing tokens, or spraying passwords over many accounts
    (login with any Authorization header attached), was not rate limited at all. Failed credentials now also count
    against the caller's address."""
    client, _, _, _ = build_env(tmp_path, rate_limit=3)
    with client:
        codes = [client.get("/api/v1/me", headers=bearer(f"pta_forged{i}")).status_code for i in range(8)]
        assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}, codes
        spray = [client.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "wrong-guess-1"},
                             headers=bearer(f"pta_other{i}")).status_code for i in range(3)]
        assert spray == [429, 429, 429]


def test_failed_logins_without_a_header_count_against_the_address(tmp_path: Path) -> None:
    client, _, _, _ = build_env(tmp_path, rate_limit=3)
    with client:
        codes = [client.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "wrong-guess-1"}
                             ).status_code for i in range(5)]
        assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}, codes


def test_a_valid_token_keeps_its_own_budget_beside_failures_below_the_limit(tmp_path: Path) -> None:
    client, tokens, _, _ = build_env(tmp_path, rate_limit=3)
    with client:
        assert client.get("/api/v1/me", headers=bearer("pta_forged")).status_code == 401
        assert [client.get("/api/v1/me", headers=bearer(tokens["analyst"])).status_code for _ in range(3)] == [200] * 3
        ok = client.post("/api/v1/auth/login", json={"username": "steward", "password": PASSWORD})
        assert ok.status_code == 200


def test_an_operator_can_cut_off_a_leaked_token(tmp_path: Path) -> None:
    """`puente users` could add accounts and issue tokens (never expiring by default) but not take them back: a
    token is revoked only by its holder (logout), so a leaked partner-node token (those accounts have no password)
    stayed valid unless someone edited the store by hand. `users disable` revokes every token and session."""
    from puente.cli import main

    client, tokens, us, _ = build_env(tmp_path)
    with client:
        h = bearer(tokens["partner-node"])
        assert client.get("/api/v1/records/seizure", headers=h).status_code == 200
        session = client.post("/api/v1/auth/login", json={"username": "analyst", "password": PASSWORD}).json()["token"]
        assert main(["--home", str(us.home), "users", "disable", "partner"]) == 0
        assert main(["--home", str(us.home), "users", "disable", "analyst"]) == 0
        assert client.get("/api/v1/records/seizure", headers=h).status_code == 401
        assert client.get("/api/v1/me", headers=bearer(session)).status_code == 401
        assert client.get("/api/v1/me", headers=bearer(tokens["analyst"])).status_code == 401
        assert client.post("/api/v1/auth/login", json={"username": "analyst", "password": PASSWORD}).status_code == 401
        assert main(["--home", str(us.home), "users", "enable", "analyst"]) == 0
        assert client.get("/api/v1/me", headers=bearer(tokens["analyst"])).status_code == 401  # stays revoked
        assert client.post("/api/v1/auth/login", json={"username": "analyst", "password": PASSWORD}).status_code == 200
        assert client.get("/api/v1/me", headers=bearer(tokens["steward"])).status_code == 200  # others untouched
    assert main(["--home", str(us.home), "users", "disable", "nobody"]) == 2
