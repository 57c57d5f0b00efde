"""The agreement document is a pydantic model (puente/share/agreement_spec.py): every key is declared, and a bad
document is refused with one line that names the key, in English and Spanish. What a valid document
normalises to (the signed bytes, the dates, the filters) did not change when the hand-written validator went."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from puente.audit.checkpoint import public_key_pem
from puente.errors import ConfigError
from puente.i18n import t
from puente.share.agreement import Agreement, canonical

KEYS = [Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in (1, 2)]


def base() -> dict[str, Any]:
    """A document as yaml.safe_load gives it (dates as datetime.date where YAML wrote them bare)."""
    return {"agreement": "us-mx", "version": 2,
            "parties": [{"node": "us-hsi", "public_key": public_key_pem(KEYS[0].public_key())},
                        {"node": "mx-fgr", "public_key": public_key_pem(KEYS[1].public_key())}],
            "purpose": "fentanyl interdiction", "handling": "TLP:AMBER", "retention_days": 365,
            "valid_from": dt.date(2020, 1, 1), "valid_until": "2099-12-31",
            "kinds": {"seizure": {"records": [{"field": "drug", "in": ["fentanyl"]}, {"field": "date", "from": "2023-06-01"}],
                                  "fields": {"date": {"transform": "truncate_date", "to": "month"}, "drug": "keep",
                                             "place": {"transform": "generalize_place", "to": "h3", "resolution": 5},
                                             "quantity_kg": {"transform": "round", "step": 0.5},
                                             "source_id": "pseudonymize"}},
                      "person": {"fields": {"given_names": "match_only"}}, "lab_site": None},
            "classes": {"name": "match_only"},
            "hits": {"min_fields": {"person": [["given_names", "birth_date"]]}, "max_hit_rate": 0.25}}


def test_a_valid_document_normalises_as_before() -> None:
    raw = base()
    agreement = Agreement(copy.deepcopy(raw), source="a.yaml")
    # the signed bytes: the document as written, onward_transfer filled in (dates print as they were written)
    assert agreement.body() == canonical({**raw, "onward_transfer": False})
    assert json.loads(agreement.body())["valid_until"] == "2099-12-31"
    assert (agreement.id, agreement.version, agreement.retention_days, agreement.onward_transfer) == (
        "us-mx", 2, 365, False)
    assert agreement.doc["valid_from"] == dt.date(2020, 1, 1) and agreement.doc["valid_until"] == dt.date(2099, 12, 31)
    assert agreement.parties["mx-fgr"] == raw["parties"][1]["public_key"]
    since = agreement.filters("seizure")[1]
    assert (since.column, since.op, since.value, since.clause) == ("date", "from", dt.date(2023, 6, 1),
                                                                  "kinds.seizure.records[1]")
    assert agreement.decide_record("seizure", {"drug": "fentanyl", "date": dt.date(2023, 5, 31)}).clause == \
        "kinds.seizure.records[1]"
    assert agreement.field_rule("seizure", "place").options == {"to": "h3", "resolution": 5}
    assert agreement.decide_field("person", "surname1").action == "match_only"  # by its class
    assert agreement.hits_terms()["max_hit_rate"] == 0.25 and agreement.filters("lab_site") == []
    assert Agreement({**copy.deepcopy(raw), "onward_transfer": True}).onward_transfer


def _set(path: str, value: Any) -> dict[str, Any]:
    doc = base()
    *parents, last = path.split(".")
    target: Any = doc
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return doc


BAD = [  # (change, words the one-line message must hold)
    (_set("colour", "red"), ["colour", "unknown key"]),
    (_set("purpose", KeyError), ["purpose", "missing"]),
    (_set("handling", "TLP:PINK"), ["handling", "TLP:AMBER"]),
    (_set("version", "2"), ["version"]),
    (_set("version", True), ["version"]),
    (_set("retention_days", -1), ["retention_days"]),
    (_set("valid_from", "first of may"), ["valid_from"]),
    (_set("valid_from", 20200101), ["valid_from"]),
    (_set("parties", [base()["parties"][0]]), ["parties"]),
    (_set("parties.1.key", "x"), ["parties", "key"]),
    (_set("parties.1.public_key", "not a key"), ["mx-fgr", "Ed25519"]),
    (_set("kinds.tractor", {}), ["tractor"]),
    (_set("kinds.seizure.notes", "keep"), ["kinds.seizure", "notes"]),
    (_set("kinds.seizure.records.0.field", "colour"), ["kinds.seizure.records[0]"]),
    (_set("kinds.seizure.records.0.not_in", ["heroin"]), ["kinds.seizure.records[0]"]),
    (_set("kinds.seizure.records.0", {"field": "drug"}), ["kinds.seizure.records[0]"]),
    (_set("kinds.seizure.records.1.from", "someday"), ["kinds.seizure.records[1].from", "someday"]),
    (_set("kinds.seizure.records.0.in", "fentanyl"), ["kinds.seizure.records[0].in"]),
    (_set("kinds.seizure.fields.colour", "keep"), ["kinds.seizure.fields.colour"]),
    (_set("kinds.seizure.fields.drug", "blur"), ["kinds.seizure.fields.drug"]),
    (_set("kinds.seizure.fields.date", {"transform": "truncate_date", "to": "year"}),
     ["kinds.seizure.fields.date", "truncate_date"]),
    (_set("kinds.seizure.fields.drug", {"transform": "truncate_date", "to": "month"}),
     ["kinds.seizure.fields.drug", "truncate_date"]),
    (_set("kinds.seizure.fields.place", {"transform": "generalize_place", "to": "h3", "resolution": 9}),
     ["kinds.seizure.fields.place", "generalize_place"]),
    (_set("kinds.seizure.fields.quantity_kg", {"transform": "round", "step": 0}),
     ["kinds.seizure.fields.quantity_kg", "round"]),
    (_set("kinds.seizure.fields.date", "pseudonymize"), ["kinds.seizure.fields.date", "pseudonymized"]),
    (_set("classes.names", "drop"), ["classes.names", "unknown data class"]),
    (_set("kinds.person.fields.given_names", "keep"), ["kinds.person.fields.given_names", "classes.name"]),
    (_set("hits.max_hit_rate", 2), ["hits.max_hit_rate"]),
    (_set("hits.key_grace_days", -1), ["hits.key_grace_days"]),
    (_set("hits.speed", 1), ["hits", "speed"]),
    (_set("hits.min_fields.person", []), ["hits.min_fields.person"]),
]


@pytest.mark.parametrize(("doc", "words"), BAD, ids=[" ".join(w) for _, w in BAD])
def test_a_bad_document_is_one_line_naming_the_key(doc: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        Agreement(doc, source="agreements/us-mx.yaml")
    exc = err.value
    assert exc.key == "bad_agreement" and exc.args_["path"] == "agreements/us-mx.yaml"
    english = t(exc.key, lang="en", **exc.args_)
    assert english.startswith("agreement agreements/us-mx.yaml is not valid: ") and "\n" not in english
    assert all(w in english for w in words), english
    assert t(exc.key, lang="es", **exc.args_).startswith("el acuerdo agreements/us-mx.yaml no es válido: ")


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as err:
        Agreement(["agreement"])  # type: ignore[arg-type]
    assert "mapping" in str(err.value.args_["error"])
