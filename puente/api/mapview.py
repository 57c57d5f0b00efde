"""The map's figures and drawing, aggregated on the server over every matching record (issue 16).

``GET /api/v1/map/summary`` takes the same filters as the seizure list (and its exports) and answers the
totals over all matches (records, kilograms, partner records, records without a location), the count
inside the visible box, and, when the matches are too many to draw one by one, their H3 cells at the
resolution the map's zoom asks for. The cells come from one ``GROUP BY`` over the distinct coordinates
(places, a few thousand at most whatever the number of records), turned into H3 cells here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import h3
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from starlette.responses import Response

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, log_access, principal
from puente.api.policy import view_for
from puente.api.problems import problem_responses
from puente.api.query import Filters, IsoDate, parse_bbox, purpose_query, sql_where, where_clause
from puente.api.records import dumps, view_key
from puente.model import load_model
from puente.store import versions

router = APIRouter(prefix="/api/v1/map", tags=["node"])
BOX = r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$"
POINTS_MAX = 5000  # up to this many located matches the map draws each record; beyond, H3 cells
_Drug = Literal[tuple(load_model().vocabularies["drugs"].terms)] | None  # type: ignore[valid-type]


class Totals(BaseModel):
    records: int
    kg: float | None = None
    partner_records: int
    located: int
    in_view: int | None = None


class Cell(BaseModel):
    h3: str
    records: int
    kg: float | None = None
    partner_records: int
    lat: float
    lon: float
    boundary: list[list[float]]


class Summary(BaseModel):
    totals: Totals
    binned: bool
    resolution: int | None = None
    points_max: int
    cells: list[Cell]


@lru_cache(maxsize=200_000)
def _cell(lat: float, lon: float, resolution: int) -> str:
    return str(h3.latlng_to_cell(lat, lon, resolution))


@lru_cache(maxsize=50_000)
def _shape(cell: str) -> tuple[tuple[float, float], list[list[float]]]:
    """A cell's centre and its ring (to 5 decimals, a metre: enough for drawing, a third of the bytes)."""
    return h3.cell_to_latlng(cell), [[round(a, 5), round(b, 5)] for a, b in h3.cell_to_boundary(cell)]


def _inside(lat: float, lon: float, box: tuple[float, float, float, float] | None) -> bool:
    if box is None:
        return True
    west, south, east, north = box
    return west <= lon <= east and south <= lat <= north


@router.get("/summary", responses={200: {"model": Summary}, **problem_responses(400, 401, 403)})
def summary(resolution: int = Query(4, ge=0, le=9, description="H3 resolution of the cells (the map's zoom)."),
            bbox: str | None = Query(None, pattern=BOX, description="west,south,east,north: counted as totals.in_view."),
            within: str | None = Query(None, pattern=BOX, description="west,south,east,north: only the cells whose "
                                       "centre is inside (the map asks for its view and a margin); totals stay whole."),
            binning: Literal["auto", "always", "never"] = Query("auto", alias="bin"),
            q: str | None = Query(None, max_length=200), date_from: IsoDate | None = None,
            date_to: IsoDate | None = None, country: Literal["US", "MX"] | None = None,
            admin1: str | None = Query(None, max_length=100, description="State: place id (MX-16) or name."),
            drug: _Drug = None,  # type: ignore[valid-type]
            owner: str | None = Query(None, max_length=100, description="own, partner, or a node name."),
            purpose: str | None = purpose_query(),
            c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """Seizure totals over every record matching the filters (the same records a CSV export of the same filters
    holds) and, beyond ``points_max`` located matches (or with ``bin=always``), their H3 cells for drawing."""
    kind = load_model().kind("seizure")
    view = view_for(who, kind, c.node, purpose, c.store)
    flt = Filters(q=q, date_from=date_from, date_to=date_to, country=country, admin1=admin1, owner=owner,
                  enums={"drug": drug} if drug else {})
    where, params = where_clause(view, flt, c.node.name)
    located = view.sees("place_lat", "place_lon")
    kg = "SUM(quantity_kg)" if view.sees("quantity_kg") else "NULL"
    point = "place_lat, place_lon" if located else "NULL, NULL"
    sql = f"SELECT {point}, owner_node, COUNT(*), {kg} FROM seizure {sql_where(view.where + where)} GROUP BY 1, 2, 3"
    args = [*view.params, *params]

    def make() -> tuple[list[Any], int]:  # the grouped rows (one per place and owner), cached per data version
        got = c.store.query(sql, args)
        return got, 64 * len(got) + 256

    # the version is read before the rows: an entry is never older than the version it is filed under
    rows, _ = c.responses.get_or_make(("map-summary", view_key(who, view), sql, repr(args)), versions.current(c.store),
                                      make)
    if view.logged and (who.is_partner or any(r[2] != c.node.name for r in rows)):  # partner records, or a partner
        log_access(c, who, "aggregate", kind.name, [], {r[2] for r in rows}, view.purpose)
    box = parse_bbox(bbox) if bbox else None
    records = partner = with_point = in_view = 0
    kg_sum = 0.0
    any_kg = False
    cells: dict[str, list[float]] = {}
    for lat, lon, node, n, w in rows:
        n = int(n)
        records += n
        mine = node == c.node.name
        partner += 0 if mine else n
        if w is not None:
            any_kg = True
            kg_sum += float(w)
        if lat is None or lon is None:
            continue
        with_point += n
        in_view += n if _inside(lat, lon, box) else 0
        acc = cells.setdefault(_cell(float(lat), float(lon), resolution), [0, 0.0, 0])
        acc[0] += n
        acc[1] += float(w or 0)
        acc[2] += 0 if mine else n
    binned = binning == "always" or (binning == "auto" and with_point > POINTS_MAX)
    out: list[dict[str, Any]] = []
    keep = parse_bbox(within) if within else None
    if binned:
        for cell, (n, w, p) in sorted(cells.items(), key=lambda x: -x[1][0]):
            (clat, clon), ring = _shape(cell)
            if _inside(clat, clon, keep):
                out.append({"h3": cell, "records": int(n), "kg": round(w, 6) if any_kg else None,
                            "partner_records": int(p), "lat": clat, "lon": clon, "boundary": ring})
    totals = Totals(records=records, kg=kg_sum if any_kg else None, partner_records=partner, located=with_point,
                    in_view=in_view if box is not None and located else None)
    # written with orjson directly: a few thousand cells with their rings, validated by construction
    body = {"totals": totals.model_dump(), "binned": binned, "resolution": resolution if binned else None,
            "points_max": POINTS_MAX, "cells": out}
    return Response(dumps(body), media_type="application/json")

