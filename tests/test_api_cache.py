"""The response cache (issue 15) tried by what would break it: stale answers after a change, answers shared
across views, audited reads that skip their audit entry on a hit, and a stampede of refreshes; and the answers
served before routing (puente/api/answers.py)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from puente.api.auth import revoke
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node
from puente.store import versions
from tests.api_seed import DATA, bearer, build_env

PURPOSE = "fentanyl corridor review"
LIST = "/api/v1/records/seizure"


def _cache(client: Any) -> Any:
    return client.app.state.ctx.responses


def _hits(client: Any) -> int:
    """Answers served from a cache: by the endpoint (``responses``) or before routing (``answers``)."""
    ctx = client.app.state.ctx
    return int(ctx.responses.hits + ctx.answers.hits)


def _more_seizures(tmp: Path, prefix: str, n: int) -> Path:
    lines = (DATA / "us_seizures.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.replace("US-S-", prefix, 1) for line in lines[1 : n + 1]]
    path = tmp / f"{prefix}.csv"
    path.write_text("\n".join([lines[0], *rows]) + "\n", encoding="utf-8")
    return path


def test_no_stale_answer_after_ingest(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, _ = api_env
    h = bearer(tokens["steward"])
    first = client.get(LIST, headers=h, params={"per_page": 2})
    hits = _hits(client)
    again = client.get(LIST, headers=h, params={"per_page": 2})
    assert _hits(client) == hits + 1 and again.content == first.content  # served from the cache
    before = first.json()["total"]
    with us.open_store() as store:
        report = ingest_file(us, store, _more_seizures(tmp_path, "US-NEW-", 3), get_profile("seizure-us"))
    assert report.stored == 3
    after = client.get(LIST, headers=h, params={"per_page": 2})
    assert after.json()["total"] == before + 3  # the page and the count both see the ingest
    assert after.headers["X-Total-Count"] == str(before + 3)
    q = client.get(LIST, headers=h, params={"q": "US-NEW-"}).json()
    assert q["total"] == 3


def test_no_stale_answer_after_import_purge_and_revocation(api_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from puente.share.export import export_bundle
    from puente.share.lifecycle import purge_expired, revoke_agreement
    from puente.share.receive import import_bundle

    client, tokens, us, mx = api_env
    h, p = bearer(tokens["analyst"]), {"purpose": PURPOSE, "owner": "partner"}
    partner = client.get(LIST, headers=h, params=p).json()["total"]
    assert partner > 0
    assert client.get(LIST, headers=h, params=p).json()["total"] == partner  # a cached answer
    # import: the MX node ingests more fentanyl seizures and sends them in its next bundle
    lines = (DATA / "mx_seizures.csv").read_text(encoding="utf-8").splitlines()
    extra = tmp_path / "mx_more.csv"
    extra.write_text("\n".join([lines[0], *[ln.replace("MX-", "MX-NEW-", 1) for ln in lines[1:]]]) + "\n",
                     encoding="utf-8")
    with mx.open_store() as store:
        ingest_file(mx, store, extra, get_profile("seizure-mx"))
        data = export_bundle(mx, store, us.name, actor="test")
    with us.open_store() as store:
        v0 = versions.current(store)
        imported = import_bundle(us, store, data, actor="test").records
        assert imported > 0 and versions.current(store) > v0
    grown = client.get(LIST, headers=h, params=p).json()["total"]
    assert grown == partner + imported
    # purge: every received record past its retention is deleted
    with us.open_store() as store:
        purged = purge_expired(us, store, today=dt.date(2200, 1, 1), actor="test")
    assert purged.get("seizure") == grown
    assert client.get(LIST, headers=h, params=p).json()["total"] == 0
    # revocation: a committed revocation bumps the version too
    with us.open_store() as store:
        v1 = versions.current(store)
        revoke_agreement(us, store, mx.name, "test over", actor="test")
        assert versions.current(store) == v1 + 1


def test_views_never_share_an_entry(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    params = {"per_page": 50}
    steward = client.get(LIST, headers=bearer(tokens["steward"]), params=params).json()
    analyst = client.get(LIST, headers=bearer(tokens["analyst"]), params=params).json()
    assert "source_file" in steward["items"][0] and "source_file" not in analyst["items"][0]
    assert analyst["withheld"] and not steward["withheld"]
    hits = _hits(client)
    # the same query again, each from its own entry
    assert client.get(LIST, headers=bearer(tokens["analyst"]), params=params).json() == analyst
    assert client.get(LIST, headers=bearer(tokens["steward"]), params=params).json() == steward
    assert _hits(client) == hits + 2
    # a purpose widens the view to partner records: its own entry, never the own-records one
    wide = client.get(LIST, headers=bearer(tokens["analyst"]), params={**params, "purpose": PURPOSE}).json()
    assert wide["scope"] == "own+partner" and wide["total"] > analyst["total"]
    own = client.get(LIST, headers=bearer(tokens["analyst"]), params=params).json()
    assert own == analyst and {r["owner_node"] for r in own["items"]} == {"us-test"}
    # a partner node sees only what its agreement shares, never an analyst's cached answer
    partner = client.get(LIST, headers=bearer(tokens["partner-node"]), params=params)
    assert partner.status_code in (200, 403)
    if partner.status_code == 200:
        assert partner.json()["scope"] == "agreement" and partner.json() != analyst


def test_audited_reads_are_audited_on_hits(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    h = bearer(tokens["analyst"])
    params = {"purpose": PURPOSE, "drug": "fentanyl", "per_page": 3}

    def log() -> list[dict[str, Any]]:
        entries = client.get("/api/v1/access-log", headers=bearer(tokens["steward"]), params={"limit": 5000})
        return [e for e in entries.json() if e["purpose"] == PURPOSE and e["action"] == "list"]

    before = len(log())
    first = client.get(LIST, headers=h, params=params)
    hits = _hits(client)
    second = client.get(LIST, headers=h, params=params)
    assert _hits(client) == hits + 1 and second.content == first.content
    entries = log()
    assert len(entries) == before + 2  # one entry per read, the cached one included
    ids = ",".join(r["id"] for r in second.json()["items"])
    assert entries[0]["record_ids"] == ids and entries[0]["username"] == "analyst"


def test_one_refresh_per_entry(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    cache = _cache(client)
    h = bearer(tokens["steward"])
    misses = cache.misses
    bodies: list[bytes] = []
    start = threading.Barrier(12)

    def get() -> None:
        start.wait()
        bodies.append(client.get(LIST, headers=h, params={"per_page": 7, "drug": "fentanyl"}).content)

    threads = [threading.Thread(target=get) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 12 and len(set(bodies)) == 1
    assert cache.misses == misses + 1  # twelve concurrent requests, one query


def test_count_is_capped_and_marked(api_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    h = bearer(tokens["steward"])
    exact = client.get(LIST, headers=h, params={"per_page": 1}).json()
    assert exact["total_exact"] is True and exact["total"] > 3
    monkeypatch.setenv("PUENTE_COUNT_EXACT_LIMIT", "3")
    capped = client.get(LIST, headers=h, params={"per_page": 1, "page": 2})
    assert capped.json()["total"] == 3 and capped.json()["total_exact"] is False
    assert capped.headers["X-Total-Exact"] == "false"
    geo = client.get(LIST, headers=h, params={"per_page": 1, "format": "geojson"}).json()
    assert geo["total_exact"] is False and geo["total"] == 3


def test_version_is_shared_by_connections(tmp_path: Path) -> None:
    node = Node.init(tmp_path / "n", "n", "US")
    with node.open_store() as a:
        v = versions.current(a)
        with a.transaction():
            versions.bump(a, "test")
            assert versions.current(a) == v + 1
        assert versions.current(a) == v + 1
        try:
            with a.transaction():
                versions.bump(a, "rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
        assert versions.current(a) == v + 1  # a rollback changes nothing


# -- answered before routing (puente/api/answers.py): an answer that differs from the endpoint's, a revoked or
# unknown token that still gets it, a refused request that gets one, the rate limit skipped, the cache off

def _answers(client: Any) -> Any:
    return client.app.state.ctx.answers


def test_a_hit_is_the_endpoints_answer_byte_for_byte(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    h = bearer(tokens["steward"])
    for params in ({"per_page": 3, "drug": "fentanyl"}, {"per_page": 2, "format": "geojson"}):
        first = client.get(LIST, headers=h, params=params)
        hits = _answers(client).hits
        again = client.get(LIST, headers=h, params=params)
        assert _answers(client).hits == hits + 1  # answered before routing
        assert first.status_code == again.status_code == 200
        assert again.content == first.content and dict(again.headers) == dict(first.headers)


def test_every_hit_authenticates_against_the_store(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us, _ = api_env
    h = bearer(tokens["analyst"])
    assert client.get(LIST, headers=h, params={"per_page": 2}).status_code == 200
    assert client.get(LIST, headers=h, params={"per_page": 2}).status_code == 200  # a hit
    assert client.get(LIST, headers=bearer("not-a-token"), params={"per_page": 2}).status_code == 401
    assert client.get(LIST, params={"per_page": 2}).status_code == 401
    with us.open_store() as store:
        revoke(store, tokens["analyst"])
    refused = client.get(LIST, headers=h, params={"per_page": 2})
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"


def test_refused_requests_are_never_answered_from_the_cache(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    h = bearer(tokens["steward"])
    assert client.get(LIST, headers=h, params={"per_page": 2}).status_code == 200
    for _ in range(2):  # the same answer twice: nothing about a refused request is kept
        assert client.get(LIST, headers=h, params={"per_page": 2, "drgu": "fentanyl"}).status_code == 400
        assert client.get(LIST, headers=h, params={"per_page": 0}).status_code == 422
        assert client.get(LIST, headers=h, params={"per_page": 2, "drug": "kryptonite"}).status_code == 422
    assert client.get(LIST, headers=h, params={"per_page": 2}).status_code == 200


def test_item_reads_and_exports_are_not_kept(api_env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = api_env
    h = bearer(tokens["steward"])
    item_id = client.get(LIST, headers=h, params={"per_page": 1}).json()["items"][0]["id"]
    kept = len(_answers(client).entries)
    for _ in range(2):
        assert client.get(f"{LIST}/{item_id}", headers=h).status_code == 200
        assert client.get(LIST, headers=h, params={"format": "csv"}).status_code == 200
    assert len(_answers(client).entries) == kept


def test_hits_count_against_the_rate_limit(tmp_path: Path) -> None:
    import time

    for attempt in range(3):  # the limit is per clock minute: four requests that straddle one are tried again
        client, tokens, _us, _ = build_env(tmp_path / str(attempt), rate_limit=3)
        h = bearer(tokens["steward"])
        with client:
            minute = int(time.time() // 60)
            codes = [client.get(LIST, headers=h, params={"per_page": 2}).status_code for _ in range(4)]
            assert _answers(client).hits >= 1
        if int(time.time() // 60) == minute:
            break
    assert codes == [200, 200, 200, 429]


def test_no_answers_kept_with_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUENTE_API_CACHE_MB", "0")
    client, tokens, _us, _ = build_env(tmp_path)
    h = bearer(tokens["steward"])
    with client:
        first = client.get(LIST, headers=h, params={"per_page": 2})
        again = client.get(LIST, headers=h, params={"per_page": 2})
        assert first.content == again.content and not _answers(client).entries and _answers(client).hits == 0


def test_an_answer_is_served_on_its_day_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A partner's agreement is in force by the day: an answer kept one day is not served the next."""
    from puente.api import answers

    client, tokens, _us, _ = build_env(tmp_path)
    h = bearer(tokens["steward"])

    with client:
        client.get(LIST, headers=h, params={"per_page": 2})
        client.get(LIST, headers=h, params={"per_page": 2})
        hits = _answers(client).hits
        assert hits >= 1
        monkeypatch.setattr(answers, "today", lambda: dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1))
        assert client.get(LIST, headers=h, params={"per_page": 2}).status_code == 200
        assert _answers(client).hits == hits  # kept under yesterday: made again, not served
        assert client.get(LIST, headers=h, params={"per_page": 2}).status_code == 200
        assert _answers(client).hits == hits + 1  # and kept under today
