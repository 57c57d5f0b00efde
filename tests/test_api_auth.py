"""Accounts, passwords, tokens, sessions, lockout, rate limiting and the `puente users` commands."""

from __future__ import annotations

import datetime as dt

import pytest
from api_seed import PASSWORD, bearer, build_env


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    client, tokens, us, _mx = build_env(tmp_path_factory.mktemp("auth"))
    with client:
        yield client, tokens, us


def login(client, user: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"username": user, "password": password})


def test_login_session_and_logout(env) -> None:  # type: ignore[no-untyped-def]
    client, _, us = env
    r = login(client, "analyst", PASSWORD)
    assert r.status_code == 200
    token = r.json()["token"]
    assert r.json()["user"] == {"username": "analyst", "role": "analyst", "partner": None, "node": "us-test",
                                "country": "US"}
    assert client.get("/api/v1/me", headers=bearer(token)).json()["username"] == "analyst"
    with us.open_store() as store:
        hashes = [row[0] for row in store.query("SELECT token_hash FROM api_tokens")]
        pw = store.scalar("SELECT password_hash FROM api_users WHERE username = 'analyst'")
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert pw.startswith("$argon2id$") and PASSWORD not in pw
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    after = client.get("/api/v1/me", headers=bearer(token))
    assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"


def test_wrong_password_and_unknown_user_look_the_same(env) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = env
    a, b = login(client, "analyst", "wrong password!"), login(client, "nobody", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"]
    assert a.json()["detail"].startswith("wrong user name or password")
    assert a.headers["content-type"] == "application/problem+json"


def test_repeated_failures_lock_the_account_for_a_while(env) -> None:  # type: ignore[no-untyped-def]
    client, _, us = env
    from puente.api.auth import add_user

    with us.open_store() as store:
        add_user(store, "lockme", "steward", PASSWORD)
    codes = [login(client, "lockme", f"guess number {i}").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 401]
    locked = login(client, "lockme", PASSWORD)  # even the right password is refused while locked
    assert locked.status_code == 401 and "locked" in locked.json()["detail"]
    with us.open_store() as store:
        assert store.scalar("SELECT locked_until FROM api_users WHERE username = 'lockme'") > dt.datetime(2020, 1, 1)
    with us.open_store() as store:  # the lock runs out
        store.execute("UPDATE api_users SET locked_until = ? WHERE username = 'lockme'",
                      [dt.datetime(2000, 1, 1)])
    assert login(client, "lockme", "after the lock").status_code == 401  # a new run of attempts starts at 1
    assert login(client, "lockme", PASSWORD).status_code == 200
    with us.open_store() as store:
        assert store.query("SELECT failed_logins, locked_until FROM api_users WHERE username = 'lockme'") == [(0, None)]


def test_sessions_expire(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = env
    monkeypatch.setenv("PUENTE_SESSION_MINUTES", "0")
    token = login(client, "analyst", PASSWORD).json()["token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_missing_and_forged_tokens(env) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = env
    assert client.get("/api/v1/records/seizure").status_code == 401
    assert client.get("/api/v1/records/seizure", headers=bearer("pta_forged")).status_code == 401
    assert client.get("/api/v1/records/seizure", headers={"Authorization": "Basic YTpi"}).status_code == 401


def test_rate_limit_answers_429_problem(tmp_path) -> None:
    client, tokens, _, _ = build_env(tmp_path, rate_limit=3)
    with client:
        codes = [client.get("/api/v1/me", headers=bearer(tokens["analyst"])).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = client.get("/api/v1/me", headers=bearer(tokens["analyst"]))
        assert r.headers["content-type"] == "application/problem+json" and int(r.headers["retry-after"]) > 0
        # another client has its own budget
        assert client.get("/api/v1/me", headers=bearer(tokens["steward"])).status_code == 200


def test_users_cli(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from puente.cli import main
    from puente.node import Node

    home = tmp_path / "node"
    Node.init(home, "us-cli", "US")
    monkeypatch.setenv("PUENTE_HOME", str(home))
    monkeypatch.setenv("PW", "a long enough password")
    assert main(["--home", str(home), "users", "add", "ana", "--role", "analyst", "--password-env", "PW"]) == 0
    assert main(["--home", str(home), "users", "add", "ana", "--role", "analyst", "--password-env", "PW"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--home", str(home), "users", "add", "bob", "--role", "boss", "--password-env", "PW"]) == 2
    assert main(["--home", str(home), "users", "add", "mx", "--role", "partner-node", "--partner", "mx-node"]) == 0
    assert main(["--home", str(home), "users", "token", "mx", "--label", "pull"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("pta_")
    assert main(["--home", str(home), "users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ana" in listing and "partner-node" in listing
    from puente.api.auth import authenticate

    with Node.load(home).open_store() as store:
        who = authenticate(store, token)
    assert who is not None and who.role == "partner-node" and who.partner == "mx-node"
