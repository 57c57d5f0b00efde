"""The shape of an agreement document, checked when an agreement is read (pydantic; the style of
puente/model/spec.py).

Every key is declared: a misspelled or unknown key, a wrong type or a value out of range is refused with one
line naming the key (``kinds.seizure.fields.date: truncate_date needs a date field ...``). What depends on the
data model (record kinds, their columns and field types, data classes) is checked against it after the shape.
The document itself is kept as written (its canonical JSON is what both parties sign); :func:`normalise` only
reads the dates (``valid_from``, ``valid_until``, ``from``/``until`` filters on date columns) and fills in
``onward_transfer``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictStr, ValidationError, model_validator

from puente.audit.checkpoint import public_key_from_pem
from puente.errors import ConfigError
from puente.model import DATA_CLASSES, Kind, load_model
from puente.model.spec import problems

Transform = Literal["keep", "drop", "generalize_place", "truncate_date", "round", "pseudonymize", "match_only"]
Handling = Literal["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
TRANSFORMS: tuple[str, ...] = get_args(Transform)
HANDLING: tuple[str, ...] = get_args(Handling)
FILTER_OPS = ("in", "not_in", "from", "until")
_OP_ATTRIBUTES = {"in_": "in", "not_in": "not_in", "from_": "from", "until": "until"}  # in and from are keywords

# -- hit/no-hit terms (section ``hits``, optional) ---------------------------------------------
# min_fields: per kind, alternative sets of encoded fields a query and each of its encodings must
#   carry (the link package's defaults when a kind is not listed: a name with a date of birth or
#   an identifier); max_encodings_per_day and max_hit_rate (hits / encodings over the day, once
#   hit_rate_after encodings were answered): past either, queries are refused and flagged to the
#   steward; max_per_identity: how many distinct encodings of one identity (near-identical in every pair
#   of fields but the ones varied: one person's name under many birth dates) a partner may send in a day,
#   past which queries are refused and flagged too (puente/link/identity.py; the default is measured in
#   bench/results/linking.md); key_grace_days: how long matching keys of the superseded version stay accepted.
HITS_DEFAULTS: dict[str, Any] = {"min_fields": {}, "max_encodings_per_day": 200_000, "max_hit_rate": 0.5,
                                 "hit_rate_after": 100, "max_per_identity": 64, "key_grace_days": 7}

# How much of a value a transform lets through: keep > coarsening > pseudonym > match-only > drop.
STRICTNESS = {"keep": 0, "truncate_date": 1, "generalize_place": 1, "round": 1, "pseudonymize": 2, "match_only": 3,
               "drop": 4}


def _iso_date(value: Any) -> Any:
    """A date as YAML gives it (a date) or as text (ISO 8601); nothing else (a number is not a date)."""
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError("must be a date (YYYY-MM-DD)")


def _shorthand(value: Any) -> Any:
    """``drug: keep`` is short for ``drug: {transform: keep}``."""
    return {"transform": value} if isinstance(value, str) else value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
WholeNumber = Annotated[int, Strict(), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Party(_Strict):
    node: str
    public_key: str

    @model_validator(mode="after")
    def _ed25519(self) -> Party:
        try:
            public_key_from_pem(self.public_key)
        except (ValueError, TypeError):
            raise ValueError(f"the public key of {self.node} is not an Ed25519 PEM key") from None
        return self


class RuleSpec(_Strict):
    """What a field (or a data class) becomes in a bundle: a transform and its options."""

    transform: Transform
    to: str | None = None  # generalize_place: admin2 | h3; truncate_date: week | month
    resolution: Annotated[int, Strict()] | None = None  # generalize_place to h3: 0-8
    step: Annotated[float, Strict()] | None = None  # round: a positive step


Rule = Annotated[RuleSpec, BeforeValidator(_shorthand)]


class FilterSpec(_Strict):
    """One record filter: a column and exactly one of in, not_in, from, until."""

    field: str
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    from_: Any = Field(None, alias="from")
    until: Any = None

    @model_validator(mode="after")
    def _one_op(self) -> FilterSpec:
        if len(self.model_fields_set - {"field"}) != 1:
            raise ValueError(f"needs a column and exactly one of {', '.join(FILTER_OPS)}")
        return self

    @property
    def op(self) -> str:
        return next(op for attribute, op in _OP_ATTRIBUTES.items() if attribute in self.model_fields_set)

    @property
    def value(self) -> Any:
        return next(getattr(self, a) for a in _OP_ATTRIBUTES if a in self.model_fields_set)


class KindRules(_Strict):
    records: list[FilterSpec] | None = None
    fields: dict[str, Rule] | None = None


MinFields = Annotated[list[Annotated[list[StrictStr], Field(min_length=1)]], Field(min_length=1)]


class HitsSpec(_Strict):
    min_fields: dict[str, MinFields] | None = None
    max_encodings_per_day: WholeNumber = HITS_DEFAULTS["max_encodings_per_day"]
    max_hit_rate: Annotated[float, Strict(), Field(gt=0, le=1)] = HITS_DEFAULTS["max_hit_rate"]
    hit_rate_after: WholeNumber = HITS_DEFAULTS["hit_rate_after"]
    max_per_identity: Annotated[int, Strict(), Field(ge=1)] = HITS_DEFAULTS["max_per_identity"]
    key_grace_days: WholeNumber = HITS_DEFAULTS["key_grace_days"]


class AgreementSpec(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    agreement: str
    version: Annotated[int, Strict()]
    parties: Annotated[list[Party], Field(min_length=2, max_length=2)]
    purpose: str
    handling: Handling
    retention_days: WholeNumber
    onward_transfer: bool | None = False
    valid_from: IsoDate
    valid_until: IsoDate | None = None
    kinds: dict[str, KindRules | None]
    classes: dict[str, Rule] | None = None
    hits: HitsSpec | None = None

    @model_validator(mode="after")
    def _against_the_model(self) -> AgreementSpec:
        model = load_model()
        for name, rules in self.kinds.items():
            if name not in model.kinds:
                raise ValueError(f"kinds.{name}: unknown record kind (kinds: {', '.join(model.kinds)})")
            _check_kind(model.kinds[name], rules or KindRules())
        _check_classes(self)
        return self


def _check_kind(kind: Kind, rules: KindRules) -> None:
    columns = kind.columns()
    for i, f in enumerate(rules.records or []):
        where = f"kinds.{kind.name}.records[{i}]"
        if f.field not in columns:
            raise ValueError(f"{where}: {f.field} is not a column of {kind.name}")
        if f.op in ("from", "until") and columns[f.field] == "DATE" and isinstance(f.value, str):
            try:
                dt.date.fromisoformat(f.value)
            except ValueError:
                raise ValueError(f"{where}.{f.op}: {f.value!r} is not a date (YYYY-MM-DD)") from None
    fields = rules.fields or {}
    for name, rule in fields.items():
        if name not in kind.fields:
            raise ValueError(f"kinds.{kind.name}.fields.{name}: {kind.name} has no such field")
        _check_transform(f"kinds.{kind.name}.fields.{name}", kind.fields[name].type, rule)
        sources = kind.fields[name].sources
        if STRICTNESS[rule.transform] in (1, 2) and sources and all(
                s in fields and fields[s].transform == "keep" for s in sources):
            raise ValueError(f"kinds.{kind.name}.fields.{name} is {rule.transform}, but it is computed from "
                             f"{', '.join(sources)}, which the agreement keeps: the partner would compute it "
                             f"exactly (coarsen or drop those too, or keep {name})")
        kept = [o for o, f in kind.fields.items() if o != name and set(f.sources) & set(sources)
                and o in fields and fields[o].transform == "keep"]
        if STRICTNESS[rule.transform] in (1, 2) and sources and kept:
            raise ValueError(f"kinds.{kind.name}.fields.{name} is {rule.transform}, but {', '.join(kept)}, computed "
                             f"from the same {', '.join(sorted(set(sources) & set(kind.fields[kept[0]].sources)))}, "
                             f"is kept: the partner would compute {name} from it (coarsen or drop {', '.join(kept)} "
                             f"too, or keep {name})")


def _check_transform(where: str, ftype: str, rule: RuleSpec) -> None:
    """A transform's options, and whether it fits the type of the field it applies to."""
    transform = rule.transform
    if transform == "generalize_place":
        ok = ftype == "place" and (rule.to == "admin2" or (
            rule.to == "h3" and rule.resolution is not None and 0 <= rule.resolution <= 8))
        if not ok:
            raise ValueError(f"{where}: generalize_place needs a place field and to: admin2, or to: h3 with "
                             "resolution 0-8")
    elif transform == "truncate_date" and (ftype != "date" or rule.to not in ("week", "month")):
        raise ValueError(f"{where}: truncate_date needs a date field and to: week or month")
    elif transform == "round" and (ftype not in ("number", "integer") or rule.step is None or rule.step <= 0):
        raise ValueError(f"{where}: round needs a number field and a positive step")
    elif transform == "pseudonymize" and ftype in ("place", "date", "number", "integer"):
        raise ValueError(f"{where}: only identifiers and text can be pseudonymized (not a {ftype})")


def at_least_as_strict(rule: RuleSpec, floor: RuleSpec) -> bool:
    """Does ``rule`` reveal no more than ``floor``? Coarsenings compare by grain (month > week, lower H3
    resolution, a step that is a multiple of the class's step); admin2 and H3 do not compare."""
    mine, theirs = STRICTNESS[rule.transform], STRICTNESS[floor.transform]
    if mine != theirs or mine != 1:
        return mine >= theirs
    if rule.transform != floor.transform:
        return False
    if rule.transform == "truncate_date":
        return bool(rule.to == floor.to or rule.to == "month")
    if rule.transform == "round":
        ratio = float(rule.step or 0) / float(floor.step or 1)
        return ratio >= 1 and abs(ratio - round(ratio)) < 1e-9
    if rule.to != floor.to:
        return False
    return rule.to == "admin2" or int(rule.resolution or 0) <= int(floor.resolution or 0)


def _check_classes(spec: AgreementSpec) -> None:
    """``classes``: each rule fits every field of its class; no field rule reveals more than its class allows."""
    model = load_model()
    floors = spec.classes or {}
    for cls, rule in floors.items():
        if cls not in DATA_CLASSES:
            raise ValueError(f"classes.{cls}: unknown data class (classes: {', '.join(DATA_CLASSES)})")
        for kind, name in model.fields_of_class(cls):
            _check_transform(f"kinds.{kind}.fields.{name}", model.kinds[kind].fields[name].type, rule)
    for kind, rules in spec.kinds.items():
        for name, rule in ((rules.fields if rules else None) or {}).items():
            data_class = model.kinds[kind].fields[name].data_class
            if data_class in floors and not at_least_as_strict(rule, floors[data_class]):
                cls, floor = data_class, floors[data_class].transform
                raise ValueError(f"kinds.{kind}.fields.{name} is {rule.transform}, but it holds a {cls} and "
                                 f"classes.{cls} is {floor}: it would reveal a {cls} the agreement withholds "
                                 f"(make it {floor} or stricter)")


def _where(loc: tuple[int | str, ...]) -> str:
    """``kinds.seizure.records[0].from``: pydantic's location, list positions in brackets, the names of
    validators and union members left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "literal[")):
            out += ("." if out else "") + part
    return out


def parse(doc: Any, source: str) -> AgreementSpec:
    """The checked document; ConfigError ``bad_agreement`` (one line naming each key at fault) otherwise."""
    if not isinstance(doc, dict):
        raise ConfigError("bad_agreement", path=source or "agreement", error="not a mapping")
    try:
        return AgreementSpec.model_validate(doc)
    except ValidationError as exc:
        error = "; ".join(problems(exc, _where))
        raise ConfigError("bad_agreement", path=source or "agreement", error=error) from None


def normalise(doc: Any, source: str) -> dict[str, Any]:
    """The document as written, checked, with its dates read and ``onward_transfer`` filled in."""
    spec = parse(doc, source)
    out = dict(doc)
    out["valid_from"] = spec.valid_from
    if "valid_until" in out:
        out["valid_until"] = spec.valid_until
    out["onward_transfer"] = bool(spec.onward_transfer)
    model = load_model()
    out["kinds"] = {name: _dated_filters(model.kinds[name], rules) for name, rules in doc["kinds"].items()}
    return out


def _dated_filters(kind: Kind, rules: Any) -> Any:
    """A kind's rules with ``from``/``until`` on a date column read as dates (the rest as written)."""
    if not rules or not rules.get("records"):
        return rules
    columns = kind.columns()
    records = []
    for f in rules["records"]:
        f = dict(f)
        for op in ("from", "until"):
            if op in f and columns[f["field"]] == "DATE" and isinstance(f[op], str):
                f[op] = dt.date.fromisoformat(f[op])
        records.append(f)
    return {**rules, "records": records}
