"""The one declarative data model (schema.yaml) and what derives from it.

``load_model()`` reads the schema once (cached, never at import time) and gives
:class:`Kind` objects whose ``columns()`` drive the store DDL, whose fields drive
validation and header matching, and whose labels drive the UI and exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from puente.model.spec import DATA_CLASSES, SLOT, FieldSpec, FtmSpec, KindSpec, parse, slot_names
from puente.model.types import SQL_TYPES, fold
from puente.model.vocab import Term, Vocabulary, load_vocabularies

# Columns a resolved place expands into: suffix -> SQL type.
PLACE_COLUMNS: dict[str, str] = {
    "text": "TEXT",  # as written in the source
    "id": "TEXT",  # gazetteer id (INEGI cvegeo, Census GEOID, port code) or NULL if unresolved
    "name": "TEXT",
    "admin1": "TEXT",  # state
    "country": "TEXT",
    "lat": "DOUBLE PRECISION",
    "lon": "DOUBLE PRECISION",
    "h3": "TEXT",
}

# Provenance kept on every record (principle: every record says where it came from).
PROVENANCE_COLUMNS: dict[str, str] = {
    "id": "TEXT",  # stable, namespaced by the owning node
    "owner_node": "TEXT",  # the node that owns the record (this node, or the partner it came from)
    "source_agency": "TEXT",
    "source_file": "TEXT",
    "source_row": "BIGINT",
    "batch_id": "TEXT",
    "ingested_at": "TIMESTAMP",
    "content_hash": "TEXT",
    "bundle_id": "TEXT",  # set on records received from a partner
    "retain_until": "DATE",  # set on records received from a partner
}

__all__ = ["DATA_CLASSES", "PLACE_COLUMNS", "PROVENANCE_COLUMNS", "Field", "Ftm", "Kind", "Model", "load_model",
           "render"]


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label_en: str
    label_es: str
    required: bool = False
    derived: bool = False
    vocab: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    upper: bool = False
    aliases: tuple[str, ...] = ()
    data_class: str | None = None  # one of DATA_CLASSES, from schema.yaml ``classes``
    sensitive: bool = False  # shown to analysts only with a stated purpose (puente/api/policy.py)
    sources: tuple[str, ...] = ()  # a derived field's inputs (schema.yaml ``from``)
    refers: str | None = None  # the field holding the kind of the record this field names (a link's end)

    def label(self, lang: str) -> str:
        return self.label_es if lang == "es" else self.label_en

    def columns(self) -> dict[str, str]:
        """Store columns for this field (a place expands into several)."""
        if self.type == "place":
            return {f"{self.name}_{suffix}": sql for suffix, sql in PLACE_COLUMNS.items()}
        return {self.name: SQL_TYPES[self.type]}

    def header_keys(self) -> set[str]:
        """Every header spelling that maps to this field (folded)."""
        names = {self.name, self.label_en, self.label_es, *self.aliases}
        return {fold(n).replace(" ", "_") for n in names}


def render(template: str, row: dict[str, Any]) -> str:
    """Fill a template's ``{a|b|'literal':fmt}`` slots from a row: each slot takes the first of its
    names with a value (a quoted literal or a number stands for itself), formatted with ``fmt``;
    a slot with no value is left empty, and runs of spaces collapse."""

    def slot(match: Any) -> str:
        names, _, fmt = match.group(1).partition(":")
        for name in names.split("|"):
            if name.startswith("'"):
                value: Any = name.strip("'")
            elif name.replace(".", "", 1).isdigit():
                value = float(name) if "." in name else int(name)
            else:
                value = row.get(name)
            if value is not None and value != "":
                return format(value, fmt) if fmt else str(value)
        return ""

    return " ".join(SLOT.sub(slot, template).split())


@dataclass(frozen=True)
class Ftm:
    """A kind's FollowTheMoney form: the schema, field -> property, and composed properties."""

    schema: str
    properties: dict[str, str] = field(default_factory=dict)
    compose: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    name: str
    label_en: str
    label_es: str
    fields: dict[str, Field]
    geometry: str | None = None  # the place field used for maps
    date_field: str | None = None
    ftm: Ftm | None = None
    require_any: tuple[str, ...] = ()  # at least one of these fields must have a value
    nature: str = "event"  # event, entity, relation or statistic (schema.yaml ``nature``)
    area: str | None = None  # the place field that locates a statistic's row
    caption: str = "{source_id|id}"  # how one record is titled
    derive: tuple[str, ...] = ()  # named derivations ingest runs for this kind

    def label(self, lang: str) -> str:
        return self.label_es if lang == "es" else self.label_en

    @property
    def ftm_schema(self) -> str | None:
        return self.ftm.schema if self.ftm else None

    @property
    def place_field(self) -> str | None:
        """The place that says where a record is: the map's geometry, else a statistic's area."""
        return self.geometry or self.area

    @property
    def sensitive_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields.values() if f.sensitive)

    def title(self, row: dict[str, Any]) -> str:
        """One record's caption (schema.yaml ``caption``); its id when the caption comes out empty."""
        return render(self.caption, row) or str(row["id"])

    @property
    def table(self) -> str:
        return self.name

    def data_columns(self) -> dict[str, str]:
        cols: dict[str, str] = {}
        for f in self.fields.values():
            cols.update(f.columns())
        return cols

    def columns(self) -> dict[str, str]:
        """All store columns: provenance first, then the data columns."""
        return {**PROVENANCE_COLUMNS, **self.data_columns()}

    def input_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if not f.derived]


@dataclass
class Model:
    kinds: dict[str, Kind]
    vocabularies: dict[str, Vocabulary]

    def kind(self, name: str) -> Kind:
        from puente.errors import UsageError

        if name not in self.kinds:
            raise UsageError("unknown_kind", kind=name, kinds=", ".join(self.kinds))
        return self.kinds[name]

    def term(self, vocab: str, code: str) -> Term:
        return self.vocabularies[vocab].terms[code]

    def fields_of_class(self, data_class: str) -> list[tuple[str, str]]:
        """(kind, field) pairs of one data class, in model order."""
        return [(k.name, f.name) for k in self.kinds.values() for f in k.fields.values() if f.data_class == data_class]

    def kinds_of(self, *natures: str) -> list[Kind]:
        """The kinds of some natures (event, entity, relation, statistic), in model order."""
        return [k for k in self.kinds.values() if k.nature in natures]

    @property
    def entity_kinds(self) -> list[str]:
        return [k for k, v in self.kinds.items() if v.ftm_schema]

    @property
    def event_kinds(self) -> list[str]:
        return [k.name for k in self.kinds_of("event")]


def _field(name: str, spec: FieldSpec, data_class: str | None = None) -> Field:
    label_en = spec.label.en if spec.label else name
    label_es = (spec.label.es or spec.label.en) if spec.label else name
    return Field(
        name=name,
        type=spec.type,
        label_en=label_en,
        label_es=label_es,
        required=spec.required,
        derived=spec.derived,
        vocab=spec.vocab,
        minimum=spec.min,
        maximum=spec.max,
        upper=spec.upper,
        aliases=tuple(spec.aliases),
        data_class=data_class,
        sensitive=spec.sensitive,
        sources=tuple(spec.sources),
        refers=spec.refers,
    )


def _nature(spec: KindSpec) -> str:
    """A kind that does not say its nature: an entity if it has an FtM form, else an event if dated."""
    if spec.nature:
        return spec.nature
    return "entity" if spec.ftm else "event" if spec.date_field else "relation"


def _kind(name: str, spec: KindSpec, classes: dict[tuple[str, str], str]) -> Kind:
    fields = {fname: _field(fname, fspec, classes.get((name, fname))) for fname, fspec in spec.fields.items()}
    ftm = _ftm(spec.ftm) if spec.ftm else None
    kind = Kind(
        name=name,
        label_en=spec.label.en,
        label_es=spec.label.es or spec.label.en,
        fields=fields,
        geometry=spec.geometry,
        date_field=spec.date_field,
        ftm=ftm,
        require_any=tuple(spec.require_any),
        nature=_nature(spec),
        area=spec.area,
        caption=spec.caption or Kind.caption,
        derive=tuple(spec.derive),
    )
    columns = set(kind.columns())
    templates = {**({"caption": spec.caption} if spec.caption else {}), **{f"ftm.compose.{p}": t for p, t in (ftm.compose if ftm else {}).items()}}
    for key, template in templates.items():
        unknown = [n for n in slot_names(template) if n not in columns]
        if unknown:
            raise ValueError(f"schema.yaml: kinds.{name}.{key}: {', '.join(unknown)} is not a column of this kind")
    return kind


def _ftm(spec: FtmSpec) -> Ftm:
    return Ftm(spec.schema_, dict(spec.properties), dict(spec.compose))


@lru_cache(maxsize=1)
def load_model() -> Model:
    text = resources.files("puente.model").joinpath("schema.yaml").read_text(encoding="utf-8")
    spec = parse(yaml.safe_load(text))
    classes: dict[tuple[str, str], str] = {}
    for cls, members in spec.classes.items():
        for member in members:
            kind_name, _, fname = member.partition(".")
            classes[(kind_name, fname)] = cls
    kinds = {name: _kind(name, kspec, classes) for name, kspec in spec.kinds.items()}
    vocabularies = dict(load_vocabularies())
    for kind in kinds.values():
        for f in kind.fields.values():
            if f.vocab and f.vocab != "record_kinds" and f.vocab not in vocabularies:
                raise ValueError(f"schema.yaml: kinds.{kind.name}.fields.{f.name}.vocab: no vocabulary {f.vocab!r}")
    vocabularies["record_kinds"] = Vocabulary(
        "record_kinds",
        {k: Term(k, v.label_en, v.label_es, {"synonyms": [v.label_en, v.label_es]}) for k, v in kinds.items()},
    )
    return Model(kinds=kinds, vocabularies=vocabularies)
