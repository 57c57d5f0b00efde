"""Map reference layers from the offline gazetteer: ports of entry and municipal seats."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from puente.geo.gazetteer import load_gazetteer, twin_of


@lru_cache(maxsize=1)
def ports_of_entry() -> list[dict[str, Any]]:
    gaz = load_gazetteer()
    out = []
    for place in gaz.places.values():
        if place.kind == "port" and place.lat is not None and place.lon is not None:
            twin = twin_of(place.id)
            twin_place = gaz.get(twin) if twin else None
            out.append({"code": place.id, "name": place.name, "admin1": place.admin1, "lat": place.lat,
                        "lon": place.lon, "twin": twin_place.name if twin_place else None})
    return sorted(out, key=lambda p: p["lon"])


@lru_cache(maxsize=1)
def municipal_seats() -> list[dict[str, Any]]:
    """Mexican municipalities at their seats (cabeceras) with INEGI codes."""
    gaz = load_gazetteer()
    return [{"code": p.id, "name": p.name, "admin1": p.admin1, "lat": p.lat, "lon": p.lon}
            for p in gaz.places.values() if p.kind == "municipality" and p.lat is not None and p.lon is not None]


STATE_ID = r"^(MX|US)-\d{2}$"


def _state_id(place_id: str, admin2: str) -> str | None:
    """MX-16 (INEGI state code) or US-06 (FIPS state code), from a place's own id or its admin2's."""
    for code in (place_id, admin2):
        if len(code) >= 5 and code[:3] in ("MX-", "US-") and code[3:5].isdigit():
            return code[:5]
    return None


@lru_cache(maxsize=1)
def states() -> list[dict[str, Any]]:
    """The states (admin1) of the gazetteer, each with a place id (MX-16, US-06), the name the data
    carry and every spelling the gazetteer gives it ("Michoacán de Ocampo", "Michoacan de Ocampo")."""
    found: dict[str, dict[str, Any]] = {}
    for place in load_gazetteer().places.values():
        sid = _state_id(place.id, place.admin2)
        if sid is None or not place.admin1:
            continue
        entry = found.setdefault(sid, {"id": sid, "country": place.country, "names": {}})
        entry["names"][place.admin1] = entry["names"].get(place.admin1, 0) + 1
    out = []
    for entry in found.values():
        names = sorted(entry["names"], key=lambda n: (-sum(ord(ch) > 127 for ch in n), -entry["names"][n], n))
        out.append({"id": entry["id"], "country": entry["country"], "name": names[0], "names": sorted(names)})
    return sorted(out, key=lambda s: (s["country"], s["name"]))


def state_names(value: str) -> list[str]:
    """The admin1 spellings a state filter matches: a state's place id (MX-16) gives every spelling the
    gazetteer has for it; any other text is taken as one name."""
    import re

    if re.fullmatch(STATE_ID, value.upper()):
        for s in states():
            if s["id"] == value.upper():
                return list(s["names"])
        return []
    return [value]
