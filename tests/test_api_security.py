"""Authentication under concurrency and security headers, against real servers on both stores.

- 200 concurrent wrong guesses: exactly `login_attempts` are evaluated against the real hash, the
  account locks, no 5xx, and the right password is refused afterwards;
- a refused login looks the same (status, body, headers, work done) for an unknown user, a wrong
  password, a locked and a disabled account;
- concurrent logins of one account never fail;
- logout holds at once on another app instance (another worker) on the same store;
- every route answers with the security headers, errors included; the dashboard needs no inline script.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_seed import PASSWORD, bearer, serve
from fastapi.testclient import TestClient

from puente.api import auth
from puente.api.app import create_app, web_dir
from puente.api.headers import DOCS_PATHS
from puente.node import Node

GUESSES = 200
HEADERS = {"content-security-policy", "x-frame-options", "referrer-policy", "x-content-type-options"}


class CountingHasher:
    """The real argon2 hasher, counting verifications against real hashes and against the dummy one."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.lock, self.calls = inner, threading.Lock(), Counter[str]()

    def verify(self, hashed: str, password: str) -> bool:
        with self.lock:
            self.calls["dummy" if hashed == auth._DUMMY_HASH else "real"] += 1
        return bool(self.inner.verify(hashed, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(autouse=True)
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    """argon2id with light parameters, so that hundreds of attempts on a shared test machine stay quick
    (the production parameters differ only in cost; the dummy hash is made with the same hasher)."""
    from argon2 import PasswordHasher

    counting = CountingHasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_hasher", counting)
    monkeypatch.setattr(auth, "_DUMMY_HASH", counting.inner.hash("puente-dummy-password"))
    return counting


@pytest.fixture
def node(tmp_path: Path, store_url: str, hasher: CountingHasher) -> Node:
    node = Node.init(tmp_path / "node", "us-sec", "US", store_url)
    with node.open_store() as store:
        for name, role in (("ana", "analyst"), ("lockme", "steward"), ("admin", "admin")):
            auth.add_user(store, name, role, PASSWORD)
    return node


@pytest.fixture
def server(node: Node) -> Iterator[str]:
    srv, thread, url = serve(create_app(node, rate_limit=0))
    yield url
    srv.should_exit = True
    thread.join(10)


def _burst(url: str, bodies: list[dict[str, str]]) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies))
    with httpx.Client(base_url=url, timeout=120, limits=httpx.Limits(max_connections=len(bodies))) as client:
        def one(body: dict[str, str]) -> httpx.Response:
            start.wait()
            return client.post("/api/v1/auth/login", json=body)

        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(one, bodies))


def test_concurrent_guesses_lock_after_exactly_five(node: Node, server: str, hasher: CountingHasher) -> None:
    answers = _burst(server, [{"username": "lockme", "password": f"guess {i:03d} wrong"} for i in range(GUESSES)])
    assert Counter(r.status_code for r in answers) == {401: GUESSES}  # no 5xx, no 423, no success
    assert len({r.text for r in answers}) == 1
    assert hasher.calls["real"] == 5  # only five guesses were ever checked against the real hash
    assert hasher.calls["dummy"] == GUESSES - 5  # the rest did the same work against the dummy hash
    right = httpx.post(server + "/api/v1/auth/login", json={"username": "lockme", "password": PASSWORD})
    assert right.status_code == 401 and right.text == answers[0].text  # locked: even the right password fails
    assert hasher.calls["real"] == 5
    with node.open_store() as store:
        failed, until = store.query("SELECT failed_logins, locked_until FROM api_users WHERE username = 'lockme'")[0]
    assert failed == 5 and until > dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=10)


def test_concurrent_logins_of_one_account_all_succeed(node: Node, server: str) -> None:
    answers = _burst(server, [{"username": "ana", "password": PASSWORD}] * 24)
    assert [r.status_code for r in answers] == [200] * 24
    tokens = {r.json()["token"] for r in answers}
    assert len(tokens) == 24
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM api_tokens WHERE username = 'ana' AND kind = 'session'") == 24
        assert store.scalar("SELECT failed_logins FROM api_users WHERE username = 'ana'") == 0


def test_refusals_are_indistinguishable(node: Node, hasher: CountingHasher) -> None:
    with node.open_store() as store:
        auth.add_user(store, "gone", "analyst", PASSWORD)
        store.execute("UPDATE api_users SET disabled = TRUE WHERE username = 'gone'")
        store.execute("UPDATE api_users SET locked_until = ? WHERE username = 'lockme'",
                      [dt.datetime(2099, 1, 1)])
    cases = {"unknown user": ("nobody", PASSWORD), "wrong password": ("ana", "not the password"),
             "locked, right password": ("lockme", PASSWORD), "disabled, right password": ("gone", PASSWORD)}
    answers = {}
    with TestClient(create_app(node, rate_limit=0)) as client:
        for name, (user, password) in cases.items():
            before = sum(hasher.calls.values())
            r = client.post("/api/v1/auth/login", json={"username": user, "password": password})
            assert sum(hasher.calls.values()) == before + 1, name  # one argon2 verification each: no shortcut
            answers[name] = (r.status_code, r.content, sorted(r.headers.items()))
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["unknown user"][0] == 401


def test_logout_holds_at_once_on_another_worker(node: Node) -> None:
    with TestClient(create_app(node, rate_limit=0)) as one, TestClient(create_app(node, rate_limit=0)) as two:
        token = one.post("/api/v1/auth/login", json={"username": "ana", "password": PASSWORD}).json()["token"]
        assert two.get("/api/v1/me", headers=bearer(token)).status_code == 200  # the other worker knows it
        assert one.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
        after = two.get("/api/v1/me", headers=bearer(token))
        assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"
        assert one.get("/api/v1/me", headers=bearer(token)).status_code == 401


def _check(r: httpx.Response, where: str) -> None:
    missing = HEADERS - set(r.headers)
    assert not missing, (where, r.status_code, missing)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, where
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer", where
    assert r.headers["x-content-type-options"] == "nosniff", where
    if where.split(" ", 1)[1].startswith("/api/"):
        assert r.headers["cache-control"] == "no-store", (where, r.status_code)
    if where.split(" ", 1)[1] not in DOCS_PATHS:
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], where


@pytest.mark.parametrize("store_url", ["duckdb"], indirect=True)
def test_every_route_sends_the_security_headers(node: Node) -> None:
    app = create_app(node, rate_limit=0)

    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    app.add_api_route("/api/v1/test-crash", boom)
    # every documented operation, plus the routes outside the schema (dashboard, docs, OpenAPI document)
    operations = {(path, method.upper()) for path, ops in app.openapi()["paths"].items() for method in ops}
    operations |= {(r.path, m) for r in app.routes if isinstance(getattr(r, "methods", None), set)
                   for m in r.methods}
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).json()["token"]
        seen = 0
        for route_path, method in sorted(operations):
            path = route_path.replace("{kind}", "seizure")
            for part in [p for p in path.split("/") if p.startswith("{")]:
                path = path.replace(part, "x")
            for headers in ({}, bearer(admin)):
                r = client.request(method, path, headers=headers, json={} if method not in ("GET", "HEAD") else None)
                _check(r, f"{method} {path}")
                seen += 1
        assert seen > 40
        crash = client.get("/api/v1/test-crash")
        assert crash.status_code == 500
        _check(crash, "GET /api/v1/test-crash")
        for path in ("/", "/static/app.css", "/static/js/core.js", "/static/none.js", "/nowhere", "/api/v1/nowhere",
                     "/api/docs", "/api/openapi.json"):
            _check(client.get(path), f"GET {path}")
        _check(client.delete("/api/v1/me"), "DELETE /api/v1/me")  # 405
    with TestClient(create_app(node, rate_limit=1)) as client:
        statuses = []
        for _ in range(2):
            r = client.get("/api/v1/me")
            _check(r, "GET /api/v1/me")
            statuses.append(r.status_code)
        assert statuses == [401, 429]


class _Inline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and not (found.get("src") or "").startswith("/static/"):
            self.problems.append(f"inline or external script {found}")
        if tag == "link" and not (found.get("href") or "").startswith("/static/"):
            self.problems.append(f"external {found}")
        if tag == "style":
            self.problems.append("inline <style>")
        self.problems += [f"{tag} {name}=" for name, _ in attrs if name.startswith("on")]


def test_the_dashboard_fits_its_policy() -> None:
    """The CSP forbids inline and foreign scripts and eval: the dashboard must need none of them."""
    parser = _Inline()
    parser.feed((web_dir() / "index.html").read_text(encoding="utf-8"))
    assert parser.problems == []
    for js in (web_dir() / "static" / "js").glob("*.js"):
        text = js.read_text(encoding="utf-8")
        for banned in ("eval(", "new Function(", "<script", "javascript:", "http://", "https://"):
            assert banned not in text, (js.name, banned)
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", text), js.name  # no inline event handlers
