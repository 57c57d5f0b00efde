"""The change epoch (issue 15: puente/store/epoch.py, puente/api/known.py) attacked: a revocation in one process
is refused by the very next request to another worker that had the token and the answer cached; a missing,
truncated, torn, older or in-flight epoch file makes the server ask the store; a writer that dies after its commit
leaves the file unsettled until it is found gone; a writer that cannot announce its change does not make it;
cached answers are never served across views, and audited reads are audited on every fast hit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from puente.api import auth
from puente.api.app import create_app
from puente.errors import StoreError
from puente.node import Node
from puente.store import epoch, versions
from tests.api_seed import bearer, build_env

ROOT = Path(__file__).resolve().parents[1]
LIST = "/api/v1/records/seizure"
PURPOSE = "fentanyl corridor review"


def _known(client: Any) -> Any:
    return client.app.state.ctx.known


def _warm(client: Any, token: str, params: dict[str, Any] | None = None) -> bytes:
    """Ask twice: the second answer comes from the cache before routing, the token and version from ``known``."""
    first = client.get(LIST, headers=bearer(token), params=params or {"per_page": 3})
    assert first.status_code == 200
    hits = _known(client).hits
    again = client.get(LIST, headers=bearer(token), params=params or {"per_page": 3})
    assert again.content == first.content
    assert _known(client).hits == hits + 1, "the second request did not take the fast path"
    return bytes(first.content)


def _path(node: Node) -> Path:
    path = epoch.path_for(node.store_url)
    assert path is not None
    return path


# -- the file alone ---------------------------------------------------------------------------------------

def test_a_change_moves_the_epoch_after_it_ends_and_reads_unknown_while_in_flight(tmp_path: Path) -> None:
    node = Node.init(tmp_path / "n", "n", "US")
    path = _path(node)
    assert epoch.repair(path)
    before = epoch.read(path)
    assert before is not None
    with node.open_store() as store:
        with store.transaction():
            versions.bump(store, "test")
            assert epoch.read(path) is None  # in flight: readers ask the store
        after = epoch.read(path)
        assert after is not None and after[0] == before[0] and after[1] == before[1] + 2
        with pytest.raises(RuntimeError), store.transaction():  # a rollback ends the change as well
            versions.bump(store, "rolled back")
            raise RuntimeError("abort")
        rolled = epoch.read(path)
        assert rolled is not None and rolled[1] == after[1] + 2


def test_a_writer_gone_after_its_commit_leaves_the_epoch_unsettled_until_found_gone(tmp_path: Path) -> None:
    node = Node.init(tmp_path / "n", "n", "US")
    path = _path(node)
    assert epoch.repair(path)
    before = epoch.read(path)
    code = ("import os, sys; from pathlib import Path; from puente.store import epoch; "
            "epoch._count(Path(sys.argv[1]), +1); os._exit(0)")  # counted in, committed, died before counting out
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert epoch.read(path) is None
    assert epoch.repair(path)
    after = epoch.read(path)
    assert after is not None and before is not None and after[1] > before[1]


@pytest.mark.parametrize("damage", ["deleted", "truncated", "torn", "garbage", "empty"])
def test_a_damaged_epoch_file_reads_unknown_and_is_made_whole_with_a_new_id(tmp_path: Path, damage: str) -> None:
    node = Node.init(tmp_path / "n", "n", "US")
    path = _path(node)
    assert epoch.repair(path)
    before = epoch.read(path)
    assert before is not None
    data = path.read_bytes()
    if damage == "deleted":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[:30])
    elif damage == "torn":  # a counter byte changed without its CRC
        path.write_bytes(data[:24] + bytes([data[24] ^ 0x01]) + data[25:])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    else:
        path.write_bytes(b"")
    assert epoch.read(path) is None
    assert epoch.repair(path)
    after = epoch.read(path)
    assert after is not None and after != before


def test_a_writer_that_cannot_announce_its_change_does_not_make_it(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, _ = api_env
    _warm(client, tokens["analyst"])
    path = _path(us)
    path.unlink()
    path.mkdir()  # in the file's place: nobody can write it
    try:
        with us.open_store() as store, pytest.raises(StoreError):
            auth.revoke(store, tokens["analyst"])
        with us.open_store() as store:
            assert auth.authenticate(store, tokens["analyst"]) is not None  # not revoked
    finally:
        path.rmdir()
    assert client.get(LIST, headers=bearer(tokens["analyst"]), params={"per_page": 3}).status_code == 200


# -- the server --------------------------------------------------------------------------------------------

def test_a_revocation_is_refused_by_the_next_request_to_another_worker(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, _ = api_env
    token = tokens["analyst"]
    with TestClient(create_app(us, rate_limit=0)) as other:  # a second worker: its own memory, the same store
        _warm(client, token)
        _warm(other, token)
        assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204  # revokes the token
        assert other.get(LIST, headers=bearer(token), params={"per_page": 3}).status_code == 401
        assert client.get(LIST, headers=bearer(token), params={"per_page": 3}).status_code == 401
        steward = tokens["steward"]
        _warm(other, steward)  # other tokens still work, and again without a query once asked once
        with us.open_store() as store:  # a revocation outside the server (the CLI)
            auth.revoke(store, steward)
        assert other.get(LIST, headers=bearer(steward), params={"per_page": 3}).status_code == 401


@pytest.mark.postgres
def test_a_revocation_in_another_process_is_refused_by_the_next_request(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL: `puente serve --workers 2`, both workers with the token and the answer cached; a third process
    (the CLI's code) revokes the token; every request after that, to either worker, is refused."""
    from tests.test_api_soak import _port, _serve, _stop

    client, tokens, us, _ = build_env(tmp_path, us_store=pg_url)
    client.close()
    token = tokens["analyst"]
    port = _port()
    proc = _serve(us.home, port, 2, {"PUENTE_RATE_LIMIT": "0"})
    url = f"http://127.0.0.1:{port}{LIST}"
    try:
        with httpx.Client(timeout=30) as http:  # new connections: the kernel spreads them over both workers
            for _ in range(20):
                assert http.get(url, headers=bearer(token), params={"per_page": 3}).status_code == 200
            code = ("import sys; from pathlib import Path; from puente.node import Node; from puente.api import auth\n"
                    "with Node.load(Path(sys.argv[1])).open_store() as store: auth.revoke(store, sys.argv[2])")
            subprocess.run([sys.executable, "-c", code, str(us.home), token], check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            statuses = [httpx.get(url, headers=bearer(token), params={"per_page": 3}, timeout=30).status_code
                        for _ in range(20)]
        assert statuses == [401] * 20
    finally:
        _stop(proc)


@pytest.mark.parametrize("stale", ["deleted", "truncated", "older", "in flight"])
def test_a_stale_epoch_file_makes_the_server_ask_the_store(api_env, stale: str) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, _ = api_env
    token = tokens["analyst"]
    path = _path(us)
    old = path.read_bytes()
    _warm(client, token)
    with us.open_store() as store:
        auth.revoke(store, tokens["steward"])  # moves the epoch: ``old`` is now older
    _warm(client, token)
    hits, asks = _known(client).hits, _known(client).asks
    if stale == "deleted":
        path.unlink()
    elif stale == "truncated":
        path.write_bytes(path.read_bytes()[:20])
    elif stale == "older":
        path.write_bytes(old)
    else:
        epoch._count(path, +1)
    _known(client).next_repair = float("inf")  # no repair meanwhile: the file stays as it is
    r = client.get(LIST, headers=bearer(token), params={"per_page": 3})
    assert r.status_code == 200
    assert _known(client).asks == asks + 1 and _known(client).hits == hits  # asked the store
    assert client.get(LIST, headers=bearer(tokens["steward"]), params={"per_page": 3}).status_code == 401
    if stale == "in flight":
        epoch._count(path, -1)


def test_cached_answers_are_never_served_across_views(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _, _ = api_env
    params = {"per_page": 5, "purpose": PURPOSE}
    bodies = {role: _warm(client, tokens[role], params) for role in ("analyst", "steward", "partner-node")}
    assert len(set(bodies.values())) == 3
    for role, body in bodies.items():  # each answered again from its own view
        assert client.get(LIST, headers=bearer(tokens[role]), params=params).content == body


def test_audited_reads_are_audited_on_every_fast_hit(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, _ = api_env
    params = {"purpose": PURPOSE, "owner": "partner", "per_page": 5}

    def logged() -> int:
        with us.open_store() as store:
            return int(store.scalar("SELECT COUNT(*) FROM api_access_log WHERE username = 'analyst'"))

    start = logged()
    _warm(client, tokens["analyst"], params)
    hits = _known(client).hits
    for _ in range(3):
        assert client.get(LIST, headers=bearer(tokens["analyst"]), params=params).status_code == 200
    assert _known(client).hits == hits + 3
    assert logged() == start + 5


def test_concurrent_readers_and_a_revocation(api_env) -> None:  # type: ignore[no-untyped-def]
    """Requests racing a revocation: once the revocation has returned, no request that starts is answered."""
    client, tokens, us, _ = api_env
    token = tokens["analyst"]
    _warm(client, token)
    revoked = threading.Event()
    late: list[int] = []

    deadline = time.monotonic() + 120

    def read() -> None:  # until requests started after the revocation have been answered
        while len(late) < 20 and time.monotonic() < deadline:
            after = revoked.is_set()
            status = client.get(LIST, headers=bearer(token), params={"per_page": 3}).status_code
            if after:
                late.append(status)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    with us.open_store() as store:
        auth.revoke(store, token)
    revoked.set()
    for t in threads:
        t.join()
    assert late and set(late) == {401}


def test_copying_a_node_copies_no_trust(tmp_path: Path) -> None:
    """Another store with a copied epoch file (same id and counter) is another file: each server asks its own."""
    node = Node.init(tmp_path / "a", "a", "US")
    assert epoch.repair(_path(node))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = Node.load(tmp_path / "b")
    assert _path(copy) != _path(node) and epoch.read(_path(copy)) == epoch.read(_path(node))
    with copy.open_store() as store:
        versions.bump(store, "only the copy")
    assert epoch.read(_path(copy)) != epoch.read(_path(node))


def test_with_the_epoch_off_a_change_no_file_announces_is_still_seen(api_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A writer on another host (here: an UPDATE that bypasses the epoch, as such a host's would) cannot announce
    its change in this host's file. With the epoch on, the fast path would keep serving the revoked token, so
    ``api_epoch=false`` is the operator's switch for such deployments: then every request asks the store."""
    client, tokens, us, _ = api_env
    token = tokens["analyst"]
    unannounced = "UPDATE api_tokens SET revoked = TRUE WHERE token_hash = ?"
    _warm(client, tokens["steward"])
    with us.open_store() as store:
        store.execute(unannounced, [auth.token_hash(tokens["steward"])])
    # the hole the setting closes: the file never moved, so the worker still trusts what it knew
    assert client.get(LIST, headers=bearer(tokens["steward"]), params={"per_page": 3}).status_code == 200
    monkeypatch.setenv("PUENTE_API_EPOCH", "false")
    with TestClient(create_app(us, rate_limit=0)) as off:
        assert off.get(LIST, headers=bearer(token), params={"per_page": 3}).status_code == 200
        assert off.get(LIST, headers=bearer(token), params={"per_page": 3}).status_code == 200
        assert off.app.state.ctx.known.hits == 0  # never answered from memory
        with us.open_store() as store:
            store.execute(unannounced, [auth.token_hash(token)])
        assert off.get(LIST, headers=bearer(token), params={"per_page": 3}).status_code == 401
