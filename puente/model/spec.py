"""The shape of schema.yaml, checked when the model loads (pydantic).

Every key is declared here: a misspelled or unknown key is an error that names it
(``kinds.seizure.fields.date.requird: unknown key``), never silently ignored. References
between keys (a kind's ``geometry``, ``date_field``, ``caption`` slots, FtM properties,
``classes`` members) are checked against the kind's fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from puente.model.types import FIELD_TYPES

# Data classes (``classes``): what a value is, whatever the kind that holds it.
DATA_CLASSES = ("name", "org_name", "identifier", "address", "contact", "free_text", "exact_location", "exact_date")
# What a kind's records are: events happen somewhere at some time, entities (people, firms,
# vehicles) take part in them, relations join two records, statistics are published aggregates.
NATURES = ("event", "entity", "relation", "statistic")

# ``{a|b|'literal'|0:.1f}`` in a caption or an FtM template: the first non-empty of the named
# columns (or a quoted literal / a number), with an optional format spec.
SLOT = re.compile(r"\{([^{}]+)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelSpec(_Strict):
    en: str
    es: str | None = None


class FieldSpec(_Strict):
    type: str
    label: LabelSpec | None = None
    vocab: str | None = None
    required: bool = False
    derived: bool = False
    min: float | None = None
    max: float | None = None
    upper: bool = False
    aliases: list[str] = Field(default_factory=list)
    # shown to analysts only with a stated purpose (the read is logged): puente/api/policy.py
    sensitive: bool = False
    # a derived field: the fields it is computed from (agreements may not share it beside some of them
    # while withholding others, which it would give back: puente/share/agreement.py)
    sources: list[str] = Field(default_factory=list, alias="from")
    # a field naming another record (a link's end): the field of this kind that holds that record's kind;
    # a *_ref field is that record's source_id, a *_id field its id (puente/share/agreement.py, plan.py)
    refers: str | None = None

    @model_validator(mode="after")
    def _known_type(self) -> FieldSpec:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown type {self.type!r} (use {', '.join(FIELD_TYPES)})")
        if self.type in ("enum", "list") and not self.vocab:
            raise ValueError(f"a field of type {self.type} needs a vocab")
        if self.sources and not self.derived:
            raise ValueError("from: only a derived field is computed from other fields")
        return self


class FtmSpec(_Strict):
    """How a kind's records become FollowTheMoney entities (puente/export/ftm.py)."""

    schema_: str = Field(alias="schema")
    properties: dict[str, str] = Field(default_factory=dict)  # field -> FtM property
    compose: dict[str, str] = Field(default_factory=dict)  # FtM property -> template of the record's columns


class KindSpec(_Strict):
    label: LabelSpec
    fields: dict[str, FieldSpec]
    nature: Literal["event", "entity", "relation", "statistic"] | None = None
    geometry: str | None = None  # the place field used for maps
    area: str | None = None  # the place that locates a statistic's row (status), when there is no geometry
    date_field: str | None = None
    caption: str | None = None  # how one record is titled (entity pages, graphs)
    ftm: FtmSpec | None = None
    require_any: list[str] = Field(default_factory=list)
    derive: list[str] = Field(default_factory=list)  # named derivations run by ingest (puente/ingest)

    @model_validator(mode="after")
    def _references(self) -> KindSpec:
        for key in ("geometry", "area"):
            name = getattr(self, key)
            if name is not None and (name not in self.fields or self.fields[name].type != "place"):
                raise ValueError(f"{key}: {name!r} is not a place field of this kind")
        if self.date_field is not None and self.date_field not in self.fields:
            raise ValueError(f"date_field: {self.date_field!r} is not a field of this kind")
        for name in self.require_any:
            if name not in self.fields:
                raise ValueError(f"require_any: {name!r} is not a field of this kind")
        if self.ftm is not None:
            for name in self.ftm.properties:
                if name not in self.fields:
                    raise ValueError(f"ftm.properties: {name!r} is not a field of this kind")
        for fname, spec in self.fields.items():
            for source in spec.sources:
                if source not in self.fields or source == fname:
                    raise ValueError(f"fields.{fname}.from: {source!r} is not another field of this kind")
            if spec.refers is not None and (spec.refers not in self.fields
                                            or self.fields[spec.refers].vocab != "record_kinds"):
                raise ValueError(f"fields.{fname}.refers: {spec.refers!r} is not a record-kind field of this kind")
        return self


class SchemaSpec(_Strict):
    kinds: dict[str, KindSpec]
    classes: dict[Literal["name", "org_name", "identifier", "address", "contact", "free_text", "exact_location",
                          "exact_date"], list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _class_members(self) -> SchemaSpec:
        seen: set[str] = set()
        for cls, members in self.classes.items():
            for member in members:
                kind, _, fname = member.partition(".")
                if fname not in (self.kinds[kind].fields if kind in self.kinds else {}) or member in seen:
                    raise ValueError(f"classes.{cls}: {member} is not a field, or has two classes")
                seen.add(member)
        return self


def slot_names(template: str) -> list[str]:
    """The column names a template reads (literals and numbers left out)."""
    names = []
    for slot in SLOT.findall(template):
        for name in slot.partition(":")[0].split("|"):
            if name and not name.startswith("'") and not name.replace(".", "", 1).isdigit():
                names.append(name)
    return names


def _where(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the validator's name or the union member in the location; keep only the keys
    return ".".join(str(p) for p in loc if not str(p).startswith(("function-", "literal[")))


def problems(exc: ValidationError, where: Callable[[tuple[int | str, ...]], str] = _where) -> list[str]:
    """One ``key: what is wrong`` per error of a pydantic validation (also for other documents' models)."""
    out = []
    for err in exc.errors():
        key = where(err["loc"])
        if err["type"] == "extra_forbidden":
            out.append(f"{key}: unknown key")
        elif err["type"] == "missing":
            out.append(f"{key}: missing")
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            out.append(f"{key}: {message}" if key else message)
    return out


def parse(raw: Any) -> SchemaSpec:
    """schema.yaml's parsed text as a checked :class:`SchemaSpec`; a ValueError naming the key otherwise."""
    try:
        return SchemaSpec.model_validate(raw)
    except ValidationError as exc:
        raise ValueError("schema.yaml: " + "; ".join(problems(exc))) from None
