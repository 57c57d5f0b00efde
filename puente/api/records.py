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
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.responses import Response

from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, log_access, principal
from puente.api.policy import View, link_view, view_for
from puente.api.problems import ApiProblem, problem_responses
from puente.api.query import Filters, IsoDate, enum_fields, order_by, purpose_query, sql_where, where_clause
from puente.export.writers import csv_raw, geojson_features, neutralize_formulas
from puente.model import Kind, load_model

EXPORT_MAX = 1_000_000
PER_PAGE_MAX = 10_000
GEOJSON = "application/geo+json"
PARQUET = "application/vnd.apache.parquet"
Scope = Literal["own", "own+partner", "agreement"]
_PY = {"TEXT": str, "DATE": dt.date, "DOUBLE PRECISION": float, "BIGINT": int, "INTEGER": int, "TIMESTAMP": str}


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
    fields: dict[str, Any] = {c: (_PY[t] | None, Field(None)) for c, t in cols.items()}
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
        total=(int, ...), page=(int, ...), per_page=(int, ...), scope=(Scope, ...), withheld=(list[str], ...))


def run_query(c: Ctx, view: View, flt: Filters, limit: int, offset: int,
              links: View | None = None) -> tuple[list[dict[str, Any]], int]:
    kind = view.kind
    where, params = where_clause(view, flt, c.node.name, links)
    where = view.where + where
    params = view.params + params
    cols = ", ".join(f'"{col}"' for col in view.columns)
    order = order_by(view)
    clause = sql_where(where)
    store = c.store
    # one scan: the page and the total number of matches together
    rows = store.query(f"SELECT {cols}, COUNT(*) OVER () FROM {kind.table} {clause} "
                       f"ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])
    if rows:
        total = rows[0][-1]
    elif offset == 0:
        total = 0
    else:  # a page past the end: count separately
        total = store.scalar(f"SELECT COUNT(*) FROM {kind.table} {clause}", params)
    names = view.columns
    return [dict(zip(names, r[:-1])) for r in rows], int(total or 0)


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

    def endpoint(c: Ctx, who: Principal, q: str | None, page: int, per_page: int, fmt: str, purpose: str | None,
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
        items, total = run_query(c, view, flt, per_page, (page - 1) * per_page, links)
        _audit(c, who, view, action, items)
        headers = {"X-Total-Count": str(total)}
        if fmt == "geojson":
            body = {"type": "FeatureCollection", "features": list(geojson_features(kind, items)), "total": total}
            return Response(dumps(body), media_type=GEOJSON, headers=headers)
        scope = "agreement" if who.is_partner else ("own+partner" if view.purpose else "own")
        body = {"items": items, "total": total, "page": page, "per_page": per_page, "scope": scope,
                "withheld": view.withheld}
        return Response(dumps(body), media_type="application/json", headers=headers)

    params = [
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
