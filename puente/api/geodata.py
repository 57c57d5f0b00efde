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
