"""Turn one raw row into a clean record of a kind, or into reasons it was rejected.

Headers are matched to model fields once per file (explicit profile columns first,
then field names, English/Spanish labels and aliases, accents and case ignored).
Columns that match no field are kept in the record's ``extra`` JSON, so nothing is lost.

Field-level rejection: an invalid value of a *required* field (or a missing one, or a kind's
``require_any`` group left empty) rejects the row; an invalid value of an *optional* field is
set to NULL and reported as an issue (field, reason, raw text) that the pipeline stores in
``field_issues`` next to the record. A profile with ``strict: true`` rejects such rows instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from puente.geo.gazetteer import Gazetteer
from puente.i18n import t
from puente.ingest.derive import DeriveContext, derivations
from puente.ingest.profile import Profile
from puente.ingest.values import clean_value
from puente.model import Field, Kind, Model
from puente.model.types import CleanContext, Invalid, canonical_map, fold


@dataclass
class Rejection:
    field: str
    key: str
    args: dict[str, Any]
    raw: Any = None  # the value as read (kept for a field issue)

    def text(self, lang: str) -> str:
        return f"{self.field}: {t(self.key, lang=lang, **self.args)}" if self.field else t(self.key, lang=lang, **self.args)


def match_headers(kind: Kind, profile: Profile, headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """header -> field name, and the headers that match nothing (kept as extra).

    Several headers may name one field (a JSON Lines file where rows spell keys differently,
    or "Municipio" and "Localidad" in one sheet): the row's first non-empty one is used and the
    others' values are kept in ``extra``, so nothing is lost."""
    by_key: dict[str, str] = {}
    for f in kind.input_fields():
        for key in f.header_keys():
            by_key.setdefault(key, f.name)
    mapping: dict[str, str] = {}
    extra: list[str] = []
    explicit = {fold(h).replace(" ", "_"): fname for h, fname in profile.columns.items()}
    for header in headers:
        key = fold(header).replace(" ", "_")
        fname = explicit.get(key) or by_key.get(key)
        if fname:
            mapping[header] = fname
        else:
            extra.append(header)
    return mapping, extra


_MISS = object()
_CACHE_LIMIT = 200_000  # distinct raw values remembered per field before the cache is reset


class RowCleaner:
    """Cleans rows of one file. Each field's cleaned value is cached per distinct raw value
    (a file repeats the same drug, unit, place and date spellings many times), so the cost is
    paid once per distinct string, not once per row."""

    def __init__(self, model: Model, kind: Kind, profile: Profile, gazetteer: Gazetteer,
                 headers: list[str], record_id: Any) -> None:
        self.model = model
        self.kind = kind
        self.profile = profile
        self.gazetteer = gazetteer
        self.record_id = record_id
        self.ctx = CleanContext(date_order=profile.date_order, decimal=profile.decimal,
                                country=profile.country, date_format=profile.date_format,
                                vocabularies=model.vocabularies)
        self.strict = profile.strict
        self._any_of = [f"{n}_text" if kind.fields[n].type == "place" else n for n in kind.require_any]
        self.fields = kind.input_fields()
        self._cache: dict[str, dict[Any, Any]] = {f: {} for f in kind.fields}
        self._scalar: dict[str, dict[str, Any]] = {f: {} for f in kind.fields}  # raw text -> cleaned value
        self._plain = {f.name for f in self.fields if f.type == "text" and not f.upper}
        self._uncached: set[str] = set()  # fields whose values rarely repeat (case numbers, quantities)
        self._misses: dict[str, int] = dict.fromkeys(kind.fields, 0)
        self._units = model.vocabularies["units"].terms
        self._gazetteer_countries = {p.country for p in gazetteer.places.values()}
        self._empty = dict.fromkeys(kind.data_columns())
        self.derivations = derivations(kind.derive)
        # what identifies a record: the profile's fields, else a derivation's (a link's ends and role)
        self.identity_fields: tuple[str, ...] = tuple(profile.identity) or next(
            (d.identity for d in self.derivations if d.identity), ())
        self.identity_label = ", ".join(profile.identity) or next(
            (d.identity_label for d in self.derivations if d.identity), "source_id")
        self.set_headers(headers)

    def set_headers(self, headers: list[str]) -> None:
        self.mapping, self.extra_headers = match_headers(self.kind, self.profile, headers)
        by_field: dict[str, list[str]] = {}
        for header, fname in self.mapping.items():
            by_field.setdefault(fname, []).append(header)
        # (field, the first header naming it, further headers naming it, default from the profile)
        self._plan = [(f, *self._headers_of(by_field, f.name), self.profile.defaults.get(f.name))
                      for f in self.fields]
        self._country_header = by_field.get("country", [None])[0]
        # columns kept under a key of a map field (profile ``columns: {Citizenship: dimensions.citizenship}``)
        self._dims = [(header, *fname.split(".", 1)) for header, fname in self.mapping.items() if "." in fname]
        self._header_of = {fname: headers[0] for fname, headers in by_field.items()}

    @staticmethod
    def _headers_of(by_field: dict[str, list[str]], name: str) -> tuple[str | None, tuple[str, ...]]:
        headers = by_field.get(name, [])
        return (headers[0] if headers else None), tuple(headers[1:])

    def missing_required(self) -> list[str]:
        """Required fields that no header provides and no default fills."""
        present = set(self.mapping.values()) | set(self.profile.defaults)
        missing = [f.name for f in self.fields if f.required and f.name not in present]
        if self.kind.require_any and not present & set(self.kind.require_any):
            missing.append(" | ".join(self.kind.require_any))
        return missing

    # -- one row -----------------------------------------------------------------------
    def clean(self, values: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Rejection], list[Rejection]]:
        """(record, rejections, issues): record is None when the row is rejected; issues are the
        optional fields set to NULL because their value was invalid."""
        country = self.row_country(values)
        record = self._empty.copy()
        errors: list[Rejection] = []
        issues: list[Rejection] = []
        scalars = self._scalar
        plain = self._plain
        uncached = self._uncached
        spare: dict[str, Any] = {}
        for f, header, more, default in self._plan:
            value = values.get(header) if header is not None else None
            if more:
                value = self._first_of(values, header, more, value, spare)
            if value is None or value == "" or (value.__class__ is str and value.isspace()):
                value = default
                if value is None:
                    if f.required:
                        errors.append(Rejection(f.name, "missing_value", {}))
                    continue
            name = f.name
            if name in plain and value.__class__ is str:  # free text: nothing to look up
                record[name] = " ".join(value.split())
                continue
            # fast path: a single-column value whose raw text was cleaned before in this file
            hit = scalars[name].get(value, _MISS) if value.__class__ is str else _MISS
            if hit is not _MISS:
                record[name] = hit
                continue
            try:
                cleaned = self._cached(f, value, country) if name not in uncached else self._clean_field(
                    f, value, country)
            except Invalid as exc:
                (errors if f.required or self.strict else issues).append(Rejection(name, exc.key, exc.args_, value))
                continue
            record.update(cleaned)
            if f.type != "place" and value.__class__ is str and name not in uncached:
                self._remember(name, value, cleaned[name])
        if self._dims:
            self._dimensions(record, values)
        if self._any_of and all(record.get(n) is None for n in self._any_of):
            errors.append(Rejection(", ".join(self.kind.require_any), "missing_any", {
                "fields": ", ".join(self.kind.require_any)}))
        if errors or (issues and self.strict):
            return None, errors + issues, []
        try:
            self._derive(record, country, values, issues)
        except Invalid as exc:
            return None, [Rejection("", exc.key, exc.args_)], []
        if issues and self.strict:
            return None, issues, []
        extra = {h: values.get(h) for h in self.extra_headers if values.get(h) not in (None, "")}
        extra.update(spare)
        record["extra"] = json.dumps(extra, ensure_ascii=False, default=str) if extra else None
        return record, [], issues

    def _dimensions(self, record: dict[str, Any], values: dict[str, Any]) -> None:
        """Columns mapped to ``<map field>.<key>`` join that field's map (over a map column's keys)."""
        extra: dict[str, dict[str, Any]] = {}
        for header, fname, key in self._dims:
            value = values.get(header)
            if value not in (None, ""):
                extra.setdefault(fname, {})[key] = value
        for fname, more in extra.items():
            base = json.loads(record[fname]) if record.get(fname) else {}
            record[fname] = canonical_map({**base, **more})

    # -- one value (the columnar path cleans each distinct value of a column once) ---------------
    def row_country(self, values: dict[str, Any]) -> str | None:
        """The row's country for places and derivations: its country column when that cleans, else
        the profile's (as :meth:`clean` computes it)."""
        country = self.profile.country
        if self._country_header is not None:
            raw_country = values.get(self._country_header)
            if raw_country not in (None, ""):
                try:
                    country = self._cached(self.kind.fields["country"], raw_country, None).get("country", country)
                except Invalid:
                    pass
        return country

    def field_outcome(self, f: Field, value: Any, default: Any, country: str | None) -> tuple[
            dict[str, Any], Rejection | None, Rejection | None]:
        """(cleaned columns, error, issue) of one raw value of one field, as :meth:`clean` decides
        them: a blank value takes the default; an invalid one is an error when the field is required
        (or the profile strict), else an issue (the value is set to NULL)."""
        if value is None or value == "" or (value.__class__ is str and value.isspace()):
            value = default
            if value is None:
                return {}, (Rejection(f.name, "missing_value", {}) if f.required else None), None
        name = f.name
        if name in self._plain and value.__class__ is str:
            return {name: " ".join(value.split())}, None, None
        try:
            cleaned = self._clean_field(f, value, country)
        except Invalid as exc:
            rejection = Rejection(name, exc.key, exc.args_, value)
            return ({}, rejection, None) if f.required or self.strict else ({}, None, rejection)
        return cleaned, None, None

    def _remember(self, name: str, raw: str, cleaned: Any) -> None:
        """Cache a cleaned value; a field whose first 20,000 values were all new stops being cached."""
        cache = self._scalar[name]
        self._misses[name] += 1
        if self._misses[name] == 20_000 and len(cache) >= 19_000:
            self._uncached.add(name)
            cache.clear()
            self._cache[name].clear()
            return
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[raw] = cleaned

    @staticmethod
    def _first_of(values: dict[str, Any], header: str | None, more: tuple[str, ...], value: Any,
                  spare: dict[str, Any]) -> Any:
        """The first non-empty of several headers naming one field; the others go to ``spare``."""
        for h in (header, *more):
            v = values.get(h) if h is not None else None
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                value = v
            elif v is not value and h is not None:
                spare[h] = v
        return value

    def _cached(self, f: Field, value: Any, country: str | None) -> dict[str, Any]:
        cache = self._cache[f.name]
        try:
            key = (value, country) if f.type == "place" else value
            hit = cache.get(key, _MISS)
        except TypeError:  # an unhashable JSON value (list, object): clean it uncached
            return self._clean_field(f, value, country)
        if hit is _MISS:
            try:
                hit = self._clean_field(f, value, country)
            except Invalid as exc:
                hit = exc
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = hit
        if isinstance(hit, Invalid):
            raise hit
        return hit  # type: ignore[no-any-return]

    def _clean_field(self, f: Field, value: Any, country: str | None) -> dict[str, Any]:
        if f.type == "place":
            return self._place(f, value, country)
        return {f.name: clean_value(f, value, self.ctx)}

    def _place(self, f: Field, value: Any, country: str | None) -> dict[str, Any]:
        text = " ".join(str(value).split())
        # a place of a country the gazetteer does not cover (FEBRL's Australia) keeps its text only:
        # "Windsor" there is not Windsor County, Vermont
        covered = country is None or country in self._gazetteer_countries
        place = self.gazetteer.resolve(text, country, "port" if f.name == "port" else "place") if covered else None
        p = f.name
        if place is None:
            return {f"{p}_text": text, f"{p}_id": None, f"{p}_name": None, f"{p}_admin1": None,
                    f"{p}_country": None, f"{p}_lat": None, f"{p}_lon": None, f"{p}_h3": None}
        return {f"{p}_text": text, f"{p}_id": place.id, f"{p}_name": place.name, f"{p}_admin1": place.admin1,
                f"{p}_country": place.country, f"{p}_lat": place.lat, f"{p}_lon": place.lon, f"{p}_h3": place.h3}

    # -- derived fields ------------------------------------------------------------------
    def derive_context(self, country: str | None, raw: Callable[[str], Any]) -> DeriveContext:
        return DeriveContext(country=country, units=self._units, place=self.resolve_place,
                             record_id=self.record_id, raw=raw)

    def resolve_place(self, name: str, value: Any, country: str | None) -> dict[str, Any]:
        return self._cached(self.kind.fields[name], value, country)

    def _derive(self, r: dict[str, Any], country: str | None, values: dict[str, Any],
                issues: list[Rejection]) -> None:
        """The kind's derivations (schema.yaml ``derive``). A rule broken by an optional field's
        value nulls that field (an issue); an :class:`Invalid` rejects the row."""
        def raw(name: str) -> Any:
            header = self._header_of.get(name)
            return values.get(header) if header else None

        ctx = self.derive_context(country, raw)
        ctx.issues = issues
        for d in self.derivations:
            d.fn(r, ctx)

    def identity(self, record: dict[str, Any], content_hash: str) -> str:
        fields = self.identity_fields
        if fields:
            return "\x1f".join(str(record.get(f, record.get(f"{f}_text"))) for f in fields)
        if record.get("source_id"):
            return "src\x1f" + str(record["source_id"])
        return "hash\x1f" + content_hash


def content_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the cleaned values in model order (the record's columns come from the model,
    so the order is fixed); ``repr`` keeps None, '' and types apart."""
    canonical = "\x1f".join(map(repr, record.values()))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
