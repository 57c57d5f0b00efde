"""Ingest profiles: data files (YAML or TOML) that say how to read one source's files.

    name: cbp-seizure-stats
    description: {en: ..., es: ...}
    kind: seizure_aggregate          # the record kind rows become
    format: csv                      # csv | xlsx | jsonl | auto (by file extension)
    delimiter: "|"                   # csv only: , ; | or a tab; auto sniffs the header line
    date_order: mdy                  # dmy for Mexican sources, mdy for U.S., auto
    date_format: "%Y%m%d"            # an explicit strptime format; then only it is accepted for dates
    decimal: point                   # comma for Mexican sources, point, auto
    agency: CBP                      # provenance: the agency that produced the file
    country: US                      # default country (ISO2) for places and the country field
    columns: {"Sum Qty (lbs)": pounds}   # explicit header -> field (others matched by label/alias);
                                     # or -> dimensions.<key>: kept under that key of a map field
    defaults: {unit: lb}             # values for fields missing from the file
    identity: [fiscal_year, month]   # fields that identify a record (default: source_id, else content)
    strict: false                    # true: an invalid optional value rejects the whole row
    extends: seizure-mx              # start from another profile: its settings, with ``columns``
                                     # and ``defaults`` merged key by key (this profile's win)
    melt:                            # unpivot a wide file before mapping (puente/ingest/melt.py)
      columns: {"Big Bend": Big Bend Sector}   # wide columns (a list, or column -> value written)
      into: [sector, value]          # the new columns: the melted column's name, and its cell
      keep_empty: false              # an empty cell is no row (default) or a row

Built-in profiles live in puente/ingest/profiles/; a node's own in <home>/profiles/.
A file may hold one profile, or a list under ``profiles:``.

Every profile is checked when it is loaded (a pydantic model for the keys and their types, then
the model: the kind, the fields named by ``columns`` and ``identity``, and each default cleaned
as a value of its field). An error names the file, the profile and the key. A broken profile (or
an unreadable file) is reported and skipped; the other profiles keep working.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from puente.errors import ConfigError, UsageError
from puente.ingest.melt import MeltSpec
from puente.ingest.values import clean_value
from puente.model import Kind, load_model
from puente.model.types import CleanContext, Invalid, clean_country, fold


class MeltModel(BaseModel):
    """``melt``: which wide columns become rows, and the two columns they become."""

    model_config = ConfigDict(extra="forbid", strict=True)

    columns: list[str] | dict[str, str]
    into: list[str]
    keep_empty: bool = False

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        names = list(value)
        if not names:
            raise ValueError("name at least one column to melt")
        if any(not str(n).strip() for n in names):
            raise ValueError("a column name is empty")
        if len(set(names)) != len(names):
            raise ValueError("a column is named twice")
        if isinstance(value, dict) and any(not str(v).strip() for v in value.values()):
            raise ValueError("a column maps to an empty value")
        return value

    @field_validator("into")
    @classmethod
    def _into(cls, value: list[str]) -> list[str]:
        if len(value) != 2 or len({fold(v) for v in value}) != 2 or not all(v.strip() for v in value):
            raise ValueError("must be two different column names: [name column, value column]")
        return value

    def spec(self) -> MeltSpec:
        columns = dict(self.columns) if isinstance(self.columns, dict) else {c: c for c in self.columns}
        return MeltSpec(columns=columns, into=(self.into[0], self.into[1]), keep_empty=self.keep_empty)


class ProfileSpec(BaseModel):
    """The keys a profile may have, and their types (after ``extends`` is applied)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    kind: str
    description: dict[str, str] = {}
    format: Literal["auto", "csv", "xlsx", "jsonl"] = "auto"
    date_order: Literal["auto", "dmy", "mdy"] = "auto"
    date_format: str | None = None
    decimal: Literal["auto", "point", "comma"] = "auto"
    agency: str | None = None
    country: str | None = None
    columns: dict[str, str] = {}
    defaults: dict[str, str | int | float | bool | dt.date] = {}
    identity: list[str] = []
    encoding: str = "auto"
    delimiter: str = "auto"
    strict: bool = False
    melt: MeltModel | None = None


_MERGED = ("columns", "defaults")  # ``extends`` merges these key by key; other keys are replaced


@dataclass
class Profile:
    name: str
    kind: str
    description: dict[str, str] = field(default_factory=dict)
    format: str = "auto"
    date_order: str = "auto"
    date_format: str | None = None
    decimal: str = "auto"
    agency: str | None = None
    country: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    identity: list[str] = field(default_factory=list)
    encoding: str = "auto"
    delimiter: str = "auto"
    strict: bool = False
    melt: MeltSpec | None = None
    origin: str = "built-in"

    def describe(self, lang: str) -> str:
        return self.description.get(lang) or self.description.get("en", "")

    def context(self) -> CleanContext:
        return CleanContext(date_order=self.date_order, decimal=self.decimal, country=self.country,
                            date_format=self.date_format, vocabularies=load_model().vocabularies)


def _parse(path: Path, text: str) -> list[Any]:
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: a date that does not exist
        raise ConfigError("bad_profile_file", path=str(path), error=str(exc).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError("bad_profile_file", path=str(path), error="not a mapping")
    if "profiles" in data:
        if not isinstance(data["profiles"], list):
            raise ConfigError("bad_profile_file", path=str(path), error="'profiles' is not a list")
        return list(data["profiles"])
    return [data]


def _error(path: Path, profile: str, key: str, error: str) -> ConfigError:
    return ConfigError("bad_profile", path=str(path), profile=profile, entry=key, error=error)


def _build(spec: Any, path: Path, origin: str, known: dict[str, Profile]) -> Profile:
    if not isinstance(spec, dict):
        raise _error(path, "?", "-", "a profile must be a mapping")
    name = str(spec.get("name", "?"))
    merged: dict[str, Any] = {k: v for k, v in spec.items() if k != "extends"}
    if "extends" in spec:
        parent = known.get(str(spec["extends"]))
        if parent is None:
            raise _error(path, name, "extends", f"unknown profile '{spec['extends']}' (it must be loaded before)")
        base = {k: getattr(parent, k) for k in ProfileSpec.model_fields}
        if parent.melt is not None:
            base["melt"] = {"columns": dict(parent.melt.columns), "into": list(parent.melt.into),
                            "keep_empty": parent.melt.keep_empty}
        merged = {**base, **merged}
        for key in _MERGED:
            if isinstance(spec.get(key), dict):
                merged[key] = {**getattr(parent, key), **spec[key]}
    if isinstance(merged.get("columns"), dict):
        merged["columns"] = {str(k): v for k, v in merged["columns"].items()}
    melt = merged.get("melt")
    if isinstance(melt, dict) and isinstance(melt.get("columns"), dict | list):  # YAML reads `2019:` as a number
        cols = melt["columns"]
        merged["melt"] = {**melt, "columns": {str(k): v for k, v in cols.items()} if isinstance(cols, dict)
                          else [str(c) if isinstance(c, int) else c for c in cols]}
    try:
        checked = ProfileSpec.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "-"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise _error(path, name, key, message) from None
    values = checked.model_dump(exclude={"melt"})
    profile = Profile(origin=origin, melt=checked.melt.spec() if checked.melt else None, **values)
    _check_against_model(profile, path)
    return profile


def _check_against_model(profile: Profile, path: Path) -> None:
    """The fields a profile names exist in its kind, and its defaults are valid values."""
    model = load_model()
    if profile.kind not in model.kinds:
        raise _error(path, profile.name, "kind", f"unknown kind '{profile.kind}' (kinds: {', '.join(model.kinds)})")
    kind = model.kinds[profile.kind]
    inputs = {f.name: f for f in kind.input_fields()}
    for header, fname in profile.columns.items():
        if fname not in inputs and not _is_dimension(kind, fname):
            raise _error(path, profile.name, f"columns.{header}", f"'{fname}' is not a field of {kind.name}")
    if profile.melt is not None:
        _check_melt(profile, kind, path)
    for fname in profile.identity:
        if fname not in kind.fields:
            raise _error(path, profile.name, "identity", f"'{fname}' is not a field of {kind.name}")
    if profile.date_format is not None:
        probe = dt.date(2001, 2, 3)
        try:
            ok = dt.datetime.strptime(probe.strftime(profile.date_format), profile.date_format).date() == probe
        except ValueError:
            ok = False
        if not ok:
            raise _error(path, profile.name, "date_format",
                         f"'{profile.date_format}' is not a date format with year, month and day (e.g. %Y%m%d)")
    ctx = profile.context()
    if profile.country is not None:
        try:
            clean_country(profile.country, ctx)
        except Invalid as exc:
            raise _error(path, profile.name, "country", _reason(exc)) from None
    for fname, value in profile.defaults.items():
        if fname not in inputs:
            raise _error(path, profile.name, f"defaults.{fname}", f"'{fname}' is not a field of {kind.name}")
        try:
            clean_value(inputs[fname], value, ctx)
        except Invalid as exc:
            raise _error(path, profile.name, f"defaults.{fname}", _reason(exc)) from None


def _is_dimension(kind: Kind, target: str) -> bool:
    """``dimensions.citizenship``: a column kept under a key of a map field (a statistic's dimensions)."""
    fname, dot, key = target.partition(".")
    f = kind.fields.get(fname)
    return bool(dot and key.strip() and f is not None and f.type == "map" and not f.derived)


def _check_melt(profile: Profile, kind: Kind, path: Path) -> None:
    """Each ``into`` column must reach a field: through ``columns``, or a field's name, label or alias."""
    assert profile.melt is not None
    explicit = {fold(h).replace(" ", "_") for h in profile.columns}
    known = {key for f in kind.input_fields() for key in f.header_keys()}
    for name in profile.melt.into:
        key = fold(name).replace(" ", "_")
        if key not in explicit and key not in known:
            raise _error(path, profile.name, "melt.into",
                         f"'{name}' matches no field of {kind.name} (map it in columns, e.g. '{name}: place')")


def _reason(exc: Invalid) -> str:
    from puente.i18n import t

    return t(exc.key, **exc.args_)


@dataclass
class Loaded:
    """The profiles that loaded, and one error per broken profile or file (each names its file)."""

    profiles: dict[str, Profile]
    errors: list[ConfigError]
    broken: dict[str, ConfigError]  # profile name -> why it did not load


def load_all(user_dir: Path | None = None) -> Loaded:
    profiles: dict[str, Profile] = {}
    errors: list[ConfigError] = []
    broken: dict[str, ConfigError] = {}
    sources: list[tuple[Path, str, str]] = []
    folder = resources.files("puente.ingest").joinpath("profiles")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml", ".toml")):
            sources.append((Path("puente/ingest/profiles") / entry.name, entry.read_text(encoding="utf-8"),
                            "built-in"))
    if user_dir and user_dir.is_dir():
        for path in sorted(user_dir.iterdir()):
            if path.suffix in (".yaml", ".yml", ".toml"):
                try:
                    sources.append((path, path.read_text(encoding="utf-8"), str(path)))
                except (OSError, UnicodeDecodeError) as exc:
                    errors.append(ConfigError("bad_profile_file", path=str(path), error=str(exc)))
    for path, text, origin in sources:
        try:
            specs = _parse(path, text)
        except ConfigError as exc:
            errors.append(exc)
            continue
        for spec in specs:
            try:
                profile = _build(spec, path, origin, profiles)
            except ConfigError as exc:
                errors.append(exc)
                if isinstance(spec, dict) and "name" in spec:
                    broken[str(spec["name"])] = exc
                continue
            profiles[profile.name] = profile
    return Loaded(profiles, errors, broken)


def load_profiles(user_dir: Path | None = None) -> dict[str, Profile]:
    """The profiles that load (broken ones are skipped; see :func:`load_all` for why)."""
    return load_all(user_dir).profiles


def get_profile(name: str, user_dir: Path | None = None) -> Profile:
    loaded = load_all(user_dir)
    if name in loaded.profiles:
        return loaded.profiles[name]
    if name in loaded.broken:
        raise loaded.broken[name]
    raise UsageError("unknown_profile", name=name, names=", ".join(sorted(loaded.profiles)))
