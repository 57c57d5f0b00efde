"""Node-to-node pull over HTTP: fetch the next bundle from the partner's API and import it here.

The bytes are imported with the share package's own verify-before-parse path, exactly as a
bundle file would be; HTTP is only the transport.
"""

from __future__ import annotations

import httpx

from puente.errors import BundleError, InputError
from puente.node import Node
from puente.settings import setting
from puente.share.receive import ImportReport, import_bundle, refused


def pull(node: Node, base_url: str, token: str, full: bool = False, transport: httpx.BaseTransport | None = None,
         actor: str = "node (HTTP pull)") -> ImportReport:
    url = base_url.rstrip("/") + "/api/v1/bundles/next"
    limit = int(setting("bundle_max_bytes"))
    try:
        with httpx.Client(transport=transport, timeout=300) as http, http.stream(
                "GET", url, params={"full": "true"} if full else None,
                headers={"Authorization": f"Bearer {token}"}) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    break
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError (a bad host, port)
        raise InputError("api_pull_failed", url=base_url, error=str(exc)) from None
    if response.status_code != 200:
        text = bytes(body[:2000]).decode("utf-8", "replace")
        raise InputError("api_pull_failed", url=base_url, error=f"HTTP {response.status_code}: {text[:300]}")
    with node.open_store() as store:
        if len(body) > limit:
            error = BundleError("bundle_too_large", size=f"more than {limit:,}", limit=f"{limit:,}")
            refused(node, store, actor, f"HTTP pull from {base_url}", error.message("en"))
            raise error
        return import_bundle(node, store, bytes(body), actor=actor, source=f"HTTP pull from {base_url}")
