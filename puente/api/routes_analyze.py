"""Analytics results over HTTP: corridors, hotspots, alerts, precursors, firearms, networks, CBP trends.

Analyses run on the node's whole store (its own and its partners' records), so a caller must
state a purpose, and every run is written to the audit log. Results are cached until the
store changes.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from puente.analyze.suite import ANALYSES, run_analysis
from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, log_access, principal
from puente.api.policy import clean_purpose, require_role
from puente.api.problems import ApiProblem, problem_responses
from puente.api.query import purpose_query
from puente.api.records import dumps
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
            frame = value.head(MAX_ROWS)
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
    key = (name, period, _fingerprint(c))
    cache: dict[Any, Any] = c.extras.setdefault("analytics", {})
    with _lock:
        body = cache.get(key)
        if body is None:
            from puente.engine.base import open_engine

            engine = open_engine(c.store.dialect, c.pool.url)
            try:
                body = _serialise(run_analysis(name, engine, period))
            finally:
                close = getattr(engine, "close", None)
                if close:
                    close()
            cache.clear()
            cache[key] = body
    owners = {r[0] for r in c.store.query("SELECT DISTINCT owner_node FROM seizure")}
    log_access(c, who, f"analysis {name}", ANALYSES[name][0], [], owners, stated)
    out = {"name": name, "period": period,
           "tables": {k: {**v, "rows": v["rows"][:limit]} for k, v in body["tables"].items()},
           "geojson": _hot(body["geojson"]) if hot_only else body["geojson"]}
    return Response(dumps(out), media_type="application/json")
