"""Offline place resolution against the gazetteer shipped in the package.

The gazetteer (built by tools/build_gazetteer.py from INEGI, Census and compiled port
and AOR tables) holds Mexican municipalities and localities, U.S. counties and major
cities, southwest-border ports of entry with their Mexican twin municipality, Mexican
seaports, and CBP areas of responsibility. Text such as "Culiacán, Sin.",
"culiacan sinaloa", "Cd. Juárez", "San Ysidro POE" or "Maricopa County, AZ" resolves to
one entry with lat/lon and an H3 cell. Unresolvable text returns ``None``; the caller
keeps the text and flags the place as unresolved.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import h3

from puente.model.types import fold

H3_RESOLUTION = 8  # ~0.7 km² cells; analytics coarsen with h3.cell_to_parent

# Lower is preferred when several entries share a name.
_PLACE_PRIORITY = {"municipality": 0, "city": 1, "locality": 2, "county": 3, "port": 4, "aor": 5}
_PORT_PRIORITY = {"port": 0, "aor": 1, "city": 2, "municipality": 3, "locality": 4, "county": 5}
_PREFIXES = ("ciudad ", "cd ", "heroica ", "h ", "puerto de ", "port of ", "garita de ", "garita ", "aduana de ")
_SUFFIXES = (" poe", " port of entry", " port", " county", " parish", " municipio", " mpio")

_COUNTRY_WORDS = {"mexico": "MX", "mex": "MX", "mx": "MX", "usa": "US", "us": "US", "eua": "US",
                  "eeuu": "US", "estados unidos": "US", "united states": "US"}


@dataclass(frozen=True)
class Place:
    id: str
    kind: str
    name: str
    admin1: str
    admin2: str  # municipality (MX) or county (US) id, for generalization
    country: str
    lat: float | None
    lon: float | None
    population: int

    @property
    def h3(self) -> str | None:
        if self.lat is None or self.lon is None:
            return None
        return str(h3.latlng_to_cell(self.lat, self.lon, H3_RESOLUTION))


class Gazetteer:
    def __init__(
        self, places: list[Place], aliases: dict[str, list[str]], abbrs: dict[str, str], twins: dict[str, str]
    ) -> None:
        self.places = {p.id: p for p in places}
        self.twins = twins
        self._index: dict[str, list[Place]] = {}
        self._states: dict[str, set[str]] = {}
        for place in places:
            keys = {fold(place.name), *(fold(a) for a in aliases.get(place.id, []))}
            for key in keys:
                if key:
                    self._index.setdefault(key, []).append(place)
            # "Coahuila" for "Coahuila de Zaragoza", "Michoacán" for "Michoacán de Ocampo"; never a bare
            # first word ("puerto" of Puerto Rico, "baja", "new", "san" would swallow other places)
            state_keys = self._states.setdefault(place.admin1, set())
            state_keys.update({fold(place.admin1), fold(place.admin1).split(" de ")[0]})
        self._state_lookup: dict[str, set[str]] = {}
        for admin1, keys in self._states.items():
            for key in keys:
                self._state_lookup.setdefault(key, set()).add(admin1)
        for place in places:
            abbr = fold(abbrs.get(place.id, ""))
            if abbr:
                self._state_lookup.setdefault(abbr, set()).add(place.admin1)

    def get(self, place_id: str) -> Place | None:
        return self.places.get(place_id)

    def resolve(self, text: str, country: str | None = None, prefer: str = "place") -> Place | None:
        return self._resolve(text, country, prefer)

    @lru_cache(maxsize=100_000)  # noqa: B019 - one gazetteer per process (load_gazetteer is cached)
    def _resolve(self, text: str, country: str | None, prefer: str) -> Place | None:
        whole = fold(text)
        if whole in self._index and ("(" in text or "," not in text):
            # a name that contains its own parentheses or words, e.g. "Manzanillo (puerto)"
            return self._best(self._index[whole], country, prefer)
        raw_parts = text.replace("(", ",").replace(")", ",").replace(";", ",").split(",")
        parts = [fold(p) for p in raw_parts if fold(p)]
        if not parts:
            return None
        name, qualifiers = parts[0], parts[1:]
        states: set[str] = set()
        for q in qualifiers:
            if q in _COUNTRY_WORDS:
                country = _COUNTRY_WORDS[q]
            else:
                states |= self._state_lookup.get(q, set())
        candidates = self._candidates(name)
        if not candidates and not qualifiers:
            # "culiacan sinaloa", "tijuana bc": trailing words may be a state or country.
            words = name.split(" ")
            for cut in range(len(words) - 1, 0, -1):
                tail = " ".join(words[cut:])
                tail_states = self._state_lookup.get(tail, set())
                tail_country = _COUNTRY_WORDS.get(tail)
                if tail_states or tail_country:
                    candidates = self._candidates(" ".join(words[:cut]))
                    states, country = tail_states, tail_country or country
                    if candidates:
                        break
        if states:
            candidates = [c for c in candidates if c.admin1 in states]
        if not candidates:
            return None
        return self._best(candidates, country, prefer)

    @staticmethod
    def _best(candidates: list[Place], country: str | None, prefer: str) -> Place:
        priority = _PORT_PRIORITY if prefer == "port" else _PLACE_PRIORITY
        return min(
            candidates,
            key=lambda p: (country is not None and p.country != country, priority[p.kind], -p.population, p.id),
        )

    def _candidates(self, name: str) -> list[Place]:
        found = list(self._index.get(name, []))
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                found += self._index.get(name[len(prefix):], [])
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                found += self._index.get(name[: -len(suffix)], [])
        return found


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    raw = resources.files("puente.geo").joinpath("data", "gazetteer.csv.gz").read_bytes()
    places: list[Place] = []
    aliases: dict[str, list[str]] = {}
    abbrs: dict[str, str] = {}
    twins: dict[str, str] = {}
    with gzip.open(io.BytesIO(raw), "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            places.append(
                Place(
                    id=row["id"], kind=row["kind"], name=row["name"], admin1=row["admin1"],
                    admin2=row["admin2"], country=row["country"],
                    lat=float(row["lat"]) if row["lat"] else None,
                    lon=float(row["lon"]) if row["lon"] else None,
                    population=int(row["population"] or 0),
                )
            )
            abbrs[row["id"]] = row["admin1_abbr"]
            aliases[row["id"]] = [a for a in row["aliases"].split("|") if a and not a.startswith("twin:")]
            twin = [a[5:] for a in row["aliases"].split("|") if a.startswith("twin:")]
            if twin:
                twins[row["id"]] = twin[0]
    return Gazetteer(places, aliases, abbrs, twins)


def twin_of(port_id: str) -> str | None:
    """The Mexican municipality id facing a U.S. port of entry."""
    return load_gazetteer().twins.get(port_id)


@lru_cache(maxsize=1)
def port_field_offices() -> dict[str, str]:
    """U.S. port of entry → the CBP field office it belongs to (``ports_compiled.csv`` ``field_office``), keyed by
    both the port's gazetteer id (``POE-SYS``) and its name (``San Ysidro``). Mexican ports have none."""
    text = resources.files("puente.geo").joinpath("data", "ports_compiled.csv").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        if row["field_office"]:
            out["POE-" + row["code"]] = out[row["name"]] = row["field_office"]
    return out
