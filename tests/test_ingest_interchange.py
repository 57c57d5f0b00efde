"""Puente's interchange files (XLSX and JSON Lines) for several kinds, idempotence, corrections,
and a node's own profiles written as YAML and TOML."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from _files import write_xlsx as _xlsx
from _puente_cli import cli as run  # the CLI in this process: the process itself is not the point here

from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile, load_profiles

PEOPLE = [  # Spanish headers, as a Mexican agency would send them
    ["Folio", "Nombre(s)", "Apellido paterno", "Apellido materno", "Fecha de nacimiento", "Nacionalidad", "CURP"],
    ["P-1", "JUAN CARLOS", "DE LA CRUZ", "LÓPEZ", dt.datetime(1990, 5, 17), "México", "CULJ900517HSLRPN09"],
    ["P-2", "María José", "Gómez", None, "03/11/1985", "mexicana", None],
    ["P-3", "Ana", "Ruiz", "Soto", "31/02/1980", "MX", None],  # impossible date: stored without it (issue)
]


def _jsonl(path: Path, objects: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects), encoding="utf-8")
    return path


def test_person_xlsx_with_spanish_headers(node, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = ingest_file(node, store, _xlsx(tmp_path / "personas.xlsx", PEOPLE), get_profile("person-mx"))
    # issue 12: an invalid optional value (P-3's birth date) no longer quarantines the row
    assert (report.rows_read, report.stored, report.quarantined, report.field_issues) == (3, 3, 0, 1)
    assert report.balanced
    rows = store.query("SELECT source_id, given_names, surname1, surname2, birth_date, nationality, curp "
                       "FROM person ORDER BY source_id")
    assert rows == [
        ("P-1", "Juan Carlos", "De la Cruz", "López", dt.date(1990, 5, 17), "MX", "CULJ900517HSLRPN09"),
        ("P-2", "María José", "Gómez", None, dt.date(1985, 11, 3), "MX", None),
        ("P-3", "Ana", "Ruiz", "Soto", None, "MX", None),
    ]
    assert store.query("SELECT source_row, field, reason_key, raw FROM field_issues") == [
        (4, "birth_date", "bad_date", "31/02/1980")]
    assert store.scalar("SELECT COUNT(*) FROM quarantine") == 0


def test_vehicle_and_firearm_jsonl(node, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    vehicles = _jsonl(tmp_path / "vehicles.jsonl", [
        {"vehicle_id": "V-1", "plate": "abc-12 34", "plate_state": "bc", "plate_country": "Mexico",
         "vin": "1hgcm82633a004352", "make": "Nissan", "model": "Tsuru", "color": "blanco"},
        {"vehicle_id": "V-2", "placa": "7XYZ123", "estado_placa": "CA", "niv": "BAD-VIN"},  # bad VIN
        "not an object",
    ])
    report = ingest_file(node, store, vehicles, get_profile("vehicle-us"))
    # the bad VIN is an optional field: V-2 is stored without it; the non-object line is quarantined
    assert (report.rows_read, report.stored, report.quarantined, report.field_issues) == (3, 2, 1, 1)
    assert report.balanced
    assert store.query("SELECT plate, vin FROM vehicle WHERE source_id = 'V-2'") == [("7XYZ123", None)]
    plate, vin, extra = store.query("SELECT plate, vin, extra FROM vehicle WHERE source_id = 'V-1'")[0]
    assert (plate, vin) == ("ABC1234", "1HGCM82633A004352")
    assert json.loads(extra) == {"color": "blanco"}  # an unknown column is kept, not dropped
    traces = _jsonl(tmp_path / "traces.jsonl", [
        {"trace_id": "T-1", "serial": "ab 123-45", "make": "Colt", "type": "rifle", "recovery_place": "Culiacán, Sin.",
         "recovery_date": "2023-06-01", "purchase_date": "2022-12-01", "purchase_state": "az", "ffl": "9-86-123"},
        {"trace_id": "T-2", "serial": "Z9", "recovery_date": "2020-01-01", "purchase_date": "2021-01-01"},
    ])
    report = ingest_file(node, store, traces, get_profile("firearm_trace-us"))
    # issue 12: a purchase date after the recovery breaks a rule of an optional field, so T-2 is stored
    # without it (a field issue with the raw value), not quarantined whole
    assert (report.stored, report.quarantined, report.field_issues) == (2, 0, 1)
    row = store.query("SELECT serial, weapon_type, recovery_place_id, recovery_country, time_to_crime_days, "
                      "purchase_state FROM firearm_trace WHERE source_id = 'T-1'")[0]
    assert row == ("AB12345", "rifle", "MX-25006", "MX", 182, "AZ")
    assert store.query("SELECT purchase_date, time_to_crime_days FROM firearm_trace WHERE source_id = 'T-2'") == [
        (None, None)]
    reasons = store.query("SELECT field, reason_key, raw FROM field_issues WHERE kind = 'firearm_trace'")
    assert reasons == [("purchase_date", "recovery_before_purchase", "2021-01-01")]


def test_links_resolve_to_record_ids(node, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ingest_file(node, store, _xlsx(tmp_path / "personas.xlsx", PEOPLE), get_profile("person-mx"))
    links = _xlsx(tmp_path / "vinculos.xlsx", [
        ["Tipo de origen", "Referencia de origen", "Tipo de destino", "Referencia de destino", "Papel"],
        ["Persona", "P-1", "seizure", "FGR-SIN-2023-0001", "conductor"],
        ["person", "P-2", "seizure", "FGR-SIN-2023-0001", "pasajera?"],  # unknown role
    ])
    report = ingest_file(node, store, links, get_profile("link-mx"))
    assert (report.stored, report.quarantined) == (1, 1)
    from_id, to_id, role = store.query("SELECT from_id, to_id, role FROM link")[0]
    person_id = store.scalar("SELECT id FROM person WHERE source_id = 'P-1'")
    assert from_id == person_id and role == "driver"
    assert to_id == node.record_id("seizure", "src\x1fFGR-SIN-2023-0001")


def test_reingest_is_idempotent_and_a_changed_row_is_a_correction(node, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "personas.xlsx"
    _xlsx(path, PEOPLE)
    profile = get_profile("person-mx")
    ingest_file(node, store, path, profile)
    columns = ", ".join(f'"{c}"' for c in store.table_columns("person") if c not in ("batch_id", "ingested_at"))
    before = store.query(f"SELECT {columns} FROM person ORDER BY id")
    assert len(before) == 3
    again = ingest_file(node, store, path, profile)
    assert (again.stored, again.updated, again.duplicates, again.quarantined) == (0, 0, 3, 0)
    assert store.query(f"SELECT {columns} FROM person ORDER BY id") == before  # every stored value unchanged
    corrected = [row[:] for row in PEOPLE]
    corrected[2][3] = "Hernández"  # P-2's second surname was missing
    _xlsx(path, corrected)
    fix = ingest_file(node, store, path, profile)
    assert (fix.stored, fix.updated, fix.duplicates, fix.quarantined) == (0, 1, 2, 0)
    assert store.scalar("SELECT COUNT(*) FROM person") == 3
    assert store.scalar("SELECT surname2 FROM person WHERE source_id = 'P-2'") == "Hernández"
    assert store.scalar("SELECT COUNT(*) FROM field_issues") == 1  # one per stored record, not per ingest


def test_same_id_twice_in_one_file_is_a_conflict_not_an_update(node, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # issue 12 changed this: a later row of the same file no longer overwrites an earlier one
    path = _jsonl(tmp_path / "orgs.jsonl", [
        {"org_id": "O-1", "name": "Química Delta SA de CV", "rfc": "QDE010101AB1", "country": "MX"},
        {"org_id": "O-1", "name": "Química Delta, S.A. de C.V.", "rfc": "QDE-010101-AB1", "country": "MX"},
        {"org_id": "O-1", "name": "Química Delta SA de CV", "rfc": "QDE010101AB1", "country": "MX"},
    ])
    report = ingest_file(node, store, path, get_profile("organization-mx"))
    assert (report.rows_read, report.stored, report.updated, report.conflicts, report.duplicates) == (3, 1, 0, 1, 1)
    assert report.balanced
    assert store.query("SELECT name, tax_id FROM organization") == [("Química Delta SA de CV", "QDE010101AB1")]
    assert store.query("SELECT source_row, other_row, reason_key FROM quarantine") == [(2, 1, "identity_conflict")]


YAML_PROFILE = """\
name: sspc-sinaloa
description:
  en: "Sinaloa state police weekly seizure sheet"
  es: "Hoja semanal de aseguramientos de la policía estatal de Sinaloa"
extends: seizure-mx
agency: SSPC Sinaloa
columns:
  "Fecha de la puesta a disposición": date
  "Kgs": quantity
  "Lugar de los hechos": place
defaults:
  unit: kg
"""

TOML_PROFILE = """\
name = "hsi-tucson"
kind = "seizure"
format = "csv"
date_order = "mdy"
decimal = "point"
country = "US"
agency = "HSI Tucson"
identity = ["date", "place", "drug", "quantity"]

[description]
en = "HSI Tucson monthly roll-up"
es = "Resumen mensual de HSI Tucson"

[columns]
"Seizure Dt" = "date"
"Loc" = "place"
"Narcotic" = "drug"
"Lbs" = "quantity"

[defaults]
unit = "lb"
"""


def test_user_profiles_in_yaml_and_toml(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("mx-sin", "MX")
    (node.profiles_dir / "sinaloa.yaml").write_text(YAML_PROFILE, encoding="utf-8")
    (node.profiles_dir / "tucson.toml").write_text(TOML_PROFILE, encoding="utf-8")
    profiles = load_profiles(node.profiles_dir)
    assert profiles["sspc-sinaloa"].date_order == "dmy" and profiles["sspc-sinaloa"].kind == "seizure"
    listing = run(node.home, "profiles")
    assert listing.returncode == 0
    assert "sspc-sinaloa" in listing.stdout and "hsi-tucson" in listing.stdout and "tucson.toml" in listing.stdout
    assert "Resumen mensual de HSI Tucson" in run(node.home, "--lang", "es", "profiles").stdout

    sheet = tmp_path / "semana.csv"
    sheet.write_text("Fecha de la puesta a disposición;Lugar de los hechos;Sustancia;Kgs\n"
                     "07/08/2023;Culiacán, Sin.;cristal;12,5\n", encoding="utf-8")
    proc = run(node.home, "ingest", str(sheet), "--profile", "sspc-sinaloa")
    assert "rows read 1 = stored 1" in proc.stdout, proc.stdout + proc.stderr
    roll = tmp_path / "tucson.csv"
    roll.write_text("Seizure Dt,Loc,Narcotic,Lbs\n08/07/2023,\"Nogales, AZ\",Fentanyl,\"1,250.5\"\n", encoding="utf-8")
    proc = run(node.home, "ingest", str(roll), "--profile", "hsi-tucson")
    assert "rows read 1 = stored 1" in proc.stdout, proc.stdout + proc.stderr
    with node.open_store() as store:
        rows = store.query("SELECT source_agency, date, place_id, drug, quantity, unit, round(quantity_kg, 3) "
                           "FROM seizure ORDER BY source_agency")
    assert rows == [
        ("HSI Tucson", dt.date(2023, 8, 7), "US-CITY-AZ-NOGALES", "fentanyl", 1250.5, "lb", 567.217),
        ("SSPC Sinaloa", dt.date(2023, 8, 7), "MX-25006", "methamphetamine", 12.5, "kg", 12.5),
    ]


def test_a_broken_user_profile_gives_one_line(make_node) -> None:  # type: ignore[no-untyped-def]
    node = make_node("mx-bad", "MX")
    (node.profiles_dir / "mala.yaml").write_text("name: mala\nkind: seizure\ncolumns: {Kgs: kilos}\n", encoding="utf-8")
    proc = run(node.home, "profiles")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "mala.yaml" in proc.stderr and "columns.Kgs: 'kilos' is not a field of seizure" in proc.stderr
    assert "seizure-mx" in proc.stdout  # the other profiles keep working


def test_reported_destination_resolves_from_spanish_and_english_headers(node, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mx = tmp_path / "aseguramientos.csv"
    mx.write_text("Folio;Fecha;Lugar;Droga;Cantidad;Unidad;Destino\n"
                  "MX-1;03/11/2021;Culiacán, Sin.;fentanilo;2,5;kg;Phoenix, AZ\n"
                  "MX-2;04/11/2021;Hermosillo;fentanilo;1;kg;Nogales, Son.\n", encoding="utf-8")
    us = tmp_path / "seizures.csv"
    us.write_text("Case number,Date,Place,Drug,Quantity,Unit,destination\n"
                  "US-1,11/03/2021,\"Nogales, AZ\",fentanyl,2.5,lb,\"Memphis, TN\"\n"
                  "US-2,11/04/2021,Tucson,fentanyl,1,lb,\n", encoding="utf-8")
    for path, profile in ((mx, "seizure-mx"), (us, "seizure-us")):
        report = ingest_file(node, store, path, get_profile(profile))
        assert (report.stored, report.quarantined) == (2, 0)
    rows = store.query("SELECT source_id, destination_text, destination_id, destination_country FROM seizure "
                       "ORDER BY source_id")
    assert rows == [("MX-1", "Phoenix, AZ", "US-CITY-AZ-PHOENIX", "US"), ("MX-2", "Nogales, Son.", "MX-26043", "MX"),
                    ("US-1", "Memphis, TN", "US-CITY-TN-MEMPHIS", "US"), ("US-2", None, None, None)]
