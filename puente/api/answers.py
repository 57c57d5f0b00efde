"""Cached record lists answered before routing (issue 15).

A ``GET /api/v1/records/{kind}?…`` that the record endpoint answered under the current data version is answered
again by :class:`CachedAnswers`, an ASGI middleware in front of FastAPI's routing, dependency solving and
parameter validation. The caller's token and the data version come from :class:`puente.api.known.Known` on the
event loop, with no store statement, while the change epoch (:mod:`puente.store.epoch`) is unchanged since they were
read; otherwise from one store statement (:func:`puente.api.auth.authenticate_at_version`) in the thread pool.

An answer is keyed by the caller's role and partner, the exact path and query string, and the UTC day. Within
one data version that determines the caller's view (columns, row scope, withheld fields: ``view_for`` reads
only the role, the partner, the purpose in the query, and the partner's agreement, whose changes bump the
version and which is in force by the day), so two views never share an answer; only an answer the endpoint made for an identical request is served, so a
request the endpoint would refuse (unknown parameter, bad value) never finds one. Reads that must be audited
write their audit entry on every hit, as the endpoint does. Anything else (no bearer token, a token refused,
no answer under this version) goes on to the application unchanged, which answers as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from puente.api.auth import Principal, authenticate_at_version
from puente.api.context import Ctx, log_access

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
PREFIX = "/api/v1/records/"
SCOPE_KEY = "puente.answer"  # set on the ASGI scope of a request the endpoint may keep its answer for


@dataclass(frozen=True)
class Answer:
    """One list response and what its audit entry needs."""

    body: bytes
    media_type: str
    headers: dict[str, str]
    kind: str
    action: str
    purpose: str | None
    logged: bool
    ids: tuple[str, ...]
    owners: frozenset[str]

    def size(self) -> int:
        return len(self.body) + 40 * len(self.ids) + 512


def answer_key(who: Principal, request: tuple[str, bytes, dt.date]) -> tuple[Any, ...]:
    """The caller's role and partner, and the request's exact (path, query string, UTC day)."""
    return (who.role, who.partner, *request)


def keep(c: Ctx, scope: MutableMapping[str, Any], who: Principal, version: int, answer: Answer) -> None:
    """Called by the endpoint with the answer it made or found under ``version`` (read before the records)."""
    request = scope.get(SCOPE_KEY)
    if request is not None:
        c.answers.put(answer_key(who, request), version, answer, answer.size())


def today() -> dt.date:
    """The UTC day (agreements are in force by it)."""
    return dt.datetime.now(dt.UTC).date()


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


class CachedAnswers:
    """Serves :class:`Answer` entries of ``ctx.answers`` (see the module's docstring)."""

    def __init__(self, app: ASGIApp, ctx: Ctx) -> None:
        self.app, self.ctx = app, ctx

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope["method"] != "GET" or not path.startswith(PREFIX)
                or "/" in path[len(PREFIX):] or self.ctx.answers.max_bytes <= 0):
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        # the day before anything else: an agreement is in force by the day, so a partner's view can change with
        # it; an answer kept under day D was made from a view decided on D or later, and is served on D only
        request = (path, bytes(scope.get("query_string", b"")), today())
        found = None
        if token:
            known = self.ctx.known.lookup(token)  # no store statement, no thread-pool hop
            if known is None:
                found = await run_in_threadpool(self._find, token, request)
            else:
                found = self.ctx.answers.peek(answer_key(known[0], request), known[1])
                if found is not None and found.logged:  # audited on every answer, made or served from the cache
                    await run_in_threadpool(self._audit, known[0], found)
        if found is None:
            scope[SCOPE_KEY] = request
            await self.app(scope, receive, send)
            return
        await Response(found.body, media_type=found.media_type, headers=found.headers)(scope, receive, send)

    def _find(self, token: str, request: tuple[str, bytes, dt.date]) -> Answer | None:
        c = self.ctx
        seen = c.known.before_query()  # read before the statement: what it reads is at least as new
        found = authenticate_at_version(c.store, token)
        if found is None:
            return None  # the application answers 401
        who, version, expires = found
        c.known.learn(seen, token, who, version, expires)
        answer: Answer | None = c.answers.peek(answer_key(who, request), version)
        if answer is not None and answer.logged:  # audited on every answer, made or served from the cache
            self._audit(who, answer)
        return answer

    def _audit(self, who: Principal, answer: Answer) -> None:
        log_access(self.ctx, who, answer.action, answer.kind, list(answer.ids), set(answer.owners), answer.purpose)
