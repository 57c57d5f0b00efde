"""Record resources: filters, pagination, formats, one record, problem+json errors (in-process client)."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
from api_seed import bearer, build_env

PURPOSE = "corridor analysis, case 2024-117"


@pytest.fixture(scope="module")
def env(tmp_path_factory):  # type: ignore[no-untyped-def]
    client, tokens, us, _mx = build_env(tmp_path_factory.mktemp("api"))
    with client:
        yield client, bearer(tokens["analyst"]), us


def test_list_filters_and_scope(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    own = client.get("/api/v1/records/seizure", headers=h).json()
    assert own["total"] == 8 and own["scope"] == "own"
    assert {r["owner_node"] for r in own["items"]} == {"us-test"}
    both = client.get("/api/v1/records/seizure", headers=h, params={"purpose": PURPOSE}).json()
    assert both["total"] == 13 and both["scope"] == "own+partner"
    fent = client.get("/api/v1/records/seizure", headers=h, params={"purpose": PURPOSE, "drug": "fentanyl"}).json()
    assert fent["total"] == 9 and {r["drug"] for r in fent["items"]} == {"fentanyl"}
    dated = client.get("/api/v1/records/seizure", headers=h,
                       params={"date_from": "2024-02-01", "date_to": "2024-03-31"}).json()
    assert sorted(r["source_id"] for r in dated["items"]) == ["US-S-002", "US-S-003", "US-S-004", "US-S-005"]
    sinaloa = client.get("/api/v1/records/seizure", headers=h, params={"purpose": PURPOSE, "admin1": "sinaloa"}).json()
    assert [r["source_id"] for r in sinaloa["items"]] == ["MX-A-101"]
    mx_only = client.get("/api/v1/records/seizure", headers=h, params={"purpose": PURPOSE, "country": "MX"}).json()
    assert mx_only["total"] == 5
    text = client.get("/api/v1/records/seizure", headers=h, params={"q": "QUARTER panels"}).json()
    assert [r["source_id"] for r in text["items"]] == ["US-S-001"]
    box = client.get("/api/v1/records/seizure", headers=h, params={"bbox": "-118,32,-116,33.5"}).json()
    assert {r["place_name"] for r in box["items"]} == {"San Diego"}
    conv = client.get("/api/v1/records/seizure", headers=h, params={"conveyance": "pedestrian"}).json()
    assert [r["source_id"] for r in conv["items"]] == ["US-S-004"]


def test_injection_is_data(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    r = client.get("/api/v1/records/seizure", headers=h, params={"q": "' OR 1=1 --"})
    assert r.status_code == 200 and r.json()["total"] == 0


def test_pagination_covers_everything_once(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    seen = []
    for page in (1, 2, 3, 4, 5):
        body = client.get("/api/v1/records/seizure", headers=h,
                          params={"purpose": PURPOSE, "page": page, "per_page": 3}).json()
        assert body["total"] == 13
        seen += [r["id"] for r in body["items"]]
    assert len(seen) == 13 and len(set(seen)) == 13
    dates = [client.get(f"/api/v1/records/seizure/{i}", headers=h, params={"purpose": PURPOSE}).json()["date"]
             for i in seen]
    assert dates == sorted(dates, reverse=True)


def test_geojson_csv_parquet(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    geo = client.get("/api/v1/records/seizure", headers=h, params={"format": "geojson", "drug": "fentanyl"})
    assert geo.headers["content-type"] == "application/geo+json"
    fc = geo.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == fc["total"] == 5
    sd = next(f for f in fc["features"] if f["properties"]["source_id"] == "US-S-001")
    assert sd["geometry"]["coordinates"] == pytest.approx([-117.1611, 32.7157], abs=0.01)
    text = client.get("/api/v1/records/seizure", headers=h, params={"format": "csv"})
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert len(rows) == 8 and "source_file" not in rows[0] and rows[0]["owner_node"] == "us-test"
    par = client.get("/api/v1/records/seizure", headers=h, params={"format": "parquet", "purpose": PURPOSE})
    table = pq.read_table(io.BytesIO(par.content))
    assert table.num_rows == 13 and sum(table.column("quantity_kg").to_pylist()) == pytest.approx(
        sum(r["quantity_kg"] for r in client.get("/api/v1/records/seizure", headers=h,
                                                 params={"purpose": PURPOSE, "per_page": 100}).json()["items"]))
    person = client.get("/api/v1/records/person", headers=h, params={"format": "geojson"})
    assert person.status_code == 422  # people have no place: GeoJSON is not offered


def test_one_record_and_problems(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = env
    first = client.get("/api/v1/records/seizure", headers=h).json()["items"][0]
    one = client.get(f"/api/v1/records/seizure/{first['id']}", headers=h)
    assert one.status_code == 200 and one.json() == first
    missing = client.get("/api/v1/records/seizure/us-test:seizure:nope", headers=h)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404 and "nope" in missing.json()["detail"]
    bad = client.get("/api/v1/records/seizure", headers=h, params={"per_page": 0})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["loc"][-1] == "per_page"
    es = client.get("/api/v1/records/seizure/x:seizure:y", headers={**h, "Accept-Language": "es-MX"})
    assert es.json()["detail"].startswith("no hay un registro")
    assert client.get("/api/v1/nowhere", headers=h).headers["content-type"] == "application/problem+json"


def test_stats_flows_entity_scorecard(env) -> None:  # type: ignore[no-untyped-def]
    client, h, _us = env
    monthly = client.get("/api/v1/stats/monthly", headers=h, params={"drug": "fentanyl"}).json()
    assert sum(r["records"] for r in monthly) == 5 and {r["owner"] for r in monthly} == {"us-test"}
    jan = [r for r in monthly if r["key"] == "2024-01"]
    assert jan[0]["kg"] == pytest.approx(12.5)
    states = client.get("/api/v1/stats/by-place", headers=h, params={"purpose": PURPOSE}).json()
    assert {(r["key"], r["owner"]) for r in states} >= {("Sinaloa", "mx-test"), ("California", "us-test")}
    flows = client.get("/api/v1/map/flows", headers=h, params={"purpose": PURPOSE}).json()
    top = flows[0]
    assert (top["port"], top["place"], top["kg"]) == ("Calexico East", "Mexicali", 300.0)
    ports = client.get("/api/v1/map/ports", headers=h).json()
    assert any(p["name"] == "San Ysidro" and p["twin"] == "Tijuana" for p in ports)
    person = next(p for p in client.get("/api/v1/records/person", headers=h).json()["items"] if p["given_names"] == "John")
    graph = client.get(f"/api/v1/entities/{person['id']}", headers=h).json()
    labels = {n["label"] for n in graph["nodes"]}
    assert {"John Carter", "8ABC123 TOYOTA CAMRY", "Maria Lopez"} <= labels
    assert {e["role"] for e in graph["edges"]} >= {"driver", "owner", "associate"}
    assert [e["date"] for e in graph["timeline"]] == sorted(e["date"] for e in graph["timeline"])
    assert client.get("/api/v1/scorecard", headers=h).json()["received"] == []  # partner counts need a purpose
    card = client.get("/api/v1/scorecard", headers=h, params={"purpose": PURPOSE}).json()
    assert sum(r["records"] for r in card["received"] if r["kind"] == "seizure") == 5
    assert card["trace_completion"] == [{"owner": "mx-test", "completed": 1, "total": 2, "rate": 0.5,
                                        "by_status": {"completed": 1, "pending": 1}}]
    assert {c["owner"] for c in client.get("/api/v1/status", headers=h).json()["counts"]} == {"us-test"}
    status = client.get("/api/v1/status", headers=h, params={"purpose": PURPOSE}).json()
    assert status["node"] == "us-test" and {"kind": "seizure", "owner": "mx-test", "records": 5} in [
        {k: c[k] for k in ("kind", "owner", "records")} for c in status["counts"]]


@pytest.mark.postgres
def test_records_on_postgres(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us, _ = build_env(tmp_path, us_store=pg_url)
    with client:
        h = bearer(tokens["analyst"])
        body = client.get("/api/v1/records/seizure", headers=h, params={"purpose": PURPOSE, "drug": "fentanyl",
                                                                        "per_page": 4}).json()
        assert body["total"] == 9 and len(body["items"]) == 4
        sinaloa = client.get("/api/v1/records/seizure", headers=h, params={"purpose": PURPOSE, "admin1": "Sinaloa"})
        assert [r["source_id"] for r in sinaloa.json()["items"]] == ["MX-A-101"]
        par = client.get("/api/v1/records/person", headers=h, params={"format": "parquet"})
        assert pq.read_table(io.BytesIO(par.content)).num_rows == 2
        log = client.get("/api/v1/access-log", headers=bearer(tokens["steward"])).json()
        assert log[0]["purpose"] == PURPOSE and log[0]["username"] == "analyst"
