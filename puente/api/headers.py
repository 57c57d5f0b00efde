"""Security headers on every response (API, dashboard, static files, errors), as pure ASGI middleware.

The dashboard loads only its own and vendored files (no CDN, no inline ``<script>``), so scripts are
limited to 'self'. Inline ``style=`` attributes are allowed because the dashboard's templates and
Leaflet's markers use them; with images, fonts and connections limited to 'self', a style cannot send
data anywhere. ``/api/docs`` serves the vendored Swagger UI with an external bootstrap script, so it
gets the same policy as every other page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_COMMON = ("object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; " + _COMMON)
DOCS_PATHS: tuple[str, ...] = ()  # pages with a looser policy: none since Swagger UI is vendored

_FIXED = {
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def security_headers(path: str) -> dict[str, str]:
    """The headers a response to ``path`` must carry (API responses are never stored by any cache)."""
    headers = {"content-security-policy": CSP, **_FIXED}
    if path.startswith("/api/"):
        headers["cache-control"] = "no-store"
    return headers


class SecurityHeaders:
    """Sets :func:`security_headers` on every HTTP response; these values replace any the route set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(scope["path"])
        encoded = [(k.encode(), v.encode()) for k, v in wanted.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in wanted]
                message["headers"] = kept + encoded
            await send(message)

        await self.app(scope, receive, send_with_headers)
