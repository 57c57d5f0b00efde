"""Record resources, derived from the model: one list and one item route per record kind.

``GET /api/v1/records/{kind}`` filters (time, place, enum fields, text, owner, entity),
paginates and answers JSON, GeoJSON, CSV or Parquet; ``GET /api/v1/records/{kind}/{id}``
answers one record. Every response holds only what the caller's view allows (policy.py).
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
from typing import Annotated, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import Response

from puente.api import answers
from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, log_access, principal
from puente.api.policy import View, link_view, view_for
from puente.api.problems import ApiProblem, problem_responses
from puente.api.query import Filters, IsoDate, enum_fields, order_by, purpose_query, sql_where, where_clause
from puente.export.writers import csv_raw, geojson_features, neutralize_formulas
from puente.model import Kind, load_model
from puente.model.types import COLUMN_TYPES
from puente.settings import setting
from puente.store import versions

EXPORT_MAX = 1_000_000
PER_PAGE_MAX = 10_000
GEOJSON = "application/geo+json"
PARQUET = "application/vnd.apache.parquet"
Scope = Literal["own", "own+partner", "agreement"]


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS)


def record_model(kind: Kind) -> type[BaseModel]:
    cols = {**kind.columns(), "extra": "TEXT"}
    fields: dict[str, Any] = {c: (COLUMN_TYPES[t].python | None, Field(None)) for c, t in cols.items()}
    fields["id"] = (str, ...)
    fields["owner_node"] = (str, ...)
    name = "".join(p.title() for p in kind.name.split("_")) + "Record"
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def page_model(kind: Kind, record: type[BaseModel]) -> type[BaseModel]:
    name = "".join(p.title() for p in kind.name.split("_")) + "Page"
    return create_model(
        name, __config__=ConfigDict(extra="forbid"),
        # the item type is the kind's record model, made at run time by record_model
        items=(list[record], ...),  # type: ignore[valid-type]
        total=(int, ...), total_exact=(bool, ...), page=(int, ...), per_page=(int, ...), scope=(Scope, ...), withheld=(list[str], ...))


def run_query(c: Ctx, view: View, flt: Filters, limit: int, offset: int, links: View | None = None,
              version: int | None = None) -> tuple[list[dict[str, Any]], int, bool]:
    """One page of matches, then the number of matches (``(items, total, exact)``).

    The page is fetched on its own (``ORDER BY ... LIMIT``, which an index on the filter and the sort key
    serves without reading every match) and counted separately, the count cached per data version. Past
    ``count_exact_limit`` matches counting stops: the total is that limit and ``exact`` is False. The bound
    is computed from the caller's view alone (never from statistics over rows it may not see)."""
    kind = view.kind
    where, params = where_clause(view, flt, c.node.name, links)
    clause = sql_where(view.where + where)
    params = view.params + params
    cols = ", ".join(f'"{col}"' for col in view.columns)
    store = c.store
    rows = store.query(f"SELECT {cols} FROM {kind.table} {clause} ORDER BY {order_by(view)} LIMIT ? OFFSET ?",
                       [*params, limit, offset])
    if offset == 0 and len(rows) < limit:
        total, exact = len(rows), True  # the whole result fits in the page
    else:
        total, exact = count_matches(c, kind.table, clause, params, version)
    names = view.columns
    return [dict(zip(names, r)) for r in rows], total, exact


def count_matches(c: Ctx, table: str, clause: str, params: list[Any], version: int | None = None) -> tuple[int, bool]:
    """How many rows match (exact up to ``count_exact_limit``), cached per data version (read before counting)."""
    cap = int(setting("count_exact_limit"))
    store = c.store

    def count() -> tuple[tuple[int, bool], int]:
        n = int(store.scalar(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} {clause} LIMIT ?) AS m",
                             [*params, cap + 1]) or 0)
        return ((n, True) if n <= cap else (cap, False)), 64 + len(clause) + 16 * len(params)

    key = (table, clause, repr(params), cap)
    value, _ = c.counts.get_or_make(key, versions.current(store) if version is None else version, count)
    return value


def view_key(who: Principal, view: View) -> tuple[Any, ...]:
    """Everything the caller's view decided (role, partner, purpose, columns, row scope, withheld fields): two
    callers share a cached answer only when all of it is the same."""
    return (who.role, who.partner, view.purpose, view.kind.name, tuple(view.columns), tuple(view.where),
            repr(view.params), tuple(view.withheld))


def export_table(c: Ctx, view: View, flt: Filters, links: View | None = None) -> pa.Table:
    kind = view.kind
    where, params = where_clause(view, flt, c.node.name, links)
    cols = ", ".join(f'"{col}"' for col in view.columns)
    order = order_by(view)
    sql = f"SELECT {cols} FROM {kind.table} {sql_where(view.where + where)} ORDER BY {order} LIMIT ?"
    return c.store.query_arrow(sql, [*view.params, *params, EXPORT_MAX])


def _audit(c: Ctx, who: Principal, view: View, action: str, rows: list[dict[str, Any]] | pa.Table) -> None:
    if not view.logged:
        return
    if isinstance(rows, pa.Table):
        ids = rows.column("id").to_pylist() if rows.num_rows else []
        owners = set(rows.column("owner_node").to_pylist()) if rows.num_rows else set()
    else:
        ids, owners = [r["id"] for r in rows], {r["owner_node"] for r in rows}
    log_access(c, who, action, view.kind.name, ids, owners, view.purpose)


def _list_endpoint(kind: Kind, page_cls: type[BaseModel]) -> Any:
    enums = enum_fields(kind)
    model = load_model()
    formats: tuple[str, ...] = ("json", "geojson", "csv", "parquet") if kind.geometry else ("json", "csv", "parquet")

    def endpoint(request: Request, c: Ctx, who: Principal, q: str | None, page: int, per_page: int, fmt: str, purpose: str | None,
                 owner: str | None, entity: str | None, **kw: Any) -> Response:
        flt = Filters(q=q, date_from=kw.get("date_from"), date_to=kw.get("date_to"), country=kw.get("country"),
                      admin1=kw.get("admin1"), bbox=kw.get("bbox"), owner=owner, entity=entity,
                      enums={e: kw[e] for e in enums if kw.get(e)})
        view = view_for(who, kind, c.node, purpose, c.store)
        links = link_view(who, c.node, purpose, c.store) if entity else None
        # a search is logged with its terms when the view is (partner data, sensitive fields)
        action = f"search q={q!r}" if q else "list"
        if fmt in ("csv", "parquet"):
            table = export_table(c, view, flt, links)
            _audit(c, who, view, f"export-{fmt}" + (f" {action}" if q else ""), table)
            sink = io.BytesIO()
            if fmt == "csv":
                pacsv.write_csv(table if csv_raw(kw.get("raw") or None) else neutralize_formulas(table), sink)
                media = "text/csv; charset=utf-8"
            else:
                pq.write_table(table, sink)
                media = PARQUET
            return Response(sink.getvalue(), media_type=media, headers={
                "Content-Disposition": f'attachment; filename="{kind.name}.{fmt}"'})
        # the version first: an answer made from records read after it can never be older than it
        version = versions.current(c.store)
        where, params = where_clause(view, flt, c.node.name, links)  # refuses filters outside the view
        key = ("list", fmt, page, per_page, view_key(who, view), view_key(who, links) if links else None,
               tuple(where), repr(params))

        def make() -> tuple[tuple[bytes, int, bool, list[str], set[str]], int]:
            items, total, exact = run_query(c, view, flt, per_page, (page - 1) * per_page, links, version)
            body: dict[str, Any]
            if fmt == "geojson":
                body = {"type": "FeatureCollection", "features": list(geojson_features(kind, items)), "total": total,
                        "total_exact": exact}
            else:
                scope = "agreement" if who.is_partner else ("own+partner" if view.purpose else "own")
                body = {"items": items, "total": total, "total_exact": exact, "page": page, "per_page": per_page,
                        "scope": scope, "withheld": view.withheld}
            data = dumps(body)
            ids = [r["id"] for r in items] if view.logged else []
            owners = {r["owner_node"] for r in items} if view.logged else set()
            return (data, total, exact, ids, owners), len(data) + 40 * len(ids) + 512

        (data, total, exact, ids, owners), _ = c.responses.get_or_make(key, version, make)
        if view.logged:  # audited on every answer, made or served from the cache
            log_access(c, who, action, kind.name, ids, owners, view.purpose)
        headers = {"X-Total-Count": str(total), "X-Total-Exact": "true" if exact else "false"}
        media = GEOJSON if fmt == "geojson" else "application/json"
        # the same request under the same version is answered before routing from now on (puente.api.answers)
        answers.keep(c, request.scope, who, version, answers.Answer(
            data, media, headers, kind.name, action, view.purpose, view.logged, tuple(ids), frozenset(owners)))
        return Response(data, media_type=media, headers=headers)

    params = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("c", inspect.Parameter.KEYWORD_ONLY, annotation=Ctx, default=Depends(ctx)),
        inspect.Parameter("who", inspect.Parameter.KEYWORD_ONLY, annotation=Principal, default=Depends(principal)),
        _q("q", str | None, Query(None, max_length=200, description="Text search over names, text and places.")),
        _q("page", int, Query(1, ge=1, le=100_000)),
        _q("per_page", int, Query(50, ge=1, le=PER_PAGE_MAX)),
        _q("fmt", Literal[formats], Query("json", alias="format", description="json, geojson, csv or parquet "
                                                                              "(csv and parquet export every match)")),
        _q("purpose", str | None, purpose_query()),
        _q("raw", bool, Query(False, description="csv: keep formula cells (=, +, -, @) as stored, without the "
                                                 "leading ' that keeps spreadsheets from running them")),
        _q("owner", str | None, Query(None, max_length=100, description="own, partner, or a node name.")),
        _q("entity", str | None, Query(None, max_length=200, description="Only records linked to this entity id.")),
    ]
    if kind.date_field:
        params += [_q("date_from", IsoDate | None, Query(None)), _q("date_to", IsoDate | None, Query(None))]
    if kind.geometry:
        params += [
            _q("country", Literal["US", "MX"] | None, Query(None)),
            _q("admin1", str | None, Query(None, max_length=100, description="State: its place id (MX-16, US-06; GET /api/v1/map/states) or its name as the data carry it.")),
            _q("bbox", str | None, Query(None, pattern=r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$",
                                            description="west,south,east,north")),
        ]
    for name in enums:
        codes = tuple(model.vocabularies[kind.fields[name].vocab or ""].terms)
        params.append(_q(name, Literal[codes] | None, Query(None, description=kind.fields[name].label_en)))

    def wrapper(**kw: Any) -> Response:
        return endpoint(**kw)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__name__ = f"list_{kind.name}"
    wrapper.__doc__ = f"List {kind.label_en.lower()} records ({kind.label_es.lower()}), filtered and paginated."
    return wrapper


def _q(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _one_endpoint(kind: Kind) -> Any:
    def one(record_id: Annotated[str, Path(max_length=200)], c: Ctx = Depends(ctx),
            who: Principal = Depends(principal),
            purpose: str | None = purpose_query()) -> Response:
        view = view_for(who, kind, c.node, purpose, c.store)
        cols = ", ".join(f'"{col}"' for col in view.columns)
        rows = c.store.query(f"SELECT {cols} FROM {kind.table} {sql_where([*view.where, 'id = ?'])}",
                             [*view.params, record_id])
        if not rows:
            # the same answer whether the record does not exist or is withheld: no existence oracle
            raise ApiProblem(404, "api_not_found", kind=kind.name, id=record_id)
        item = dict(zip(view.columns, rows[0]))
        _audit(c, who, view, "read", [item])
        return Response(dumps(item), media_type="application/json")

    one.__name__ = f"get_{kind.name}"
    one.__doc__ = f"One {kind.label_en.lower()} record."
    return one


def router() -> APIRouter:
    r = APIRouter(prefix="/api/v1/records", tags=["records"])
    for kind in load_model().kinds.values():
        record = record_model(kind)
        page = page_model(kind, record)
        content: dict[str, Any] = {"text/csv": {"schema": {"type": "string"}},
                                   PARQUET: {"schema": {"type": "string", "format": "binary"}}}
        if kind.geometry:
            content[GEOJSON] = {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}
        r.add_api_route(f"/{kind.name}", _list_endpoint(kind, page), methods=["GET"], summary=kind.label_en,
                        responses={200: {"model": page, "content": content}, **problem_responses(400, 401, 403)})
        r.add_api_route(f"/{kind.name}/{{record_id}}", _one_endpoint(kind), methods=["GET"],
                        summary=f"{kind.label_en} by id", responses={
                            200: {"model": record}, **problem_responses(400, 401, 403, 404)})
    return r
