"""The FastAPI application: REST API under /api/v1, the dashboard at /, OpenAPI at /api/openapi.json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, Response

from puente.api import mapview, problems, records, routes_auth, routes_node
from puente.api.answers import CachedAnswers
from puente.api.context import Ctx, StoreLeases, StorePool
from puente.api.headers import SecurityHeaders
from puente.api.known import Known
from puente.api.query import strict_query
from puente.api.ratelimit import RateLimit
from puente.node import Node
from puente.settings import enabled, setting
from puente.store.epoch import attach as attach_epoch
from puente.store.epoch import path_for as epoch_path
from puente.store.epoch import repair as repair_epoch

VERSION = "1.0.0"


def web_dir() -> Path:
    return Path(str(resources.files("puente.web")))


def create_app(node: Node, store_url: str | None = None, rate_limit: int | None = None) -> FastAPI:
    url = store_url or node.store_url
    attach_epoch(url, node.home / "store.epoch")  # where changes to the store are announced (puente.store.epoch)
    pool = StorePool(url)
    # no epoch (every cached answer asks the store for the token and the data version) when another host may write
    known = Known(epoch_path(url) if enabled("api_epoch") else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open()
        known.forget()
        repair_epoch(known.path)  # a node from before the epoch, or a file left damaged: made whole
        try:
            yield
        finally:
            pool.close()  # every pooled connection closed on shutdown

    app = FastAPI(title=f"Puente node API — {node.name}", version=VERSION, lifespan=lifespan,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
                  dependencies=[Depends(strict_query)],
                  description="REST API of a Puente node. Errors are application/problem+json. "
                              "Authenticate with `Authorization: Bearer <token>`.")
    app.state.ctx = Ctx(node=node, pool=pool, known=known)
    problems.install(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_node.router)
    app.include_router(mapview.router)
    app.include_router(records.router())
    for module in _optional_routers():
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema["components"].setdefault("schemas", {})["FeatureCollection"] = {
                "type": "object", "required": ["type", "features"],
                "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                               "features": {"type": "array", "items": {"type": "object"}},
                               "total": {"type": "integer"}, "total_exact": {"type": "boolean"}}}
            app.openapi_schema = problems.fix_openapi(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    static = web_dir() / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(web_dir() / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> Response:
        """The API reference: Swagger UI from the vendored files, so it works offline (no CDN)."""
        return FileResponse(web_dir() / "api-docs.html", headers={"Cache-Control": "no-cache"})

    app.add_middleware(CachedAnswers, ctx=app.state.ctx)  # inside the rate limit and the store lease
    limit = int(setting("rate_limit")) if rate_limit is None else rate_limit
    if limit > 0:  # counted in the store on PostgreSQL (shared by every worker), in memory on DuckDB (one process)
        shared = (lambda: app.state.ctx.store) if pool.dialect.multi_process else None
        app.add_middleware(RateLimit, per_minute=limit, store=shared)
    app.add_middleware(StoreLeases, pool=pool)  # outside the rate limit, which counts in the store
    app.add_middleware(SecurityHeaders)  # added last: wraps everything, 429s included
    return app


def _optional_routers() -> list[Any]:
    """Routers for the stages that other packages provide (sharing, audit, linking, analytics), when present."""
    from puente import stages

    return stages.routers()
