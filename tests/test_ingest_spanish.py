"""A Mexican agency's seizure file (Spanish headers, dd/mm/aaaa, decimal commas, accents or not)
ingests with profile seizure-mx, with every place resolved to the right INEGI municipality."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile

FIXTURE = Path(__file__).parent / "fixtures" / "aseguramientos_mx.csv"

# folio -> INEGI municipality (cve_completa from mx_municipios_inegi_censo2020), as written in the file
EXPECTED_PLACES = {
    "FGR-SIN-2023-0001": ("MX-25006", "Culiacán"),  # "Culiacán"
    "FGR-SIN-2023-0002": ("MX-25006", "Culiacán"),  # "Culiacan, Sin." (no accent, state abbreviation)
    "FGR-SIN-2023-0003": ("MX-25018", "Navolato"),
    "FGR-BC-2023-0004": ("MX-02004", "Tijuana"),  # "Tijuana, B.C."
    "FGR-BC-2023-0005": ("MX-02002", "Mexicali"),
    "FGR-SON-2023-0006": ("MX-26043", "Nogales"),  # "Nogales, Son." (not Nogales, Arizona)
    "FGR-SON-2023-0007": ("MX-26055", "San Luis Río Colorado"),
    "FGR-SON-2023-0008": ("MX-26030", "Hermosillo"),  # "Hermosillo, Sonora"
    "FGR-CHIH-2023-0009": ("MX-08037", "Juárez"),  # "Cd. Juárez"
    "FGR-CHIH-2023-0010": ("MX-08037", "Juárez"),  # "Juárez, Chih."
    "FGR-JAL-2023-0011": ("MX-14039", "Guadalajara"),
    "FGR-JAL-2023-0012": ("MX-14120", "Zapopan"),
    "FGR-COL-2023-0013": ("MX-06007", "Manzanillo"),
    "FGR-MICH-2023-0014": ("MX-16052", "Lázaro Cárdenas"),  # "Lázaro Cárdenas, Mich."
    "FGR-SIN-2023-0015": ("MX-25012", "Mazatlán"),
    "FGR-BC-2023-0016": ("MX-02001", "Ensenada"),  # "ensenada" (lower case)
    "FGR-SIN-2023-0017": ("MX-25011", "Guasave"),  # "GUASAVE" (capitals)
    "FGR-SIN-2023-0018": ("MX-25001", "Ahome"),  # "Ahome, Sinaloa"
    "FGR-QROO-2023-0019": ("MX-23005", "Benito Juárez"),  # "Benito Juárez, Q. Roo" (not the CDMX alcaldía)
    "FGR-SON-2023-0020": ("MX-26018", "Cajeme"),
}


@pytest.fixture
def mx_store(make_node, store_url):  # type: ignore[no-untyped-def]
    node = make_node("mx-fgr", "MX", store_url)
    with node.open_store() as store:
        yield node, store


def _rows(store, sql: str) -> dict[str, tuple]:  # type: ignore[no-untyped-def,type-arg]
    return {r[0]: r[1:] for r in store.query(sql)}


def test_spanish_file_resolves_inegi_municipalities(mx_store):  # type: ignore[no-untyped-def]
    node, store = mx_store
    report = ingest_file(node, store, FIXTURE, get_profile("seizure-mx"))
    assert (report.rows_read, report.stored, report.quarantined, report.duplicates) == (20, 20, 0, 0)
    assert report.places_resolved == report.places_total == 25  # 20 municipalities + 5 checkpoints
    assert report.unmatched_headers == []  # every Spanish header found its field
    places = _rows(store, "SELECT source_id, place_id, place_name, place_country, place_h3 FROM seizure")
    assert {k: v[:2] for k, v in places.items()} == EXPECTED_PLACES
    assert all(v[2] == "MX" and v[3] and len(v[3]) == 15 for v in places.values())  # H3 res-8 cell


def test_spanish_values_are_normalized(mx_store):  # type: ignore[no-untyped-def]
    node, store = mx_store
    ingest_file(node, store, FIXTURE, get_profile("seizure-mx"))
    rows = _rows(store, "SELECT source_id, date, drug, form, quantity, unit, quantity_kg, pill_count, purity, "
                        "pill_stamp, conveyance, agency, country FROM seizure")
    # dd/mm/aaaa: 03/01/2023 is the 3rd of January; 15.000 pastillas is fifteen thousand pills
    assert rows["FGR-SIN-2023-0001"] == (dt.date(2023, 1, 3), "fentanyl", "pills", 15000.0, "pills", 1.5, 15000,
                                         None, "M30", "passenger_vehicle", "FGR", "MX")
    # "2,5" kg and "87,5" % are decimal commas
    assert rows["FGR-SIN-2023-0002"][1:9] == ("fentanyl", "powder", 2.5, "kg", 2.5, None, 87.5, None)
    # "1.250,75" kilogramos: thousands point and decimal comma
    assert rows["FGR-SIN-2023-0003"][2:7] == ("crystal", 1250.75, "kg", 1250.75, None)
    assert rows["FGR-SIN-2023-0003"][1] == "methamphetamine"
    assert rows["FGR-SON-2023-0008"][1] == "methamphetamine"  # "Cristal" is methamphetamine
    assert rows["FGR-BC-2023-0004"][3:8] == (4200.0, "pills", 0.42, 4200, None)  # "pzas"
    assert rows["FGR-SIN-2023-0015"][0] == dt.date(2023, 10, 12)  # "12 de octubre de 2023"
    assert rows["FGR-SON-2023-0007"][1:3] == ("heroin", "paste")  # "Heroína", "Pasta"
    assert rows["FGR-JAL-2023-0012"][3:6] == (600.0, "l", 600.0)  # litros
    assert {r[1] for r in rows.values()} == {"fentanyl", "methamphetamine", "cocaine", "heroin", "marijuana"}
    ports = _rows(store, "SELECT source_id, port_text, port_id FROM seizure WHERE port_text IS NOT NULL")
    assert ports["FGR-BC-2023-0004"] == ("Garita de San Ysidro", "POE-SYS")
    assert ports["FGR-COL-2023-0013"][1] == "POE-MZO"  # the seaport of Manzanillo
    notes = store.scalar("SELECT notes FROM seizure WHERE source_id = 'FGR-SIN-2023-0001'")
    assert notes == "Pastillas azules en doble fondo"
