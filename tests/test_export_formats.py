"""`puente export KIND --format csv|parquet|jsonl|geojson|ftm`: the records come back out whole,
and people, organizations and vehicles as valid FollowTheMoney entities."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from followthemoney import model as ftm_model

from puente.errors import UsageError
from puente.export.writers import export_kind
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def loaded(make_node, store_url, tmp_path: Path):  # type: ignore[no-untyped-def]
    node = make_node("mx-exp", "MX", store_url)
    people = tmp_path / "personas.jsonl"
    people.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in [
        {"folio": "P-1", "nombre": "Juan Carlos", "apellido_paterno": "de la Cruz", "apellido_materno": "López",
         "fecha_nacimiento": "17/05/1990", "nacionalidad": "MX", "curp": "CULJ900517HSLRPN09"},
        {"folio": "P-2", "nombre": "Ana", "apellido_paterno": "Ruiz"},
    ]) + "\n", encoding="utf-8")
    orgs = tmp_path / "empresas.jsonl"
    orgs.write_text(json.dumps({"folio": "O-1", "razon_social": "Química Delta SA de CV", "rfc": "QDE010101AB1",
                                "pais": "México"}, ensure_ascii=False) + "\n", encoding="utf-8")
    cars = tmp_path / "vehiculos.jsonl"
    cars.write_text(json.dumps({"folio": "V-1", "placa": "ABC-1234", "pais_placa": "MX", "marca": "Nissan",
                                "modelo": "Tsuru"}) + "\n", encoding="utf-8")
    links = tmp_path / "vinculos.jsonl"
    links.write_text("\n".join(json.dumps(o) for o in [
        {"tipo_origen": "person", "referencia_origen": "P-1", "tipo_destino": "vehicle", "referencia_destino": "V-1",
         "rol": "conductor"},
        {"tipo_origen": "person", "referencia_origen": "P-2", "tipo_destino": "seizure",  # no FtM form: left out
         "referencia_destino": "FGR-SIN-2023-0002", "rol": "conductor"},
    ]) + "\n", encoding="utf-8")
    with node.open_store() as store:
        ingest_file(node, store, FIXTURES / "aseguramientos_mx.csv", get_profile("seizure-mx"))
        for path, profile in ((people, "person-mx"), (orgs, "organization-mx"), (cars, "vehicle-mx"),
                              (links, "link-mx")):
            assert ingest_file(node, store, path, get_profile(profile)).stored >= 1
        yield node, store


def test_csv_parquet_jsonl_round_trip(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, store = loaded
    assert export_kind(store, "seizure", "csv", tmp_path / "s.csv") == 20
    with (tmp_path / "s.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    culiacan = next(r for r in rows if r["source_id"] == "FGR-SIN-2023-0002")
    assert (culiacan["place_id"], culiacan["date"], culiacan["quantity_kg"]) == ("MX-25006", "2023-01-17", "2.5")
    assert export_kind(store, "seizure", "parquet", tmp_path / "s.parquet") == 20
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.num_rows == 20 and min(table.column("place_id").to_pylist()) == "MX-02001"
    assert str(table.schema.field("date").type) == "date32[day]"
    assert export_kind(store, "seizure", "jsonl", tmp_path / "s.jsonl") == 20
    lines = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {line["id"] for line in lines} == {r["id"] for r in rows}
    assert any(line["place_text"] == "Lázaro Cárdenas, Mich." for line in lines)  # UTF-8 kept as written


def test_geojson_points(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, store = loaded
    export_kind(store, "seizure", "geojson", tmp_path / "s.geojson")
    data = json.loads((tmp_path / "s.geojson").read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 20
    feature = next(f for f in data["features"] if f["properties"]["place_id"] == "MX-25006")
    lon, lat = feature["geometry"]["coordinates"]
    assert abs(lat - 24.80) < 0.1 and abs(lon + 107.39) < 0.1  # GeoJSON order is lon, lat
    with pytest.raises(UsageError):
        export_kind(store, "person", "geojson", tmp_path / "p.geojson")


def test_ftm_entities_are_valid_followthemoney(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, store = loaded
    proxies = {}
    for kind in ("person", "organization", "vehicle"):
        out = tmp_path / f"{kind}.ftm.json"
        export_kind(store, kind, "ftm", out)
        for line in out.read_text(encoding="utf-8").splitlines():
            proxy = ftm_model.get_proxy(json.loads(line), cleaned=False)  # raises on an invalid schema/property
            proxies[proxy.id] = proxy
    people = {p.first("firstName"): p for p in proxies.values() if p.schema.name == "Person"}
    juan = people["Juan Carlos"]
    assert juan.first("fatherName") == "De la Cruz" or juan.first("fatherName") == "de la Cruz"
    assert juan.first("birthDate") == "1990-05-17" and juan.first("nationality") == "mx"
    assert "CULJ900517HSLRPN09" in juan.get("idNumber")
    company = next(p for p in proxies.values() if p.schema.name == "Company")
    assert company.first("taxNumber") == "QDE010101AB1" and company.first("jurisdiction") == "mx"
    car = next(p for p in proxies.values() if p.schema.name == "Vehicle")
    assert car.first("registrationNumber") == "ABC1234"
    link = next(p for p in proxies.values() if p.schema.name == "UnknownLink")
    assert link.first("subject") == juan.id and link.first("object") == car.id and link.first("role") == "driver"
    for proxy in proxies.values():  # every value survives FtM's own cleaning
        assert ftm_model.get_proxy(proxy.to_dict(), cleaned=False).to_dict() == proxy.to_dict()
    with pytest.raises(UsageError):
        export_kind(store, "seizure", "ftm", tmp_path / "s.ftm.json")


def assert_valid_ftm(path: Path) -> dict[str, object]:
    """Every line an FtM entity of a concrete schema, with every required property, whose references all
    point to entities of the same file; returns the proxies by id."""
    from followthemoney.types import registry

    proxies = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        proxy = ftm_model.get_proxy(json.loads(line), cleaned=False)
        assert proxy.id and not proxy.schema.abstract, line
        missing = [p for p in proxy.schema.required if not proxy.get(p)]
        assert not missing, (proxy.id, proxy.schema.name, missing)
        assert proxy.id not in proxies, proxy.id
        proxies[proxy.id] = proxy
    for proxy in proxies.values():
        for prop, value in proxy.itervalues():
            if prop.type == registry.entity:
                assert value in proxies, (proxy.id, prop.name, value)
    return proxies


def test_ftm_files_are_closed_and_complete(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node, store = loaded
    # a partner's person whose names the agreement withholds arrives with the name fields empty
    pid = store.scalar("SELECT id FROM person WHERE source_id = 'P-2'")
    store.execute("UPDATE person SET owner_node = 'us-partner', given_names = NULL, surname1 = NULL, surname2 = NULL "
                  "WHERE id = ?", [pid])
    out = tmp_path / "person.ftm.json"
    assert export_kind(store, "person", "ftm", out, local_node=node.name) == 2
    proxies = assert_valid_ftm(out)
    withheld = proxies[pid.replace(":", "-")]
    assert withheld.get("name") == ["[withheld]"] and "withheld" in withheld.first("description")
    assert {p.schema.name for p in proxies.values()} == {"Person", "Vehicle", "UnknownLink"}  # the car came along
    links = [p for p in proxies.values() if p.schema.name == "UnknownLink"]
    assert len(links) == 1  # the link to a seizure (no FtM form) is left out, not left dangling
    for kind in ("vehicle", "organization"):
        export_kind(store, kind, "ftm", tmp_path / f"{kind}.ftm.json", local_node=node.name)
        assert_valid_ftm(tmp_path / f"{kind}.ftm.json")


FORMULAS = ['=HYPERLINK("http://evil.example","clic")', "+52 667 000", "-1+1", "@SUM(A1)", "\tTAB", "\rCR"]


def _plant_formulas(store) -> list[str]:  # type: ignore[no-untyped-def]
    ids = [r[0] for r in store.query("SELECT id FROM seizure ORDER BY id LIMIT ?", [len(FORMULAS)])]
    for rid, text in zip(ids, FORMULAS):
        store.execute("UPDATE seizure SET notes = ? WHERE id = ?", [text, rid])
    return ids


def _notes(text: str) -> dict[str, str]:
    return {r["id"]: r["notes"] for r in csv.DictReader(io.StringIO(text, newline=""))}


def test_csv_neutralizes_formulas_unless_raw(loaded, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from puente.cli import main

    node, store = loaded
    ids = _plant_formulas(store)
    export_kind(store, "seizure", "csv", tmp_path / "safe.csv")
    notes = _notes((tmp_path / "safe.csv").read_bytes().decode("utf-8"))
    assert [notes[i] for i in ids] == ["'" + f for f in FORMULAS]
    quantities = [r["quantity"] for r in csv.DictReader((tmp_path / "safe.csv").open(encoding="utf-8"))]
    assert not any(q.startswith("'") for q in quantities)  # numbers are never touched
    store.close()  # the CLI opens the node's store itself
    monkeypatch.chdir(tmp_path)
    assert main(["--home", str(node.home), "export", "seizure", "-o", "cli.csv"]) == 0
    assert [_notes((tmp_path / "cli.csv").read_bytes().decode("utf-8"))[i] for i in ids] == ["'" + f for f in FORMULAS]
    assert main(["--home", str(node.home), "export", "seizure", "-o", "raw.csv", "--raw"]) == 0
    assert [_notes((tmp_path / "raw.csv").read_bytes().decode("utf-8"))[i] for i in ids] == FORMULAS
    monkeypatch.setenv("PUENTE_CSV_RAW", "true")
    assert main(["--home", str(node.home), "export", "seizure", "-o", "set.csv"]) == 0
    assert [_notes((tmp_path / "set.csv").read_bytes().decode("utf-8"))[i] for i in ids] == FORMULAS


def test_api_csv_neutralizes_formulas_unless_raw(loaded) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from puente.api.app import create_app
    from puente.api.auth import add_user, issue_token

    node, store = loaded
    ids = _plant_formulas(store)
    add_user(store, "stew", "steward", "a long enough password")
    token = issue_token(store, "stew")
    with TestClient(create_app(node, rate_limit=0)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        safe = client.get("/api/v1/records/seizure", params={"format": "csv"}, headers=headers)
        assert safe.status_code == 200
        assert [_notes(safe.text)[i] for i in ids] == ["'" + f for f in FORMULAS]
        raw = client.get("/api/v1/records/seizure", params={"format": "csv", "raw": "true"}, headers=headers)
        assert [_notes(raw.text)[i] for i in ids] == FORMULAS


def test_unknown_format_is_a_usage_error(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        export_kind(loaded[1], "seizure", "xml", tmp_path / "s.xml")
