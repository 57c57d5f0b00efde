"""Node-to-node pull over HTTP: fetch the next bundle from the partner's API and import it here.

The bytes are imported with the share package's own verify-before-parse path, exactly as a
bundle file would be; HTTP is only the transport.
"""

from __future__ import annotations

from typing import Any

import httpx

from puente.errors import InputError
from puente.node import Node
from puente.share.receive import ImportReport, import_bundle


def pull(node: Node, base_url: str, token: str, full: bool = False, transport: httpx.BaseTransport | None = None,
         actor: str = "node (HTTP pull)") -> ImportReport:
    url = base_url.rstrip("/") + "/api/v1/bundles/next"
    try:
        with httpx.Client(transport=transport, timeout=300) as http:
            response = http.get(url, params={"full": "true"} if full else None,
                                headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise InputError("api_pull_failed", url=base_url, error=str(exc)) from None
    if response.status_code != 200:
        detail = response.json().get("detail", response.text) if response.headers.get("content-type", "").startswith(
            "application/problem+json") else response.text[:200]
        raise InputError("api_pull_failed", url=base_url, error=f"HTTP {response.status_code}: {detail}")
    with node.open_store() as store:
        return import_bundle(node, store, response.content, actor=actor)


def send_checkpoint(base_url: str, token: str, request: dict[str, Any],
                    transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Send a checkpoint request to the partner's witness endpoint; returns its cosignature."""
    url = base_url.rstrip("/") + "/api/v1/audit/witness"
    try:
        with httpx.Client(transport=transport, timeout=60) as http:
            response = http.post(url, json=request, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise InputError("api_pull_failed", url=base_url, error=str(exc)) from None
    if response.status_code != 200:
        raise InputError("api_pull_failed", url=base_url, error=f"HTTP {response.status_code}: {response.text[:300]}")
    doc: dict[str, Any] = response.json()
    return doc
