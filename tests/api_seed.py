"""Seed data for the API tests: small fixture files ingested with the built-in profiles.

The U.S. node ingests its own files; the Mexican node ingests its own and sends them to the U.S.
node in a signed bundle under an installed agreement (so they arrive as partner records).
"""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.model import load_model
from puente.node import Node
from puente.store.base import Store

DATA = Path(__file__).parent / "data" / "api"
US_FILES = [("us_seizures.csv", "seizure-us"), ("us_persons.csv", "person-us"), ("us_orgs.csv", "organization-us"),
            ("us_vehicles.csv", "vehicle-us"), ("us_links.csv", "link-us")]
MX_FILES = [("mx_seizures.csv", "seizure-mx"), ("mx_persons.csv", "person-mx"), ("mx_labs.csv", "lab_site-mx"),
            ("mx_traces.csv", "firearm_trace-mx")]
PASSWORD = "correct horse battery"


def ingest_all(node: Node, files: list[tuple[str, str]]) -> None:
    with node.open_store() as store:
        for name, profile in files:
            report = ingest_file(node, store, DATA / name, get_profile(profile))
            assert report.balanced and report.quarantined == 0, (name, report.summary())


def agreement_kinds() -> dict[str, Any]:
    """Both nodes share seizures (fentanyl and methamphetamine only, without notes), labs and firearm
    traces field for field, and people only for private matching (names, birth date and CURP are
    match-only; other identifiers are dropped)."""
    model = load_model()
    kinds: dict[str, Any] = {}
    for kind in ("seizure", "person", "lab_site", "firearm_trace"):
        kinds[kind] = {"fields": {f: "keep" for f in model.kind(kind).fields}}
    kinds["seizure"]["fields"]["notes"] = "drop"
    kinds["seizure"]["records"] = [{"field": "drug", "in": ["fentanyl", "methamphetamine"]}]
    kinds["person"]["fields"]["id_number"] = "drop"
    for f in ("given_names", "surname1", "surname2", "birth_date", "curp"):  # matched privately (hit/no-hit) only
        kinds["person"]["fields"][f] = "match_only"
    return kinds


def share(sender: Node, recipient: Node) -> int:
    """Install a signed agreement on both nodes; the sender exports a bundle, the recipient imports it."""
    from puente.share import registry
    from puente.share.agreement import Agreement
    from puente.share.export import export_bundle
    from puente.share.receive import import_bundle

    doc = {"agreement": f"{recipient.name}-{sender.name}", "version": 1,
           "parties": [{"node": n.name, "public_key": n.public_key_pem} for n in (recipient, sender)],
           "purpose": "fentanyl interdiction", "handling": "TLP:AMBER", "retention_days": 365,
           "onward_transfer": False, "valid_from": "2020-01-01", "valid_until": "2099-12-31",
           "kinds": agreement_kinds()}
    agreement = Agreement(yaml.safe_load(yaml.safe_dump(doc)))
    for n in (sender, recipient):
        agreement.sign(n.name, n.signing_key)
    for n in (sender, recipient):
        with n.open_store() as store:
            registry.install(n, store, agreement, "test")
    with sender.open_store() as store:
        data = export_bundle(sender, store, recipient.name, actor="test")
    with recipient.open_store() as store:
        return import_bundle(recipient, store, data, actor="test").records


def add_users(store: Store, partner: str = "mx-test") -> dict[str, str]:
    """One account per role; returns role -> API token."""
    from puente.api import auth

    tokens = {}
    for role in ("analyst", "steward", "admin"):
        auth.add_user(store, role, role, PASSWORD)
        tokens[role] = auth.issue_token(store, role)
    auth.add_user(store, "partner", "partner-node", None, partner=partner)
    tokens["partner-node"] = auth.issue_token(store, "partner")
    return tokens


def seed(root: Path, us_store: str | None = None) -> tuple[Node, Node, dict[str, str]]:
    """Two seeded nodes under ``root`` (us-test, mx-test) and the U.S. node's accounts (role -> token)."""
    us = Node.init(root / "us-test", "us-test", "US", us_store)
    mx = Node.init(root / "mx-test", "mx-test", "MX")
    ingest_all(us, US_FILES)
    ingest_all(mx, MX_FILES)
    share(mx, us)
    with us.open_store() as store:
        tokens = add_users(store)
    return us, mx, tokens


# The seeded pair on the embedded store, built once per test process (each xdist worker) and copied for
# every caller: a copy is a pair of node directories with their own DuckDB files (node.toml keeps the
# store path relative to the node), so a test may change its copy freely. Seeding costs ~4 s of CPU,
# a copy ~0.2 s.
_seeded: tuple[Path, dict[str, str]] | None = None


def seeded_copy(root: Path) -> tuple[Node, Node, dict[str, str]]:
    """:func:`seed` on the embedded store, as a fresh copy under ``root`` of the pair this process seeded once."""
    global _seeded
    if _seeded is None:
        template = Path(tempfile.mkdtemp(prefix="puente-api-seed-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        _seeded = template, seed(template)[2]
    template, tokens = _seeded
    root.mkdir(parents=True, exist_ok=True)
    for name in ("us-test", "mx-test"):
        shutil.copytree(template / name, root / name)
    return Node.load(root / "us-test"), Node.load(root / "mx-test"), dict(tokens)


def build_env(root: Path, us_store: str | None = None, rate_limit: int = 0):  # type: ignore[no-untyped-def]
    """Two seeded nodes, accounts for every role, and an in-process client on the U.S. node.
    On the embedded store the nodes are a copy of a pair seeded once per process (:func:`seeded_copy`)."""
    from fastapi.testclient import TestClient

    from puente.api.app import create_app

    us, mx, tokens = seeded_copy(root) if us_store is None else seed(root, us_store)
    client = TestClient(create_app(us, rate_limit=rate_limit))
    return client, tokens, us, mx


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def serve(app):  # type: ignore[no-untyped-def]
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return srv, thread, f"http://127.0.0.1:{port}"
