"""Data classes: the model says what each value is; an agreement can govern a class across every kind, and
refuses a field rule that would let a class it withholds through another kind's field (the U.S. purchaser
names that reached the Mexican node inside firearm traces while people were match-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from share_support import agreement_doc, install

from puente.errors import ConfigError
from puente.model import DATA_CLASSES, load_model
from puente.share.agreement import Agreement
from puente.share.bundle import read_manifest, read_part
from puente.share.envelope import open_envelope
from puente.share.export import export_bundle

TRACES = ("source_id,serial,make,recovery_place,recovery_date,purchaser,purchase_date,dealer_name,weapon_type\n"
          "T-1,SN1234567,COLT,\"Nogales, AZ\",03/02/2024,Walter Okonkwo,06/01/2023,Guns Galore,rifle\n"
          "T-2,SN7654321,GLOCK,\"El Paso, TX\",04/11/2024,Beatrice Vanderbilt,07/09/2023,Guns Galore,pistol\n")


def traces_kinds(**purchaser: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"serial": "keep", "make": "keep", "weapon_type": "keep"}
    fields.update(purchaser)
    return {"person": {"fields": {"nationality": "keep"}}, "firearm_trace": {"fields": fields}}


@pytest.fixture
def make_doc(make_node: Any) -> Any:
    a, b = make_node("us-hsi", "US"), make_node("mx-fgr", "MX")

    def make(kinds: dict[str, Any], classes: dict[str, Any] | None) -> dict[str, Any]:
        return doc(a, b, kinds, classes)

    return make


def doc(a: Any, b: Any, kinds: dict[str, Any], classes: dict[str, Any] | None) -> dict[str, Any]:
    d = agreement_doc(a, b, kinds)
    if classes is not None:
        d["classes"] = classes
    return d


def test_every_field_class_is_known_and_names_are_one_class() -> None:
    model = load_model()
    for kind in model.kinds.values():
        for field in kind.fields.values():
            assert field.data_class is None or field.data_class in DATA_CLASSES
    names = model.fields_of_class("name")
    assert ("firearm_trace", "purchaser") in names and ("person", "given_names") in names
    assert model.kind("vehicle").fields["vin"].data_class == "identifier"
    assert model.kind("seizure").fields["notes"].data_class == "free_text"


def test_a_field_that_reveals_a_withheld_class_is_refused_with_a_reason(make_doc: Any) -> None:
    with pytest.raises(ConfigError) as err:
        Agreement(make_doc(traces_kinds(purchaser="keep"), {"name": "match_only"}))
    message = str(err.value)
    assert "kinds.firearm_trace.fields.purchaser" in message and "classes.name" in message
    assert "match_only" in message
    for weaker in ("pseudonymize", "keep"):  # a pseudonym links the same person across bundles: not match-only
        with pytest.raises(ConfigError, match="purchaser"):
            Agreement(make_doc(traces_kinds(purchaser=weaker), {"name": "match_only"}))
    with pytest.raises(ConfigError, match="purchaser"):
        Agreement(make_doc(traces_kinds(purchaser="match_only"), {"name": "drop"}))


def test_stricter_or_coarser_field_rules_are_accepted(make_doc: Any) -> None:
    week = {"transform": "truncate_date", "to": "week"}
    month = {"transform": "truncate_date", "to": "month"}
    ok = traces_kinds(purchaser="drop", recovery_date=month)
    Agreement(make_doc(ok, {"name": "match_only", "exact_date": week}))
    with pytest.raises(ConfigError, match="recovery_date"):  # a week is finer than the class's month
        Agreement(make_doc(traces_kinds(recovery_date=week), {"exact_date": month}))
    h3 = {"transform": "generalize_place", "to": "h3", "resolution": 5}
    Agreement(make_doc(traces_kinds(recovery_place={**h3, "resolution": 3}), {"exact_location": h3}))
    with pytest.raises(ConfigError, match="recovery_place"):
        Agreement(make_doc(traces_kinds(recovery_place={**h3, "resolution": 7}), {"exact_location": h3}))


def test_class_rules_must_fit_every_field_of_the_class(make_doc: Any) -> None:
    with pytest.raises(ConfigError, match="truncate_date"):
        Agreement(make_doc(traces_kinds(), {"name": {"transform": "truncate_date", "to": "month"}}))
    with pytest.raises(ConfigError, match="unknown data class"):
        Agreement(make_doc(traces_kinds(), {"names": "drop"}))


def test_a_class_rule_governs_unlisted_fields_in_every_shared_kind(make_doc: Any) -> None:
    agreement = Agreement(make_doc(traces_kinds(), {"name": "match_only", "exact_date": "drop"}))
    decision = agreement.decide_field("firearm_trace", "purchaser")
    assert (decision.action, decision.clause) == ("match_only", "classes.name")
    assert "purchaser" in agreement.match_only_fields("firearm_trace")
    assert set(agreement.match_only_fields("person")) == {"given_names", "surname1", "surname2", "alias"}
    assert agreement.decide_field("firearm_trace", "recovery_date").action == "drop"
    assert agreement.decide_field("seizure", "date").clause.startswith("kinds.seizure.fields")  # kind not shared
    # no classes: an unlisted field is dropped, as before
    plain = Agreement(make_doc(traces_kinds(), None))
    assert plain.decide_field("firearm_trace", "purchaser").action == "drop"


def test_bundles_honour_class_rules(make_node: Any, tmp_path: Path) -> None:
    from share_support import ingest

    us, mx = make_node("us-hsi", "US"), make_node("mx-fgr", "MX")
    path = tmp_path / "traces.csv"
    path.write_text(TRACES, encoding="utf-8")
    ingest(us, path, "firearm_trace-us")
    month = {"transform": "truncate_date", "to": "month"}
    d = agreement_doc(us, mx, traces_kinds(recovery_date="keep"))
    d["classes"] = {"name": "match_only", "org_name": "drop", "exact_date": month}
    with pytest.raises(ConfigError, match="recovery_date"):  # keep is finer than the class's month
        Agreement(d)
    d["kinds"]["firearm_trace"]["fields"].pop("recovery_date")
    install(us, mx, d)
    with us.open_store() as store:
        data = export_bundle(us, store, mx.name)
    manifest, body = read_manifest(open_envelope(data).verify(us.public_key))
    assert "purchaser" in manifest["match_only"]["firearm_trace"]
    text = b"".join(bytes(body[p["offset"]: p["offset"] + p["length"]]) for p in manifest["parts"])
    assert b"Okonkwo" not in text and b"Guns Galore" not in text
    for part in manifest["parts"]:
        table = read_part(body, part)
        assert not {"purchaser", "dealer_name"} & set(table.column_names)
        if "recovery_date" in table.column_names:  # governed by the class: the month only
            assert {d.day for d in table.column("recovery_date").to_pylist()} == {1}


def test_person_address_fields_are_in_the_address_class() -> None:
    """A class rule `address: match_only` must reach the person's street, locality and postcode."""
    from puente.model import load_model

    person = load_model().kinds["person"]
    assert {f for f in ("street", "locality", "postcode") if person.fields[f].data_class == "address"} == {
        "street", "locality", "postcode"}
