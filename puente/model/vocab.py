"""Controlled vocabularies (drugs, units, precursors, ...) with EN/ES labels and synonyms."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Term:
    code: str
    en: str
    es: str
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return self.es if lang == "es" else self.en


@dataclass
class Vocabulary:
    name: str
    terms: dict[str, Term]
    _index: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from puente.model.types import fold

        for term in self.terms.values():
            for spelling in (term.code, term.en, term.es, *term.extra.get("synonyms", [])):
                self._index.setdefault(fold(str(spelling)), term.code)
                self._index.setdefault(fold(str(spelling)).replace(" ", ""), term.code)

    def lookup(self, raw: str) -> str | None:
        """The canonical code for any spelling (case, accents and punctuation ignored)."""
        from puente.model.types import fold

        key = fold(raw)
        return self._index.get(key) or self._index.get(key.replace(" ", ""))

    def __contains__(self, code: object) -> bool:
        return code in self.terms


def _data(name: str) -> Any:
    return resources.files("puente.model").joinpath("vocab_data", name)


@lru_cache(maxsize=1)
def load_vocabularies() -> dict[str, Vocabulary]:
    raw = yaml.safe_load(_data("vocabularies.yaml").read_text(encoding="utf-8"))
    vocabs: dict[str, Vocabulary] = {}
    reference = _precursor_reference()
    for name, entries in raw.items():
        terms = {}
        for code, spec in entries.items():
            extra = {k: v for k, v in spec.items() if k not in ("en", "es")}
            if name == "precursors":
                extra.update(reference.get(code, {}))
            terms[str(code)] = Term(str(code), spec["en"], spec["es"], extra)
        vocabs[name] = Vocabulary(name, terms)
    return vocabs


def _precursor_reference() -> dict[str, dict[str, str]]:
    """CAS number, HS subheading and control status from the shipped reference table."""
    with _data("precursors_reference.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = {}
    for row in rows:
        code = row["short_name"].strip().lower().replace(" ", "_")
        out[code] = {
            "chemical_name": row["chemical_name"],
            "cas": row["cas_number"],
            "hs": row["hs_subheading"],
            "us_control": row["us_control_status"],
            "incb_table": row["incb_1988_table_I"],
        }
    return out
