"""The one declarative data model (schema.yaml) and what derives from it.

``load_model()`` reads the schema once (cached, never at import time) and gives
:class:`Kind` objects whose ``columns()`` drive the store DDL, whose fields drive
validation and header matching, and whose labels drive the UI and exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

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

# Data classes (schema.yaml ``classes``): what a value is, whatever the kind that holds it.
DATA_CLASSES = ("name", "org_name", "identifier", "address", "contact", "free_text", "exact_location", "exact_date")


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


@dataclass(frozen=True)
class Kind:
    name: str
    label_en: str
    label_es: str
    fields: dict[str, Field]
    geometry: str | None = None  # the place field used for maps
    date_field: str | None = None
    ftm_schema: str | None = None
    require_any: tuple[str, ...] = ()  # at least one of these fields must have a value
    derive: tuple[str, ...] = ()  # derivations run at ingest, in order (puente/ingest/derive.py)

    def label(self, lang: str) -> str:
        return self.label_es if lang == "es" else self.label_en

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

    @property
    def entity_kinds(self) -> list[str]:
        return [k for k, v in self.kinds.items() if v.ftm_schema]

    @property
    def event_kinds(self) -> list[str]:
        return [k for k, v in self.kinds.items() if v.date_field and k != "seizure_aggregate"]


def _field(name: str, spec: dict[str, Any], data_class: str | None = None) -> Field:
    label = spec.get("label", {})
    return Field(
        name=name,
        type=spec["type"],
        label_en=label.get("en", name),
        label_es=label.get("es", label.get("en", name)),
        required=bool(spec.get("required", False)),
        derived=bool(spec.get("derived", False)),
        vocab=spec.get("vocab"),
        minimum=spec.get("min"),
        maximum=spec.get("max"),
        upper=bool(spec.get("upper", False)),
        aliases=tuple(spec.get("aliases", [])),
        data_class=data_class,
    )


def _classes(raw: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(kind, field) -> data class, checked: known classes, known fields, one class per field."""
    out: dict[tuple[str, str], str] = {}
    for cls, members in (raw.get("classes") or {}).items():
        if cls not in DATA_CLASSES:
            raise ValueError(f"schema.yaml: unknown data class {cls!r} (use {', '.join(DATA_CLASSES)})")
        for member in members or []:
            kind, _, fname = str(member).partition(".")
            if fname not in (raw["kinds"].get(kind) or {}).get("fields", {}) or (kind, fname) in out:
                raise ValueError(f"schema.yaml: classes.{cls}: {member} is not a field, or has two classes")
            out[(kind, fname)] = cls
    return out


@lru_cache(maxsize=1)
def load_model() -> Model:
    text = resources.files("puente.model").joinpath("schema.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    kinds = {}
    classes = _classes(raw)
    for name, spec in raw["kinds"].items():
        fields = {fname: _field(fname, fspec, classes.get((name, fname))) for fname, fspec in spec["fields"].items()}
        label = spec["label"]
        kinds[name] = Kind(
            name=name,
            label_en=label["en"],
            label_es=label["es"],
            fields=fields,
            geometry=spec.get("geometry"),
            date_field=spec.get("date_field"),
            ftm_schema=spec.get("ftm_schema"),
            require_any=tuple(spec.get("require_any", ())),
            derive=tuple(spec.get("derive", ())),
        )
    vocabularies = dict(load_vocabularies())
    vocabularies["record_kinds"] = Vocabulary(
        "record_kinds",
        {k: Term(k, v.label_en, v.label_es, {"synonyms": [v.label_en, v.label_es]}) for k, v in kinds.items()},
    )
    return Model(kinds=kinds, vocabularies=vocabularies)
