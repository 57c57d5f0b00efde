"""`puente export KIND --format csv|parquet|jsonl|geojson|ftm`: the records come back out whole,
and people, organizations and vehicles as valid FollowTheMoney entities."""

from __future__ import annotations

import csv
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
    links.write_text(json.dumps({"tipo_origen": "person", "referencia_origen": "P-1", "tipo_destino": "vehicle",
                                 "referencia_destino": "V-1", "rol": "conductor"}) + "\n", encoding="utf-8")
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


def test_unknown_format_is_a_usage_error(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        export_kind(loaded[1], "seizure", "xml", tmp_path / "s.xml")
