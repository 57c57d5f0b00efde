"""schema.yaml is checked when it loads, and the per-kind knowledge it declares (captions, FtM form,
sensitive fields, natures) is what the code uses."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import pytest
import yaml
from followthemoney import model as ftm_model

from puente.model import load_model, render
from puente.model.spec import parse
from puente.model.types import COLUMN_TYPES, FIELD_TYPES, SQL_TYPES, arrow_type, ddl_type


def _raw() -> dict[str, Any]:
    text = resources.files("puente.model").joinpath("schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(ValueError) as caught:
        parse(raw)
    return str(caught.value)


def test_the_shipped_schema_parses() -> None:
    spec = parse(_raw())
    assert "seizure" in spec.kinds and spec.kinds["person"].ftm is not None


@pytest.mark.parametrize("path, key", [
    (("kinds", "seizure", "fields", "date"), "requird"),
    (("kinds", "seizure"), "geometery"),
    (("kinds", "person", "ftm"), "propertys"),
    ((), "kind"),
])
def test_an_unknown_key_is_an_error_naming_it(path: tuple[str, ...], key: str) -> None:
    raw = copy.deepcopy(_raw())
    node = raw
    for p in path:
        node = node[p]
    node[key] = True
    message = _error(raw)
    assert ".".join([*path, key]) + ": unknown key" in message


def test_bad_references_are_errors() -> None:
    raw = copy.deepcopy(_raw())
    raw["kinds"]["seizure"]["geometry"] = "drug"  # not a place
    assert "kinds.seizure: geometry: 'drug' is not a place field" in _error(raw)
    raw = copy.deepcopy(_raw())
    raw["kinds"]["seizure"]["fields"]["drug"]["type"] = "drugname"
    assert "kinds.seizure.fields.drug: unknown type 'drugname'" in _error(raw)
    raw = copy.deepcopy(_raw())
    raw["kinds"]["person"]["ftm"]["properties"]["shoe_size"] = "height"
    assert "ftm.properties: 'shoe_size' is not a field" in _error(raw)
    raw = copy.deepcopy(_raw())
    raw["classes"]["name"].append("person.shoe_size")
    assert "classes.name: person.shoe_size is not a field" in _error(raw)
    raw = copy.deepcopy(_raw())
    raw["kinds"]["seizure"]["nature"] = "happening"
    assert "kinds.seizure.nature" in _error(raw)


def test_a_kind_in_the_existing_style_is_accepted() -> None:
    """A kind written with only the keys of the first model (label, date_field, fields, derived fields)
    loads, and gets a nature from what it declares; ``derive`` is a list of names."""
    raw = copy.deepcopy(_raw())
    raw["kinds"]["statistic"] = {
        "label": {"en": "Statistic", "es": "Estadística"}, "date_field": "period", "derive": ["period_from_month"],
        "fields": {"period": {"type": "date", "derived": True, "label": {"en": "Period", "es": "Periodo"}},
                   "value": {"type": "number", "required": True, "min": 0, "label": {"en": "Value", "es": "Valor"}}}}
    spec = parse(raw)
    assert spec.kinds["statistic"].derive == ["period_from_month"]


def test_captions() -> None:
    model = load_model()
    person, seizure, lab = model.kind("person"), model.kind("seizure"), model.kind("lab_site")
    assert person.title({"id": "n:person:1", "given_names": "ANA", "surname1": "RUIZ", "surname2": None}) == "ANA RUIZ"
    assert person.title({"id": "n:person:1"}) == "n:person:1"  # no name: the id
    row = {"id": "x", "drug": "fentanyl", "quantity_kg": 2.345, "place_name": None, "place_text": "Nogales"}
    assert seizure.title(row) == "fentanyl 2.3 kg · Nogales"
    assert seizure.title({"id": "x", "drug": "heroin"}) == "heroin 0.0 kg ·"
    assert lab.title({"id": "x", "place_name": "Culiacán"}) == "lab · Culiacán"
    assert model.kind("link").title({"id": "n:link:9"}) == "n:link:9"
    assert render("{a|b|'z'}", {"b": ""}) == "z"


def test_sensitive_fields_are_declared_in_the_model() -> None:
    model = load_model()
    declared = {(k.name, f) for k in model.kinds.values() for f in k.sensitive_fields}
    assert declared == {("person", "curp"), ("person", "id_number"), ("person", "birth_date"), ("person", "street"),
                        ("person", "postcode"), ("organization", "tax_id"), ("precursor_shipment", "importer_taxid"),
                        ("firearm_trace", "purchaser"), ("vehicle", "vin")}


def test_natures() -> None:
    model = load_model()
    assert model.event_kinds == ["seizure", "precursor_shipment", "lab_site", "firearm_trace"]
    assert model.entity_kinds == ["person", "organization", "vehicle"]
    assert [k.name for k in model.kinds_of("statistic")] == ["seizure_aggregate", "statistic"]
    assert model.kind("seizure_aggregate").place_field == "aor_place"
    assert model.kind("statistic").place_field == "place"


def test_ftm_forms_name_real_schemata_and_properties() -> None:
    for kind in load_model().kinds.values():
        if kind.ftm is None:
            continue
        schema = ftm_model.get(kind.ftm.schema)
        assert schema is not None, kind.ftm.schema
        for prop in [*kind.ftm.properties.values(), *kind.ftm.compose]:
            assert schema.get(prop) is not None, (kind.name, prop)
        for fname, prop in kind.ftm.properties.items():  # the field's value fits the property
            ftm_type = FIELD_TYPES[kind.fields[fname].type].ftm
            assert schema.get(prop).type.name in (ftm_type, "string", "name", "identifier", "text"), (fname, prop)


def test_one_type_table() -> None:
    import pyarrow as pa

    assert SQL_TYPES["number"] == "DOUBLE PRECISION" and FIELD_TYPES["place"].sql is None
    assert ddl_type("DOUBLE PRECISION", "duckdb") == "DOUBLE"
    assert ddl_type("DOUBLE PRECISION", "postgres") == "DOUBLE PRECISION"
    assert arrow_type("TIMESTAMP") == pa.timestamp("us") and arrow_type("INTEGER") == pa.int32()
    for kind in load_model().kinds.values():
        assert set(kind.columns().values()) <= set(COLUMN_TYPES)
