"""Filters shared by record lists, exports, map layers and statistics, built once with ``?`` placeholders.

Every filter is derived from the model: the kind's date field gives the time range, its
geometry field gives country, state (admin1) and bounding box, each enum field (drug,
conveyance, status, ...) is a filter of its own, and ``q`` searches the text and name fields.
Each filter reads only columns of the caller's view (policy.py); anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BeforeValidator

from puente.api.policy import View
from puente.errors import PolicyError, UsageError
from puente.model import Kind


@dataclass
class Filters:
    q: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    country: str | None = None
    admin1: str | None = None
    bbox: str | None = None
    owner: str | None = None
    entity: str | None = None
    enums: dict[str, str] = field(default_factory=dict)


def enum_fields(kind: Kind) -> list[str]:
    return [f.name for f in kind.fields.values() if f.type == "enum" and f.vocab]


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError("api_bad_bbox", bbox=text) from None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise UsageError("api_bad_bbox", bbox=text)
    return west, south, east, north


def where_clause(view: View, flt: Filters, node_name: str, links: View | None = None) -> tuple[list[str], list[Any]]:
    """The filters as SQL over the caller's view only: a filter on a column the view does not show is refused
    (policy.View.require), ``q`` searches only the text columns it shows, ``entity`` follows only the links
    ``links`` (the caller's view of the link kind) shows."""
    kind = view.kind
    where: list[str] = []
    params: list[Any] = []
    if flt.q:
        cols = view.searchable()
        like = "%" + flt.q.lower().replace("\\", "").replace("%", "").replace("_", " ").strip() + "%"
        where.append("(" + " OR ".join([*(f'LOWER("{c}") LIKE ?' for c in cols), "id = ?"]) + ")")
        params += [like] * len(cols) + [flt.q]
    date = kind.date_field
    if date and (flt.date_from or flt.date_to):
        view.require("date_from/date_to", [date])
    if date and flt.date_from:
        where.append(f'"{date}" >= ?')
        params.append(flt.date_from)
    if date and flt.date_to:
        where.append(f'"{date}" <= ?')
        params.append(flt.date_to)
    geo = kind.geometry
    if geo and flt.country:
        view.require("country", [f"{geo}_country"])
        where.append(f'"{geo}_country" = ?')
        params.append(flt.country.upper())
    if geo and flt.admin1:
        # a state's place id (MX-16) matches every spelling the gazetteer gives it (geodata.state_names)
        from puente.api.geodata import state_names

        view.require("admin1", [f"{geo}_admin1"])
        names = sorted({n.lower() for n in state_names(flt.admin1)}) or [""]
        where.append(f'LOWER("{geo}_admin1") IN ({", ".join("?" for _ in names)})')
        params += names
    if geo and flt.bbox:
        view.require("bbox", [f"{geo}_lon", f"{geo}_lat"])
        west, south, east, north = parse_bbox(flt.bbox)
        where.append(f'"{geo}_lon" BETWEEN ? AND ? AND "{geo}_lat" BETWEEN ? AND ?')
        params += [west, east, south, north]
    if flt.owner == "own":
        where.append('"owner_node" = ?')
        params.append(node_name)
    elif flt.owner == "partner":
        where.append('"owner_node" <> ?')
        params.append(node_name)
    elif flt.owner:
        where.append('"owner_node" = ?')
        params.append(flt.owner)
    if flt.entity:
        if links is None:
            raise PolicyError("api_column_withheld", use="entity", field="link",
                              reason="links are not in your view")
        scope = [*links.where]
        halves = [f"SELECT {a} FROM link WHERE {' AND '.join([*scope, f'{b} = ?'])}"
                  for a, b in (("to_id", "from_id"), ("from_id", "to_id"))]
        where.append(f"id IN ({halves[0]} UNION {halves[1]})")
        params += [*links.params, flt.entity, *links.params, flt.entity]
    for name, value in flt.enums.items():
        if value:
            view.require(name, [name])
            where.append(f'"{name}" = ?')
            params.append(value)
    return where, params


def filter_indexes(kind: Kind) -> dict[str, str]:
    """PostgreSQL indexes (name -> column list) that serve every filter :func:`where_clause` offers on ``kind``,
    written with the same expressions it filters with (an index on ``place_admin1`` does not serve
    ``LOWER(place_admin1) = ?``), each followed by the list order (:func:`order_by`) so that a filtered page
    is read in order and stops at its LIMIT: owner, every enum field, country, state, the bounding box, the
    date range, and the kind's first enum field (its main category: drug, chemical, ...) with the state."""
    date = kind.date_field
    tail = f'"{date}" DESC NULLS LAST, id' if date else "id"
    cols: dict[str, str] = {"owner": f'"owner_node", {tail}'}
    enums = enum_fields(kind)
    for name in enums:
        cols[name] = f'"{name}", {tail}'
    geo = kind.geometry
    if geo:
        cols["country"] = f'"{geo}_country", {tail}'
        cols["admin1"] = f'LOWER("{geo}_admin1"), {tail}'
        cols["bbox"] = f'"{geo}_lon", "{geo}_lat"'
        if enums:
            cols[f"{enums[0]}_admin1"] = f'"{enums[0]}", LOWER("{geo}_admin1"), {tail}'
    if date:
        cols["date"] = tail
    if kind.nature == "relation":  # entity=: the links of one record, either way (from_id, to_id)
        cols["from"], cols["to"] = '"from_id"', '"to_id"'
    return {f"ix_{kind.table}_f_{name}": c for name, c in cols.items()}


def order_by(view: View) -> str:
    """Newest first when the caller sees the date, else by id (an order by an unseen column would rank it)."""
    date = view.kind.date_field
    return f'"{date}" DESC NULLS LAST, id' if date and view.sees(date) else "id"


def sql_where(parts: list[str]) -> str:
    return ("WHERE " + " AND ".join(parts)) if parts else ""


def _iso_date(value: Any) -> Any:
    """Dates in query strings must be YYYY-MM-DD (pydantic would also take numbers as Unix times)."""
    if value is None or isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    raise ValueError("use a date written YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
PURPOSE_PATTERN = r"^\s*\S[\s\S]{3,}\S\s*$"  # at least five characters once trimmed


def purpose_query() -> Any:
    return Query(None, max_length=300, pattern=PURPOSE_PATTERN, description=(
        "Why you need partner records or sensitive fields (at least 5 characters); required to see them, and logged."))


def _declared(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names


async def strict_query(request: Request) -> None:
    """Refuse unknown or repeated query parameters (a typo such as ?drgu= must not silently widen a query).
    Async: it does no I/O, so it runs on the event loop instead of hopping to the thread pool."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _declared(dependant)
    keys = [k for k, _ in request.query_params.multi_items()]
    unknown = sorted({k for k in keys if k not in allowed})
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if unknown or repeated:
        from puente.api.problems import ApiProblem

        raise ApiProblem(400, "api_bad_params", names=", ".join(unknown + repeated) or "''",
                         allowed=", ".join(sorted(allowed)) or "-")
