"""The agency files the simulator writes: columns, headers, agency, and how rows get corrupted.

Each corruption is (expected quarantine reason key, field, function that spoils a row of cells).
"""

from __future__ import annotations

from puente.simulate.writer import Corruption, FileSpec


def _bad_date(fname: str) -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        row[fname] = "31/02/2021" if spec.country == "MX" else "02/31/2021"
    return ("bad_date", fname, spoil)


def _negative(fname: str) -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        row[fname] = "-" + (row[fname] or "1")
    return ("below_minimum", fname, spoil)


def _unknown(fname: str, value: str) -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        row[fname] = value
    return ("unknown_term", fname, spoil)


def _missing(fname: str) -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        row[fname] = ""
    return ("missing_value", fname, spoil)


def _set(reason: str, fname: str, value: str) -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        row[fname] = value
    return (reason, fname, spoil)


def _truncated() -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        pass  # the writer drops the last two cells
    return ("wrong_column_count", "", spoil)


def _late_purchase() -> Corruption:
    def spoil(row: dict[str, str], spec: FileSpec) -> None:
        row["purchase_date"] = "31/12/2023" if spec.country == "MX" else "12/31/2023"
    return ("recovery_before_purchase", "", spoil)


_SEIZURE = ["source_id", "date", "place", "agency", "drug", "form", "quantity", "unit", "purity", "pill_stamp",
            "conveyance", "port", "destination", "batch", "notes"]
_SEIZURE_BAD = [_bad_date("date"), _negative("quantity"), _missing("date"), _truncated()]

CBP_SEIZURES = FileSpec(
    "us/cbp_seizures.csv", "seizure", "US", "CBP",
    "CBP seizures of fentanyl at ports of entry (OFO), Border Patrol checkpoints (USBP) and airports/mail "
    "facilities; calibrated to the real CBP monthly series by area of responsibility",
    _SEIZURE, extra={"aor": "Area of Responsibility", "report_date": "Report date"},
    headers={"destination": "Destination"},
    decimals={"quantity": 4, "purity": 1},
    corruptions=_SEIZURE_BAD + [_unknown("drug", "white powder")],
)
US_INTERIOR = FileSpec(
    "us/interior_seizures.csv", "seizure", "US", "HSI/DEA/state police",
    "seizures along U.S. corridors and in destination cities (HSI, DEA, state police), including second "
    "reports of CBP events", _SEIZURE, extra={"report_date": "Report date"}, decimals={"quantity": 4, "purity": 1},
    headers={"destination": "Destination"},
    corruptions=_SEIZURE_BAD + [_unknown("drug", "unknown substance")],
)
MX_SEIZURES = FileSpec(
    "mx/aseguramientos.csv", "seizure", "MX", "SEDENA/GN/FGR/SEMAR",
    "aseguramientos de fentanilo en México (SEDENA, Guardia Nacional, FGR, SEMAR)",
    _SEIZURE, extra={"report_date": "Fecha de reporte"}, decimals={"quantity": 3, "purity": 1},
    headers={"drug": "Droga", "port": "Punto de revisión", "destination": "Destino"},
    corruptions=_SEIZURE_BAD + [_unknown("drug", "polvo blanco"), _set("bad_number", "quantity", "doce")],
)
MX_SHIPMENTS = FileSpec(
    "mx/embarques_precursores.csv", "precursor_shipment", "MX", "ANAM",
    "importaciones de precursores químicos declaradas en aduanas (ANAM)",
    ["source_id", "chemical", "quantity", "unit", "exporter", "importer", "importer_taxid", "consignee",
     "origin_country", "port", "ship_date", "arrival_date", "declared_use", "pen_reference", "status", "agency"],
    headers={"source_id": "Pedimento"}, decimals={"quantity": 2},
    corruptions=[_bad_date("arrival_date"), _negative("quantity"), _unknown("chemical", "acetona industrial"),
                 _set("bad_taxid", "importer_taxid", "XX-123"), _truncated()],
)
MX_LABS = FileSpec(
    "mx/laboratorios.csv", "lab_site", "MX", "SEDENA/FGR",
    "laboratorios clandestinos desmantelados (SEDENA, FGR)",
    ["source_id", "place", "date_found", "status", "lab_kind", "chemicals", "equipment", "capacity_kg_month",
     "agency", "evidence"], decimals={"capacity_kg_month": 1},
    corruptions=[_bad_date("date_found"), _missing("place"), _unknown("chemicals", "sosa caustica")],
)
_TRACE = ["source_id", "serial", "make", "model", "caliber", "weapon_type", "recovery_place", "recovery_date",
          "recovery_country", "dealer_ffl", "dealer_name", "purchase_state", "purchase_date", "purchaser",
          "trace_status", "agency"]
ATF_TRACES = FileSpec(
    "us/atf_traces.csv", "firearm_trace", "US", "ATF",
    "ATF eTrace results for firearms recovered in Mexico (purchase, dealer, purchaser, time to crime)",
    _TRACE, corruptions=[_missing("serial"), _bad_date("recovery_date"), _late_purchase()],
)
MX_GUNS = FileSpec(
    "mx/armas_aseguradas.csv", "firearm_trace", "MX", "FGR",
    "armas de fuego aseguradas en México y enviadas a rastreo (FGR)",
    ["source_id", "serial", "make", "model", "caliber", "weapon_type", "recovery_place", "recovery_date",
     "recovery_country", "agency"],
    corruptions=[_missing("serial"), _bad_date("recovery_date"), _truncated()],
)
_PERSON_US = ["source_id", "given_names", "surname1", "surname2", "alias", "birth_date", "nationality", "id_number"]
_PERSON_MX = ["source_id", "given_names", "surname1", "surname2", "alias", "birth_date", "nationality", "curp"]
US_PERSONS = FileSpec("us/persons.csv", "person", "US", "CBP/HSI/DEA/ATF",
                      "people named in U.S. seizures (arrested), traces (purchasers) and investigations",
                      _PERSON_US, corruptions=[_missing("given_names"), _bad_date("birth_date")])
MX_PERSONS = FileSpec("mx/personas.csv", "person", "MX", "FGR/SEDENA/GN",
                      "personas detenidas o investigadas en México", _PERSON_MX,
                      corruptions=[_missing("given_names"), _set("bad_curp", "curp", "GARC850101"),
                                   _bad_date("birth_date")])
_VEHICLE = ["source_id", "plate", "plate_state", "plate_country", "vin", "make", "model"]
US_VEHICLES = FileSpec("us/vehicles.csv", "vehicle", "US", "CBP/HSI/DEA", "vehicles in U.S. seizures", _VEHICLE,
                       corruptions=[_set("bad_vin", "vin", "1FTFW1ET5DFC1234")])
MX_VEHICLES = FileSpec("mx/vehiculos.csv", "vehicle", "MX", "SEDENA/GN/FGR", "vehículos asegurados en México",
                       _VEHICLE, corruptions=[_set("bad_vin", "vin", "3N1AB7AP5KY")])
_ORG = ["source_id", "name", "tax_id", "country", "org_type"]
US_ORGS = FileSpec("us/organizations.csv", "organization", "US", "ATF",
                   "licensed firearms dealers (FFLs) named in traces", _ORG,
                   corruptions=[_missing("name")])
MX_ORGS = FileSpec("mx/empresas.csv", "organization", "MX", "ANAM/UIF",
                   "empresas importadoras y exportadoras de precursores", _ORG,
                   corruptions=[_missing("name"), _set("bad_taxid", "tax_id", "ABC-12")])
_LINK = ["from_kind", "from_ref", "to_kind", "to_ref", "role"]
US_LINKS = FileSpec("us/links.csv", "link", "US", "CBP/HSI/DEA/ATF", "links between U.S. records", _LINK,
                    corruptions=[_unknown("role", "accomplice-ish"), _missing("from_ref")])
MX_LINKS = FileSpec("mx/vinculos.csv", "link", "MX", "FGR", "vínculos entre registros mexicanos", _LINK,
                    corruptions=[_unknown("role", "compinche"), _missing("to_ref")])

ALL = [CBP_SEIZURES, US_INTERIOR, ATF_TRACES, US_PERSONS, US_VEHICLES, US_ORGS, US_LINKS,
       MX_SEIZURES, MX_SHIPMENTS, MX_LABS, MX_GUNS, MX_PERSONS, MX_VEHICLES, MX_ORGS, MX_LINKS]
