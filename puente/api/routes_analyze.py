"""Analytics results over HTTP: corridors, hotspots, alerts, precursors, firearms, networks, CBP trends.

Analyses run on the node's whole store (its own and its partners' records), so a caller must
state a purpose, and every run is written to the audit log. Results are cached until the
store changes.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from puente.analyze.output import bilingual
from puente.analyze.shifts import SHIFT_WINDOW
from puente.analyze.suite import ANALYSES, corridor_members, run_analysis
from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, log_access, principal
from puente.api.policy import clean_purpose, require_role, view_for
from puente.api.problems import ApiProblem, problem_responses
from puente.api.query import purpose_query, sql_where
from puente.api.records import dumps
from puente.model import load_model
from puente.store import versions

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
AnalysisName = Literal[tuple(ANALYSES)]  # type: ignore[valid-type]
MAX_ROWS = 5000
_lock = threading.Lock()


def _fingerprint(c: Ctx) -> int:
    """Changes whenever records are added, corrected, imported, revoked or purged: the store's data version
    (every kind, not a list of the tables the analyses read today)."""
    return versions.current(c.store)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _serialise(result: dict[str, Any]) -> dict[str, Any]:
    tables, geo = {}, {}
    for name, value in result.items():
        if name.endswith(".geojson"):
            geo[name[: -len(".geojson")]] = value
        elif hasattr(value, "to_dict"):
            # coded columns with their English and Spanish labels beside them, as `puente analyze` exports them
            frame = bilingual(value.head(MAX_ROWS))
            tables[name] = {"columns": [str(c) for c in frame.columns], "total": len(value),
                            "rows": [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]}
    return {"tables": tables, "geojson": geo}


def _hot(layers: dict[str, Any]) -> dict[str, Any]:
    """Each GeoJSON layer with only its hot features (layers without a ``hotspot`` property stay whole)."""
    out = {}
    for name, fc in layers.items():
        feats = fc.get("features", []) if isinstance(fc, dict) else []
        if any("hotspot" in (f.get("properties") or {}) for f in feats):
            fc = {**fc, "features": [f for f in feats if (f.get("properties") or {}).get("hotspot") == "hot"]}
        out[name] = fc
    return out


def _body(c: Ctx, name: str, period: str) -> dict[str, Any]:
    """One analysis's serialised result, run once per store state and period (the last one asked is kept).
    The corridors' body also keeps, server side, the seizure behind each flow (``members``) for drill-down."""
    key = (name, period, _fingerprint(c))
    cache: dict[Any, Any] = c.extras.setdefault("analytics", {})
    with _lock:
        body: dict[str, Any] | None = cache.get(key)
        if body is None:
            from puente.engine.base import open_engine

            engine = open_engine(c.store.dialect, c.pool.url)
            try:
                body = _serialise(run_analysis(name, engine, period))
                if name == "corridors":
                    members = corridor_members(engine, period)
                    members["period"] = [_clean(v) for v in members["period"]]
                    body["members"] = members
            finally:
                close = getattr(engine, "close", None)
                if close:
                    close()
            cache.clear()
            cache[key] = body
    return body


@router.get("", responses=problem_responses(401))
def catalogue(who: Principal = Depends(principal)) -> dict[str, Any]:
    """The analyses this node can run and the record kind each needs."""
    return {"analyses": [{"name": n, "needs": needs} for n, (needs, _) in ANALYSES.items()]}


@router.get("/{name}", responses=problem_responses(400, 401, 403, 404))
def analysis(name: AnalysisName, period: Literal["month", "week", "quarter"] = "month",  # type: ignore[valid-type]
             purpose: str | None = purpose_query(), limit: int = Query(MAX_ROWS, ge=1, le=MAX_ROWS),
             hot_only: bool = Query(False, description="GeoJSON layers: only the features whose `hotspot` is "
                                                        "'hot' (the map's hotspot layer draws no others)."),
             c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """Run (or reuse) one analysis: its tables (first ``limit`` rows each) and its GeoJSON layers."""
    require_role(who, "analyst", "steward", "admin")
    stated = clean_purpose(purpose)
    if stated is None:
        raise ApiProblem(403, "api_analysis_purpose")
    body = _body(c, name, period)
    owners = {r[0] for r in c.store.query("SELECT DISTINCT owner_node FROM seizure")}
    log_access(c, who, f"analysis {name}", ANALYSES[name][0], [], owners, stated)
    out = {"name": name, "period": period,
           "tables": {k: {**v, "rows": v["rows"][:limit]} for k, v in body["tables"].items()},
           "geojson": _hot(body["geojson"]) if hot_only else body["geojson"]}
    return Response(dumps(out), media_type="application/json")


@router.get("/corridors/flow", responses=problem_responses(400, 401, 403))
def corridor_flow(period: Literal["month", "week", "quarter"] = "month",
                  at: str | None = Query(None, max_length=40, description="The flow's period as the corridors "
                                                                         "table gives it; none: every period."),
                  periods: int = Query(1, ge=1, le=24, description="How many periods ending at ``at`` to match."),
                  shift: bool = Query(False, description="A route shift's row: match its monitor's window of "
                                                         "periods ending at ``at``."),
                  origin: str | None = Query(None, max_length=200), crossing: str | None = Query(None, max_length=200),
                  destination: str | None = Query(None, max_length=200),
                  limit: int = Query(200, ge=1, le=MAX_ROWS), purpose: str | None = purpose_query(),
                  c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """The seizures behind a corridor flow (a row of the corridors analysis' ``flows``, ``top_kg`` or ``shifts``):
    those whose period and corridor equal the values given (a value left out matches any). ``total`` counts
    them all; ``items`` are the first ``limit`` the caller's view shows, newest first."""
    require_role(who, "analyst", "steward", "admin")
    if clean_purpose(purpose) is None:
        raise ApiProblem(403, "api_analysis_purpose")
    members = _body(c, "corridors", period)["members"]
    keep = pd.Series(True, index=members.index)
    if at is not None:
        window = SHIFT_WINDOW if shift else periods
        ending = sorted(p for p in members["period"].astype(str).unique() if p <= at)[-window:]
        keep &= members["period"].astype(str).isin(ending if ending and ending[-1] == at else [at])
    for col, value in (("origin", origin), ("crossing", crossing), ("destination", destination)):
        if value is not None:
            keep &= members[col] == value
    ids = members.loc[keep, "id"].tolist()
    view = view_for(who, load_model().kind("seizure"), c.node, purpose, c.store)
    cols = ", ".join(f'"{col}"' for col in view.columns)
    # newest first by what the caller sees (a withheld date orders nothing): each chunk counts its visible rows
    # and fetches only its first ``limit``, and the chunks' firsts are merged
    order = "date DESC NULLS LAST, id DESC" if "date" in view.columns else "id DESC"
    visible, items = 0, []
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        marks = ", ".join("?" for _ in chunk)
        where, params = sql_where([*view.where, f"id IN ({marks})"]), [*view.params, *chunk]
        visible += int(c.store.scalar(f"SELECT COUNT(*) FROM seizure {where}", params))
        rows = c.store.query(f"SELECT {cols} FROM seizure {where} ORDER BY {order} LIMIT ?", [*params, limit])
        items += [dict(zip(view.columns, r)) for r in rows]
    items.sort(key=lambda r: (str(r.get("date") or ""), r["id"]), reverse=True)
    shown = items[:limit]
    if view.logged:
        log_access(c, who, "corridor flow", "seizure", [r["id"] for r in shown], {r["owner_node"] for r in shown},
                   view.purpose)
    return Response(dumps({"total": len(ids), "visible": visible, "items": shown, "withheld": view.withheld}),
                    media_type="application/json")
