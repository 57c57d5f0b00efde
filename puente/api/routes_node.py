"""Node status, the model (for forms and labels), statistics and map layers, entities, the access log."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, principal
from puente.api.policy import require_role, view_for
from puente.api.problems import ApiProblem, problem_responses
from puente.api.query import Filters, IsoDate, purpose_query, sql_where, where_clause
from puente.api.records import dumps
from puente.model import load_model

router = APIRouter(prefix="/api/v1", tags=["node"])
KindName = Literal[tuple(load_model().kinds)]  # type: ignore[valid-type]
GeoKind = Literal[tuple(k for k, v in load_model().kinds.items() if v.geometry)]  # type: ignore[valid-type]
DatedKind = Literal[tuple(k for k, v in load_model().kinds.items() if v.date_field)]  # type: ignore[valid-type]
_R = problem_responses(400, 401, 403)


class KindCount(BaseModel):
    kind: str
    owner: str
    records: int
    first: str | None = None
    last: str | None = None


class Status(BaseModel):
    node: str
    country: str
    store: Literal["duckdb", "postgres"]
    counts: list[KindCount]


@router.get("/status", response_model=Status, responses=_R)
def status(purpose: str | None = purpose_query(), c: Ctx = Depends(ctx),
           who: Principal = Depends(principal)) -> Status:
    """What the node holds, by kind and owner. Partner records are counted only with a purpose (the read is logged
    as ``aggregate``), as for every other read of them; partner nodes see only counts of what their agreement
    shares."""
    from puente.api.policy import clean_purpose
    from puente.store.summary import summarize

    counts = []
    if who.is_partner:  # what the agreement shares, counted through the partner's view; dates only if kept
        return Status(node=c.node.name, country=c.node.country, store=c.store.dialect,  # type: ignore[arg-type]
                      counts=_partner_counts(c, who))
    purpose = clean_purpose(purpose)
    rows = [s for s in summarize(c.store) if purpose is not None or s.owner == c.node.name]
    for s in rows:
        counts.append(KindCount(kind=s.kind, owner=s.owner, records=s.records,
                                first=str(s.first) if s.first else None, last=str(s.last) if s.last else None))
    if any(s.owner != c.node.name for s in rows):
        from puente.api.context import log_access

        log_access(c, who, "aggregate", "status", [], {s.owner for s in rows}, purpose)
    return Status(node=c.node.name, country=c.node.country, store=c.store.dialect,  # type: ignore[arg-type]
                  counts=counts)


def _partner_counts(c: Ctx, who: Principal) -> list[KindCount]:
    from puente.errors import PolicyError

    out = []
    for kind in load_model().kinds.values():
        try:
            view = view_for(who, kind, c.node, None, c.store)
        except PolicyError:
            continue
        date = kind.date_field if kind.date_field and view.sees(kind.date_field) else None
        span = f'MIN("{date}"), MAX("{date}")' if date else "NULL, NULL"
        n, first, last = c.store.query(f"SELECT COUNT(*), {span} FROM {kind.table} {sql_where(view.where)}",
                                       view.params)[0]
        if n:
            out.append(KindCount(kind=kind.name, owner=c.node.name, records=int(n),
                                 first=str(first) if first else None, last=str(last) if last else None))
    return out


@router.get("/model", responses=problem_responses(401))
def model_description(who: Principal = Depends(principal)) -> dict[str, Any]:
    """Record kinds, fields and vocabularies with English and Spanish labels (drives the dashboard's forms)."""
    m = load_model()
    kinds = {k.name: {"label": {"en": k.label_en, "es": k.label_es}, "geometry": k.geometry,
                      "date_field": k.date_field,
                      "fields": {f.name: {"type": f.type, "vocab": f.vocab, "class": f.data_class,
                                          "label": {"en": f.label_en, "es": f.label_es}}
                                 for f in k.fields.values()}} for k in m.kinds.values()}
    vocabs = {name: {code: {"en": term.en, "es": term.es} for code, term in v.terms.items()}
              for name, v in m.vocabularies.items()}
    return {"kinds": kinds, "vocabularies": vocabs}


class StatRow(BaseModel):
    key: str | None = None
    owner: str
    records: int
    kg: float | None = None


def _filters(date_from: dt.date | None, date_to: dt.date | None, country: str | None, admin1: str | None,
             drug: str | None, kind_name: str) -> Filters:
    kind = load_model().kind(kind_name)
    enums = {"drug": drug} if drug and "drug" in kind.fields else {}
    return Filters(date_from=date_from, date_to=date_to, country=country, admin1=admin1, enums=enums)


def _stat(c: Ctx, who: Principal, kind_name: str, key: str, key_sql: str, flt: Filters,
          purpose: str | None) -> list[StatRow]:
    """Counts (and kilograms, when the caller sees them) grouped by ``key``, a column the caller must see."""
    kind = load_model().kind(kind_name)
    view = view_for(who, kind, c.node, purpose, c.store)
    view.require("group by", [key])
    where, params = where_clause(view, flt, c.node.name)
    where = view.where + where
    kg = "SUM(quantity_kg)" if view.sees("quantity_kg") else "NULL"
    rows = c.store.query(
        f"SELECT {key_sql} AS k, owner_node, COUNT(*), {kg} FROM {kind.table} {sql_where(where)} "
        "GROUP BY 1, 2 ORDER BY 1, 2", [*view.params, *params])
    if view.logged and (who.is_partner or any(r[1] != c.node.name for r in rows)):  # partner records, or a partner
        from puente.api.context import log_access

        log_access(c, who, "aggregate", kind.name, [], {r[1] for r in rows}, view.purpose)
    return [StatRow(key=str(k) if k is not None else None, owner=o, records=int(n),
                    kg=float(w) if w is not None else None) for k, o, n, w in rows]


_Drug = Literal[tuple(load_model().vocabularies["drugs"].terms)] | None  # type: ignore[valid-type]


@router.get("/stats/monthly", response_model=list[StatRow], responses=_R)
def monthly(kind: DatedKind = Query("seizure"), date_from: IsoDate | None = None,  # type: ignore[valid-type]
            date_to: IsoDate | None = None, country: Literal["US", "MX"] | None = None,
            admin1: str | None = Query(None, max_length=100, description="State: place id (MX-16) or name."),
            drug: _Drug = None,  # type: ignore[valid-type]
            purpose: str | None = purpose_query(),
            c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[StatRow]:
    """Records and kilograms per calendar month and owner (trend charts)."""
    k = load_model().kind(kind)
    month = f"SUBSTR(CAST(\"{k.date_field}\" AS TEXT), 1, 7)"
    return _stat(c, who, kind, k.date_field or "", month, _filters(date_from, date_to, country, admin1, drug, kind), purpose)


@router.get("/stats/by-place", response_model=list[StatRow], responses=_R)
def by_place(kind: GeoKind = Query("seizure"), level: Literal["admin1", "port", "name"] = "admin1",  # type: ignore[valid-type]
             date_from: IsoDate | None = None, date_to: IsoDate | None = None,
             country: Literal["US", "MX"] | None = None, drug: _Drug = None,  # type: ignore[valid-type]
             purpose: str | None = purpose_query(),
             c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[StatRow]:
    """Records and kilograms by state, municipality/city, or port of entry (coverage, choropleths)."""
    k = load_model().kind(kind)
    if level == "port":
        if "port" not in k.fields:
            raise ApiProblem(400, "api_no_port", kind=kind)
        key = "port_name"
    else:
        key = f"{k.geometry}_{level}"
    return _stat(c, who, kind, key, f'"{key}"', _filters(date_from, date_to, country, None, drug, kind), purpose)


class Flow(BaseModel):
    port: str
    port_lat: float
    port_lon: float
    place: str
    admin1: str | None = None
    lat: float
    lon: float
    records: int
    kg: float


@router.get("/map/flows", response_model=list[Flow], responses=_R)
def flows(date_from: IsoDate | None = None, date_to: IsoDate | None = None,
          drug: _Drug = None, purpose: str | None = purpose_query(),  # type: ignore[valid-type]
          limit: int = Query(200, ge=1, le=2000),
          c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[Flow]:
    """Seizure flows between the port of entry and the place of seizure, weighted by kilograms (corridor lines)."""
    kind = load_model().kind("seizure")
    view = view_for(who, kind, c.node, purpose, c.store)
    view.require("flows", ["port_name", "port_lat", "port_lon", "port_id", "place_name", "place_admin1", "place_lat",
                           "place_lon", "place_id", "quantity_kg"])
    where, params = where_clause(view, _filters(date_from, date_to, None, None, drug, "seizure"), c.node.name)
    where = [*view.where, *where, "port_lat IS NOT NULL", "place_lat IS NOT NULL", "port_id <> place_id"]
    rows = c.store.query(
        "SELECT port_name, AVG(port_lat), AVG(port_lon), place_name, MAX(place_admin1), AVG(place_lat), "
        f"AVG(place_lon), COUNT(*), COALESCE(SUM(quantity_kg), 0) FROM seizure {sql_where(where)} "
        "GROUP BY port_name, place_name ORDER BY 9 DESC, 1, 4 LIMIT ?", [*view.params, *params, limit])
    if view.logged:  # aggregates of partner records, and any a partner node reads, are logged as /stats logs its
        owners = {r[0] for r in c.store.query(f"SELECT DISTINCT owner_node FROM seizure {sql_where(where)}",
                                               [*view.params, *params])}
        if who.is_partner or owners - {c.node.name}:
            from puente.api.context import log_access

            log_access(c, who, "aggregate", kind.name, [], owners, view.purpose)
    return [Flow(port=r[0], port_lat=r[1], port_lon=r[2], place=r[3], admin1=r[4], lat=r[5], lon=r[6],
                 records=int(r[7]), kg=float(r[8])) for r in rows]


class Port(BaseModel):
    code: str
    name: str
    admin1: str
    lat: float
    lon: float
    twin: str | None = None


@router.get("/map/ports", response_model=list[Port], responses=problem_responses(401))
def ports(who: Principal = Depends(principal)) -> list[Port]:
    """Ports of entry from the offline gazetteer."""
    from puente.api.geodata import ports_of_entry

    return [Port(**p) for p in ports_of_entry()]


class Access(BaseModel):
    at: str
    username: str
    role: str
    action: str
    kind: str
    records: int
    owners: str
    purpose: str | None = None
    record_ids: str


@router.get("/access-log", response_model=list[Access], responses=_R)
def access_log(limit: int = Query(200, ge=1, le=5000), username: str | None = Query(None, max_length=100),
               c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[Access]:
    """Reads of partner data and sensitive fields, newest first (stewards and admins; analysts see their own)."""
    if who.is_partner:
        require_role(who, "steward", "admin")
    where, params = [], []
    if who.role == "analyst":
        where.append("username = ?")
        params.append(who.username)
    if username:
        where.append("username = ?")
        params.append(username)
    rows = c.store.query("SELECT read_at, username, role, action, kind, records, owners, purpose, record_ids "
                         f"FROM api_access_log {sql_where(where)} ORDER BY read_at DESC LIMIT ?", [*params, limit])
    return [Access(at=str(r[0]), username=r[1], role=r[2], action=r[3], kind=r[4], records=int(r[5] or 0),
                   owners=r[6] or "", purpose=r[7], record_ids=r[8] or "") for r in rows]


@router.get("/entities/{entity_id}", responses=problem_responses(400, 401, 403, 404))
def entity(entity_id: str, request: Request, purpose: str | None = purpose_query(),
           c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """An entity (or any record) with its network (linked records, two steps) and a timeline of linked events;
    captions in the language of ``Accept-Language`` (coded values through the model's vocabularies)."""
    from puente.api.entity import entity_graph
    from puente.api.problems import request_lang

    return Response(dumps(entity_graph(c, who, entity_id, purpose, request_lang(request))), media_type="application/json")


class Municipality(BaseModel):
    code: str
    name: str
    admin1: str
    lat: float
    lon: float


@router.get("/map/municipalities", response_model=list[Municipality], responses=problem_responses(401))
def municipalities(who: Principal = Depends(principal)) -> list[Municipality]:
    """Mexican municipalities at their seats (INEGI), from the offline gazetteer."""
    from puente.api.geodata import municipal_seats

    return [Municipality(**m) for m in municipal_seats()]


class State(BaseModel):
    id: str
    country: str
    name: str
    names: list[str]


@router.get("/map/states", response_model=list[State], responses=problem_responses(401))
def map_states(who: Principal = Depends(principal)) -> list[State]:
    """The U.S. and Mexican states of the offline gazetteer by place id (MX-16, US-06): the value the
    ``admin1`` filters take, matching every spelling of the state's name in the data."""
    from puente.api.geodata import states

    return [State(**s) for s in states()]


@router.get("/scorecard", responses=problem_responses(401))
def scorecard(purpose: str | None = purpose_query(), c: Ctx = Depends(ctx),
              who: Principal = Depends(principal)) -> dict[str, Any]:
    """The agreement's joint scorecard: counts only, never record content. Counts of partner records (received,
    coverage, trace completion) need a purpose, and the read is logged as ``aggregate``; without one a person sees
    this node's own side only."""
    from puente.api.policy import clean_purpose
    from puente.api.scorecard import build

    return build(c, who, clean_purpose(purpose))
