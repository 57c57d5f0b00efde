"""The dashboard's shared filters and figures at the API (issue 16): the State filter takes a state's place id
from the gazetteer and matches the data whatever the spelling; the agreement's withheld fields are listed for
the dashboard; the API reference is served from vendored files only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_seed import bearer, build_env

from puente.api.app import web_dir
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile

STATES_CSV = Path(__file__).parent / "data" / "web" / "us_seizures_states.csv"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    client, tokens, us, _mx = build_env(tmp_path_factory.mktemp("webfilters"))
    with us.open_store() as store:
        report = ingest_file(us, store, STATES_CSV, get_profile("seizure-us"))
        assert report.balanced and report.quarantined == 0, report.summary()
    with client:
        yield client, bearer(tokens["analyst"])


def _total(client, h, **params: str) -> int:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/records/seizure", params={"per_page": 1, **params}, headers=h)
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


def test_states_come_from_the_gazetteer_with_place_ids(env) -> None:  # type: ignore[no-untyped-def]
    client, h = env
    states = {s["id"]: s for s in client.get("/api/v1/map/states", headers=h).json()}
    assert states["MX-16"]["name"] == "Michoacán de Ocampo" and "Michoacan de Ocampo" in states["MX-16"]["names"]
    assert states["MX-05"]["name"] == "Coahuila de Zaragoza"
    assert states["MX-09"]["name"] == "Ciudad de México"
    assert states["US-06"]["name"] == "California" and states["US-06"]["country"] == "US"
    assert sum(1 for s in states.values() if s["country"] == "MX") == 32


@pytest.mark.parametrize(("state", "expected"), [("MX-16", 3), ("MX-05", 2), ("MX-09", 2), ("US-04", None)])
def test_state_filter_by_place_id_matches_the_data(env, state: str, expected: int | None) -> None:  # type: ignore[no-untyped-def]
    """Michoacán, Coahuila and Ciudad de México hold records whose stored state name differs from the shape
    names ("Michoacán" vs "Michoacán de Ocampo", "Distrito Federal"); the place id finds every one."""
    client, h = env
    by_id = _total(client, h, admin1=state)
    names = next(s for s in client.get("/api/v1/map/states", headers=h).json() if s["id"] == state)["names"]
    by_name = sum(_total(client, h, admin1=n) for n in names)
    assert by_id == by_name > 0
    if expected is not None:
        assert by_id == expected
    # the aggregate behind the map's totals takes the same filter
    stats = client.get("/api/v1/stats/monthly", params={"kind": "seizure", "admin1": state}, headers=h).json()
    assert sum(r["records"] for r in stats) == by_id
    # the shape's short name alone finds nothing: that was the bug
    if state == "MX-16":
        assert _total(client, h, admin1="Michoacán") == 0


def test_an_unknown_state_id_matches_nothing(env) -> None:  # type: ignore[no-untyped-def]
    client, h = env
    assert _total(client, h, admin1="MX-99") == 0


def test_every_record_with_a_state_is_under_one_state_id(env) -> None:  # type: ignore[no-untyped-def]
    client, h = env
    by_place = client.get("/api/v1/stats/by-place", params={"kind": "seizure", "level": "admin1"}, headers=h).json()
    with_state = sum(r["records"] for r in by_place if r["key"])
    ids = [s["id"] for s in client.get("/api/v1/map/states", headers=h).json()]
    assert sum(_total(client, h, admin1=i) for i in ids) == with_state > 0


def test_the_agreement_withheld_fields_are_listed(env) -> None:  # type: ignore[no-untyped-def]
    client, h = env
    rows = client.get("/api/v1/agreements/withheld", headers=h).json()
    person = next(r for r in rows if r["partner"] == "mx-test" and r["kind"] == "person")
    assert {"given_names", "surname1", "curp", "id_number"} <= set(person["fields"])
    assert "match_only" in person["fields"]["given_names"] and "drop" in person["fields"]["id_number"]
    seizure = next(r for r in rows if r["partner"] == "mx-test" and r["kind"] == "seizure")
    assert set(seizure["fields"]) == {"notes"}


def test_the_api_reference_is_served_offline(env) -> None:  # type: ignore[no-untyped-def]
    client, _h = env
    page = client.get("/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no external favicon
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the page runs under the dashboard's CSP
    for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert (web_dir() / ref.removeprefix("/")).is_file()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert client.get("/api/openapi.json").json()["paths"]["/api/v1/map/states"]


def test_entity_captions_follow_the_reader_language(env) -> None:  # type: ignore[no-untyped-def]
    """Entity titles ("fentanyl 22.5 kg · ...") carry coded values in the reader's language (issue 16 item 13)."""
    from puente.model import load_model

    client, h = env
    item = client.get("/api/v1/records/seizure", params={"drug": "fentanyl", "per_page": 1}, headers=h).json()["items"][0]
    es_term = load_model().vocabularies["drugs"].terms["fentanyl"].es
    assert es_term != "fentanyl"
    for lang, word, other in (("en", "fentanyl", es_term), ("es", es_term, None)):
        body = client.get(f"/api/v1/entities/{item['id']}", headers={**h, "Accept-Language": lang}).json()
        title = next(n["label"] for n in body["nodes"] if n["id"] == item["id"])
        assert title.startswith(word + " "), title
        if other:
            assert other not in title
        assert body["record"]["drug"] == "fentanyl"  # the record itself keeps its code
