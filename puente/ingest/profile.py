"""Ingest profiles: data files (YAML or TOML) that say how to read one source's files.

    name: cbp-seizure-stats
    description: {en: ..., es: ...}
    kind: seizure_aggregate          # the record kind rows become
    format: csv                      # csv | xlsx | jsonl | auto (by file extension)
    date_order: mdy                  # dmy for Mexican sources, mdy for U.S., auto
    decimal: point                   # comma for Mexican sources, point, auto
    agency: CBP                      # provenance: the agency that produced the file
    country: US                      # default country (ISO2) for places and the country field
    columns: {"Sum Qty (lbs)": pounds}   # explicit header -> field (others matched by label/alias)
    defaults: {unit: lb}             # values for fields missing from the file
    identity: [fiscal_year, month]   # fields that identify a record (default: source_id, else content)

Built-in profiles live in puente/ingest/profiles/; a node's own in <home>/profiles/.
A file may hold one profile, or a list under ``profiles:``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from puente.errors import ConfigError, UsageError
from puente.model import load_model

_ALLOWED = {"name", "description", "kind", "format", "date_order", "decimal", "agency", "country",
            "columns", "defaults", "identity", "encoding", "delimiter", "extends"}


@dataclass
class Profile:
    name: str
    kind: str
    description: dict[str, str] = field(default_factory=dict)
    format: str = "auto"
    date_order: str = "auto"
    decimal: str = "auto"
    agency: str | None = None
    country: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    identity: list[str] = field(default_factory=list)
    encoding: str = "auto"
    delimiter: str = "auto"
    origin: str = "built-in"

    def describe(self, lang: str) -> str:
        return self.description.get(lang) or self.description.get("en", "")


def _parse(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("bad_profile_file", path=str(path), error=str(exc).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise ConfigError("bad_profile_file", path=str(path), error="not a mapping")
    return list(data["profiles"]) if "profiles" in data else [data]


def _build(spec: dict[str, Any], origin: str, known: dict[str, Profile]) -> Profile:
    unknown = set(spec) - _ALLOWED
    if unknown:
        raise ConfigError("bad_profile_key", profile=spec.get("name", "?"), keys=", ".join(sorted(unknown)))
    base: dict[str, Any] = {}
    if "extends" in spec:
        parent = known.get(spec["extends"])
        if parent is None:
            raise ConfigError("unknown_profile", name=spec["extends"], names=", ".join(sorted(known)))
        base = {k: getattr(parent, k) for k in _ALLOWED - {"extends"}}
    merged = {**base, **{k: v for k, v in spec.items() if k != "extends"}}
    if "name" not in merged or "kind" not in merged:
        raise ConfigError("bad_profile_key", profile=merged.get("name", "?"), keys="name/kind missing")
    model = load_model()
    kind = model.kind(merged["kind"])
    for fname in merged.get("columns", {}).values():
        if fname not in kind.fields:
            raise ConfigError("bad_profile_field", profile=merged["name"], field=fname, kind=kind.name)
    merged["columns"] = {str(k): str(v) for k, v in merged.get("columns", {}).items()}
    return Profile(origin=origin, **merged)


def load_profiles(user_dir: Path | None = None) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    sources: list[tuple[Path, str, str]] = []
    for entry in sorted(resources.files("puente.ingest").joinpath("profiles").iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml", ".toml")):
            sources.append((Path(entry.name), entry.read_text(encoding="utf-8"), "built-in"))
    if user_dir and user_dir.is_dir():
        for path in sorted(user_dir.iterdir()):
            if path.suffix in (".yaml", ".yml", ".toml"):
                sources.append((path, path.read_text(encoding="utf-8"), str(path)))
    for path, text, origin in sources:
        for spec in _parse(path, text):
            profile = _build(spec, origin, profiles)
            profiles[profile.name] = profile
    return profiles


def get_profile(name: str, user_dir: Path | None = None) -> Profile:
    profiles = load_profiles(user_dir)
    if name not in profiles:
        raise UsageError("unknown_profile", name=name, names=", ".join(sorted(profiles)))
    return profiles[name]
