"""What entity resolution compares for each kind: prepared columns, Splink comparisons,
blocking rules and the deterministic rules used to estimate the prior.

``prepare(kind, frame)`` turns store rows (or any frame with the model's field names) into
the normalized columns below; the comparisons are written as portable SQL on those
columns so the same spec runs on DuckDB and on Spark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl

from puente.link import normalize as nz

if TYPE_CHECKING:
    from splink.internals.comparison_creator import ComparisonCreator


def _lvl(sql: str, label: str) -> dict[str, str]:
    return {"sql_condition": sql, "label_for_charts": label}


def _null(col: str) -> Any:
    return cll.NullLevel(col).configure(label_for_charts=f"{col} missing")


def _none_if_empty(values: list[str]) -> list[str] | None:
    return values or None


RARE_NAME = 100  # a surname + first given name held by at most this many records is a blocking key


def _each(values: Any, fn: Callable[[Any], Any]) -> list[Any]:
    """``fn`` of every value, computed once per distinct value (names repeat: a million person
    records hold a few thousand distinct given names), missing cells passed as None."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    mapped = [fn(u) for u in uniques]
    missing = fn(None)
    return [mapped[c] if c >= 0 else missing for c in codes]


def _column(df: pd.DataFrame, name: str) -> Any:
    return df[name] if name in df.columns else [None] * len(df)


@dataclass
class Spec:
    kind: str
    prepare: Callable[[pd.DataFrame], pd.DataFrame]
    comparisons: Callable[[set[str]], list[Any]]
    blocking: list[str]
    training_blocks: list[str]
    deterministic: list[str]
    threshold: float = 0.9  # clustering threshold on match probability (few fields -> lower)
    extra: dict[str, Any] = field(default_factory=dict)


# -- person ------------------------------------------------------------------------------
def prepare_person(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"unique_id": df["id"].astype(str)})
    given = _column(df, "given_names")
    out["given_norm"] = _each(given, nz.name_key)
    out["given_first"] = _each(given, nz.first_given)
    out["given_keys"] = _each(given, lambda v: _none_if_empty(nz.given_keys(v)))
    pairs = [(None if nz.is_missing(a) else a, None if nz.is_missing(b) else b)
             for a, b in zip(_column(df, "surname1"), _column(df, "surname2"))]
    sur = _each(pairs, lambda pair: nz.split_surnames(*(pair or (None, None))))
    out["s1"] = [s[0] for s in sur]
    out["s2"] = [s[1] for s in sur]
    out["s1p"] = _each(out["s1"], lambda v: nz.phonetic(v) if v else None)
    out["s2p"] = _each(out["s2"], lambda v: nz.phonetic(v) if v else None)
    out["surname_pkey"] = ["|".join(nz.surname_keys(*s)) if s[0] and s[1] else None for s in sur]
    # A name alone (a surname with the first given name) as a blocking key, only where it is rare in this
    # table: "Vilums, Christopher" finds his record with another birth date, "Hernández, José" does not
    # make a block of thousands.
    keys = {"name_key": out["s1p"], "name_key2": out["s2p"]}
    keys = {k: [f"{a}|{g}" if a and g else None for a, g in zip(v, out["given_first"])] for k, v in keys.items()}
    counts = pd.Series(keys["name_key"] + keys["name_key2"]).value_counts()
    for col, values in keys.items():
        out[col] = [v if v is not None and counts[v] <= RARE_NAME else None for v in values]
    out["surname_all"] = [" ".join(p for p in s if p) or None for s in sur]
    dob = pd.to_datetime(pd.Series(_column(df, "birth_date"), index=df.index), errors="coerce")
    out["dob"] = dob.dt.strftime("%Y-%m-%d").where(dob.notna(), None)
    out["dob_y"] = dob.dt.strftime("%Y").where(dob.notna(), None)
    out["dob_m"] = dob.dt.strftime("%m").where(dob.notna(), None)
    out["dob_d"] = dob.dt.strftime("%d").where(dob.notna(), None)
    curp = [nz.curp_parts(v) for v in _column(df, "curp")]
    out["curp"] = [c["curp"] for c in curp]
    out["curp_stem"] = [c["curp_stem"] for c in curp]
    out["id_number"] = [nz.compact(v) for v in _column(df, "id_number")]
    out["alias"] = _each(_column(df, "alias"), nz.name_key)
    # Address (issue 14): the store's person columns (street, locality as written, postcode) or FEBRL-style
    # extras (address, suburb, postcode) when a frame comes straight from a file.
    for col, sources in _ADDRESS_SOURCES.items():
        present = [s for s in sources if s in df.columns]
        if present:
            values = df[present[0]]
            for other in present[1:]:
                values = values.where(values.notna() & (values.astype(str) != ""), df[other])
            out[col] = _each(values, nz.name_key)
    return out


# ER column <- the frame's columns, first present and non-empty wins
_ADDRESS_SOURCES = {
    "address": ("street", "address"),
    "suburb": ("locality_text", "suburb"),
    "postcode": ("postcode",),
}


def person_comparisons(cols: set[str]) -> list[Any]:
    comps: list[ComparisonCreator] = [
        cl.CustomComparison(output_column_name="given_names", comparison_levels=[
            _null("given_norm"),
            cll.ExactMatchLevel("given_norm").configure(label_for_charts="given names identical"),
            _lvl("given_first_l = given_first_r", "first given name same (nickname and spelling aware)"),
            _lvl("given_first_l = s1p_r AND s1p_l = given_first_r", "given name and first surname swapped"),
            cll.ArrayIntersectLevel("given_keys", 1).configure(label_for_charts="a given name in common"),
            cll.JaroWinklerLevel("given_norm", 0.88).configure(label_for_charts="given names similar (JW>=0.88)"),
            cll.ElseLevel(),
        ]),
        cl.CustomComparison(output_column_name="surnames", comparison_levels=[
            _null("surname_all"),
            _lvl("s1_l = s1_r AND s2_l = s2_r", "both surnames, same order"),
            _lvl("s2_l IS NULL AND s2_r IS NULL AND s1_l = s1_r", "single surname on both sides, identical"),
            _lvl("s1_l = s2_r AND s2_l = s1_r", "both surnames, swapped"),
            _lvl("s1p_l = given_first_r AND s1p_r = given_first_l AND (s2p_l = s2p_r OR (s2_l IS NULL AND s2_r IS NULL))",
                 "first surname and given name swapped, the rest agrees"),
            _lvl("surname_pkey_l = surname_pkey_r", "both surnames sound alike (any order)"),
            _lvl("(s2_l IS NULL OR s2_r IS NULL) AND (s1p_l = s1p_r OR s1p_l = s2p_r OR s2p_l = s1p_r)",
                 "one surname missing, the other agrees"),
            cll.Or(
                cll.And(cll.CustomLevel("s1p_l = s1p_r"), cll.JaroWinklerLevel("s2", 0.85)),
                cll.And(cll.CustomLevel("s2p_l = s2p_r"), cll.JaroWinklerLevel("s1", 0.85)),
            ).configure(label_for_charts="one surname agrees, the other nearly (a typo)"),
            _lvl("s1p_l = s1p_r OR s1p_l = s2p_r OR s2p_l = s1p_r OR s2p_l = s2p_r", "one surname in common"),
            cll.JaroWinklerLevel("surname_all", 0.9).configure(label_for_charts="surnames similar (JW>=0.9)"),
            cll.ElseLevel(),
        ]),
        cl.CustomComparison(output_column_name="birth_date", comparison_levels=[
            _null("dob"),
            cll.ExactMatchLevel("dob").configure(label_for_charts="birth date identical"),
            _lvl("dob_y_l = dob_y_r AND dob_m_l = dob_d_r AND dob_d_l = dob_m_r",
                 "day and month swapped (dd/mm vs mm/dd)"),
            cll.LevenshteinLevel("dob", 1).configure(label_for_charts="birth date one digit off"),
            cll.AbsoluteDateDifferenceLevel("dob", input_is_string=True, threshold=31, metric="day").configure(
                label_for_charts="birth dates within a month"),
            _lvl("dob_y_l = dob_y_r", "same birth year"),
            # what is left apart from this level, birth dates 2 years apart or more, is another person's date:
            # its own level, so that EM learns how rare it is among matches (namesakes stay apart)
            cll.AbsoluteDateDifferenceLevel("dob", input_is_string=True, threshold=730, metric="day").configure(
                label_for_charts="birth dates less than 2 years apart"),
            cll.ElseLevel(),
        ]),
    ]
    if "curp" in cols:
        comps.append(cl.CustomComparison(output_column_name="curp", comparison_levels=[
            _null("curp"),
            cll.ExactMatchLevel("curp").configure(label_for_charts="CURP identical"),
            _lvl("curp_stem_l = curp_stem_r", "CURP name letters and birth date agree"),
            cll.LevenshteinLevel("curp", 2).configure(label_for_charts="CURP within 2 edits"),
            cll.ElseLevel(),
        ]))
    if "id_number" in cols:
        comps.append(cl.CustomComparison(output_column_name="id_number", comparison_levels=[
            _null("id_number"),
            cll.ExactMatchLevel("id_number").configure(label_for_charts="identifier identical"),
            cll.LevenshteinLevel("id_number", 2).configure(label_for_charts="identifier within 2 edits"),
            cll.ElseLevel(),
        ]))
    if "alias" in cols:
        comps.append(cl.CustomComparison(output_column_name="alias", comparison_levels=[
            _null("alias"),
            cll.ExactMatchLevel("alias").configure(label_for_charts="alias identical"),
            cll.ElseLevel(),
        ]))
    if "address" in cols:
        comps.append(cl.JaroWinklerAtThresholds("address", [0.9, 0.75]))
    for col in ("postcode", "suburb"):
        if col in cols:
            comps.append(cl.LevenshteinAtThresholds(col, [1]))
    return comps


PERSON = Spec(
    kind="person",
    prepare=prepare_person,
    comparisons=person_comparisons,
    # Rules join on keys that stay rare even among a million Mexican names (a birth date, a name with
    # a birth year, a name only where few records hold it): a name alone is not (Hernández, García,
    # José, María make blocks of thousands). Each rule is an equi-join; what follows AND only filters.
    blocking=[
        # same birth date and a name roughly in common: a surname or first name that sounds alike, the first
        # three letters of either (typos keep them), or given name and surname swapped between fields
        ("l.dob = r.dob AND (l.s1p = r.s1p OR l.s1p = r.s2p OR l.s2p = r.s1p OR l.given_first = r.given_first"
         " OR substr(l.s1, 1, 3) = substr(r.s1, 1, 3) OR substr(l.given_norm, 1, 3) = substr(r.given_norm, 1, 3)"
         " OR l.given_norm = r.s1 OR l.s1 = r.given_norm)"),
        "l.s1p = r.s1p AND l.given_first = r.given_first AND l.dob_y = r.dob_y",
        "l.s1p = r.s2p AND l.given_first = r.given_first AND l.dob_y = r.dob_y",
        "l.s2p = r.s1p AND l.given_first = r.given_first AND l.dob_y = r.dob_y",
        "l.surname_pkey = r.surname_pkey AND l.dob_y = r.dob_y",
        "l.surname_pkey = r.surname_pkey AND l.given_first = r.given_first",
        "l.name_key = r.name_key",
        "l.name_key = r.name_key2",
        "l.name_key2 = r.name_key",
        # without a birth date on one side a name must do
        "l.s1p = r.s1p AND l.given_first = r.given_first AND (l.dob IS NULL OR r.dob IS NULL)",
        "l.s1p = r.s2p AND l.given_first = r.given_first AND (l.dob IS NULL OR r.dob IS NULL)",
        "l.curp_stem = r.curp_stem",
        "l.id_number = r.id_number",
    ],
    training_blocks=["l.dob = r.dob", "l.s1p = r.s1p AND l.given_first = r.given_first"],
    deterministic=["l.curp = r.curp", "l.id_number = r.id_number",
                   "l.given_first = r.given_first AND l.s1p = r.s1p AND l.dob = r.dob"],
)


# -- organization ------------------------------------------------------------------------
def prepare_organization(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"unique_id": df["id"].astype(str)})
    out["org_name"] = [nz.org_key(v) for v in df["name"]]
    out["org_first"] = [n.split()[0] if n else None for n in out["org_name"]]
    out["org_tokens"] = [_none_if_empty(sorted({nz.phonetic(w) for w in n.split()})) if n else None
                         for n in out["org_name"]]
    tax = [nz.taxid_parts(v) for v in df.get("tax_id", [None] * len(df))]
    out["taxid"] = [t["taxid"] for t in tax]
    out["taxid_stem"] = [t["taxid_stem"] for t in tax]
    out["country"] = df.get("country", pd.Series([None] * len(df))).astype(object).where(lambda s: s.notna(), None)
    return out


def organization_comparisons(cols: set[str]) -> list[Any]:
    return [
        cl.CustomComparison(output_column_name="name", comparison_levels=[
            _null("org_name"),
            cll.ExactMatchLevel("org_name").configure(label_for_charts="name identical (legal form ignored)"),
            cll.JaroWinklerLevel("org_name", 0.92).configure(label_for_charts="name similar (JW>=0.92)"),
            cll.ArrayIntersectLevel("org_tokens", 2).configure(label_for_charts="two name words in common"),
            cll.ElseLevel(),
        ]),
        cl.CustomComparison(output_column_name="tax_id", comparison_levels=[
            _null("taxid"),
            cll.ExactMatchLevel("taxid").configure(label_for_charts="RFC/EIN identical"),
            _lvl("taxid_stem_l = taxid_stem_r AND length(taxid_l) = length(taxid_r) AND length(taxid_l) > 9",
                 "RFC letters and date agree, homoclave differs"),
            cll.LevenshteinLevel("taxid", 1).configure(label_for_charts="tax id one edit off"),
            cll.ElseLevel(),
        ]),
        cl.ExactMatch("country"),
    ]


ORGANIZATION = Spec(
    kind="organization",
    prepare=prepare_organization,
    comparisons=organization_comparisons,
    blocking=["l.taxid = r.taxid", "l.org_first = r.org_first", "l.taxid_stem = r.taxid_stem"],
    training_blocks=["l.org_first = r.org_first", "l.taxid = r.taxid"],
    deterministic=["l.taxid = r.taxid", "l.org_name = r.org_name"],
    threshold=0.5,
)


# -- vehicle -----------------------------------------------------------------------------
def prepare_vehicle(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"unique_id": df["id"].astype(str)})
    out["vin"] = [nz.compact(v) for v in df.get("vin", [None] * len(df))]
    out["vin_tail"] = [v[-8:] if v and len(v) == 17 else None for v in out["vin"]]
    out["plate"] = [nz.plate_key(v) for v in df.get("plate", [None] * len(df))]
    out["plate_state"] = [nz.compact(v) for v in df.get("plate_state", [None] * len(df))]
    out["make"] = [nz.name_key(v) for v in df.get("make", [None] * len(df))]
    out["model"] = [nz.name_key(v) for v in df.get("model", [None] * len(df))]
    return out


def vehicle_comparisons(cols: set[str]) -> list[Any]:
    return [
        cl.CustomComparison(output_column_name="vin", comparison_levels=[
            _null("vin"),
            cll.ExactMatchLevel("vin").configure(label_for_charts="VIN identical"),
            cll.LevenshteinLevel("vin", 1).configure(label_for_charts="VIN one character off"),
            _lvl("vin_tail_l = vin_tail_r", "VIN serial part agrees"),
            cll.ElseLevel(),
        ]),
        cl.CustomComparison(output_column_name="plate", comparison_levels=[
            _null("plate"),
            _lvl("plate_l = plate_r AND plate_state_l = plate_state_r", "plate and issuing state identical"),
            cll.ExactMatchLevel("plate").configure(label_for_charts="plate identical"),
            cll.LevenshteinLevel("plate", 1).configure(label_for_charts="plate one character off"),
            cll.ElseLevel(),
        ]),
        cl.ExactMatch("make"),
        cl.JaroWinklerAtThresholds("model", [0.9]),
    ]


VEHICLE = Spec(
    kind="vehicle",
    prepare=prepare_vehicle,
    comparisons=vehicle_comparisons,
    blocking=["l.vin = r.vin", "l.plate = r.plate", "l.vin_tail = r.vin_tail", "l.make = r.make AND l.model = r.model"],
    training_blocks=["l.make = r.make", "l.plate = r.plate"],
    deterministic=["l.vin = r.vin", "l.plate = r.plate AND l.plate_state = r.plate_state"],
    threshold=0.5,
)


# -- firearm (traces: the gun is identified by serial together with make) -----------------
def prepare_firearm(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"unique_id": df["id"].astype(str)})
    out["serial"] = [nz.compact(v) for v in df["serial"]]
    out["serial_core"] = [s.lstrip("0") or s if s else None for s in out["serial"]]
    out["serial_tail"] = [s[-4:] if s and len(s) >= 4 else s for s in out["serial"]]
    out["make"] = [nz.org_key(v) for v in df.get("make", [None] * len(df))]
    out["model"] = [nz.compact(v) for v in df.get("model", [None] * len(df))]
    out["caliber"] = [nz.compact(v) for v in df.get("caliber", [None] * len(df))]
    return out


def firearm_comparisons(cols: set[str]) -> list[Any]:
    # A serial number identifies a gun only together with its make: two makers stamp the same serials.
    return [
        cl.CustomComparison(output_column_name="serial_and_make", comparison_levels=[
            _null("serial"),
            _lvl("serial_l = serial_r AND make_l = make_r", "serial and make identical"),
            _lvl("serial_core_l = serial_core_r AND (make_l = make_r OR make_l IS NULL OR make_r IS NULL)",
                 "serial identical without leading zeros, make agrees or missing"),
            _lvl("levenshtein(serial_l, serial_r) <= 1 AND make_l = make_r", "serial one character off, same make"),
            _lvl("serial_core_l = serial_core_r", "same serial, different make"),
            cll.ElseLevel(),
        ]),
        cl.ExactMatch("model"),
        cl.ExactMatch("caliber"),
    ]


FIREARM = Spec(
    kind="firearm_trace",
    prepare=prepare_firearm,
    comparisons=firearm_comparisons,
    blocking=["l.serial_core = r.serial_core", "l.serial_tail = r.serial_tail AND l.make = r.make"],
    training_blocks=["l.caliber = r.caliber", "l.serial_core = r.serial_core"],
    deterministic=["l.serial = r.serial AND l.make = r.make"],
    threshold=0.5,
)

SPECS: dict[str, Spec] = {s.kind: s for s in (PERSON, ORGANIZATION, VEHICLE, FIREARM)}
ALIASES = {"firearm": "firearm_trace", "people": "person", "org": "organization", "company": "organization"}


def get_spec(kind: str) -> Spec:
    from puente.errors import UsageError

    kind = ALIASES.get(kind, kind)
    if kind not in SPECS:
        raise UsageError("link_unknown_kind", kind=kind, kinds="person, organization, vehicle, firearm")
    return SPECS[kind]
