"""Errors as RFC 9457 problem details (application/problem+json), in the caller's language."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from puente.errors import BundleError, ConfigError, PolicyError, ProofError, PuenteError, UsageError
from puente.i18n import t

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class ApiProblem(Exception):
    def __init__(self, status: int, key: str, headers: dict[str, str] | None = None, **args: Any) -> None:
        self.status, self.key, self.args_, self.headers = status, key, args, headers or {}


def request_lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "es" if accept.lower().startswith("es") else "en"


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 423: "Locked",
           429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


def problem(request: Request, status: int, detail: str, headers: dict[str, str] | None = None,
            errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status,
                            "detail": detail, "instance": request.url.path}
    if errors is not None:
        body["errors"] = errors
    from puente.api.headers import security_headers

    # also set here: a 500 is answered outside the middleware stack that adds them to everything else
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM,
                    headers={**security_headers(request.url.path), **(headers or {})})


def _status_for(exc: PuenteError) -> int:
    from puente.api.auth import AuthError

    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, PolicyError):
        return 400 if exc.key == "api_purpose_short" else 403
    if isinstance(exc, (BundleError, ProofError)):
        return 422
    if isinstance(exc, (UsageError, ConfigError)):
        return 404 if exc.key in ("unknown_kind", "api_not_found", "api_no_user") else 400
    return 400


def api_message(exc: PuenteError, lang: str) -> str:
    """The error's line for an API caller: never a path on the server. A key with an ``<key>_api`` variant uses it
    (written without the path: ``hits_no_secret_api``); any other absolute path argument is cut to its file name.
    The full line, paths included, goes to the server's log for the operator."""
    paths = {k: v for k, v in exc.args_.items() if isinstance(v, str) and v.startswith("/")}
    if not paths:
        return exc.message(lang)
    import logging
    from pathlib import PurePath

    from puente.i18n import catalogue

    logging.getLogger("puente.api").warning("%s", exc.message("en"))
    if f"{exc.key}_api" in catalogue():
        return t(f"{exc.key}_api", lang=lang, **exc.args_)
    return t(exc.key, lang=lang, **{**exc.args_, **{k: PurePath(v).name for k, v in paths.items()}})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> Response:
        return problem(request, exc.status, t(exc.key, lang=request_lang(request), **exc.args_), exc.headers)

    @app.exception_handler(PuenteError)
    async def _puente(request: Request, exc: PuenteError) -> Response:
        return problem(request, _status_for(exc), api_message(exc, request_lang(request)))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem(request, 422, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        key = {404: "api_not_found_path", 405: "api_method"}.get(exc.status_code)
        detail = t(key, lang=request_lang(request)) if key else str(exc.detail)
        return problem(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:  # never a traceback to the client
        import logging

        logging.getLogger("puente.api").exception("unhandled error on %s", request.url.path)
        return problem(request, 500, t("api_internal", lang=request_lang(request)))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {s: {"description": _TITLES.get(s, "Error"), "content": {PROBLEM: {"schema": schema}}} for s in statuses}


def fix_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare FastAPI's own 422 as problem+json and add the Problem schema."""
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    comps["Problem"] = Problem.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        comps.pop(name, None)
    for path in schema.get("paths", {}).values():
        for op in path.values():
            responses = op.setdefault("responses", {})
            for status in ("400", "422", "429", "500"):
                responses[status] = {"description": _TITLES[int(status)],
                                     "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return schema
