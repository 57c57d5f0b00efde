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
