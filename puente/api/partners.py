"""Connections to partner nodes' APIs: the URL in the store, the token in the node's keys directory.

Used to deliver hit/no-hit messages and to pull bundles over HTTP. The token is the
partner-node token the partner issued to this node (`puente users token` on the partner).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import httpx

from puente.errors import ConfigError, InputError, UsageError
from puente.node import Node
from puente.store.base import Store


def token_path(node: Node, partner: str):  # type: ignore[no-untyped-def]
    return node.home / "keys" / f"partner-{partner}.token"


def connect(node: Node, store: Store, partner: str, url: str, token: str) -> None:
    try:  # refused now, in one line, rather than at the first pull or hit/no-hit message
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError("api_bad_partner_url", url=url)
    path = token_path(node, partner)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token.strip() + "\n")
    with store.transaction():
        store.execute("DELETE FROM api_partners WHERE partner = ?", [partner])
        store.execute("INSERT INTO api_partners VALUES (?, ?, ?)",
                      [partner, url.rstrip("/"), dt.datetime.now(dt.UTC).replace(tzinfo=None)])


def connection(node: Node, store: Store, partner: str) -> tuple[str, str]:
    url = store.scalar("SELECT url FROM api_partners WHERE partner = ?", [partner])
    path = token_path(node, partner)
    if not url or not path.is_file():
        raise ConfigError("api_partner_not_connected", partner=partner)
    return str(url), path.read_text(encoding="utf-8").strip()


def deliver(node: Node, store: Store, partner: str, message: dict[str, Any]) -> dict[str, Any]:
    """POST a sealed hit/no-hit message to the partner's API; returns its reply."""
    url, token = connection(node, store, partner)
    try:
        response = httpx.post(f"{url}/api/v1/hits/incoming", json=message, timeout=120,
                              headers={"Authorization": f"Bearer {token}"})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError (a bad host, port)
        raise InputError("api_partner_unreachable", partner=partner, error=str(exc)) from None
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", "")
        except ValueError:
            detail = response.text[:200]
        raise InputError("api_partner_unreachable", partner=partner, error=f"HTTP {response.status_code}: {detail}")
    reply: dict[str, Any] = response.json()
    return reply
