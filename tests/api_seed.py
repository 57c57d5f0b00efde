"""Seed data for the API tests: small fixture files ingested with the built-in profiles.

The U.S. node ingests its own files; the Mexican node ingests its own, and its records
reach the U.S. node as partner records (owner_node = the Mexican node, with a bundle id).
"""

from __future__ import annotations

from pathlib import Path

from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
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


def copy_partner_records(source: Node, target: Node) -> int:
    """Give the target the source's records as partner records (what importing a bundle produces)."""
    from puente.model import load_model

    copied = 0
    with source.open_store() as src, target.open_store() as dst:
        for kind in load_model().kinds.values():
            table = src.query_arrow(f"SELECT * FROM {kind.table}")  # noqa: S608
            if table.num_rows:
                table = table.set_column(table.schema.get_field_index("bundle_id"), "bundle_id",
                                         __import__("pyarrow").array(["test-bundle"] * table.num_rows))
                dst.insert_arrow(kind.table, table)
                copied += table.num_rows
    return copied


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


def build_env(root: Path, us_store: str | None = None, rate_limit: int = 0):  # type: ignore[no-untyped-def]
    """Two seeded nodes, accounts for every role, and an in-process client on the U.S. node."""
    from fastapi.testclient import TestClient

    from puente.api.app import create_app

    us = Node.init(root / "us-test", "us-test", "US", us_store)
    mx = Node.init(root / "mx-test", "mx-test", "MX")
    ingest_all(us, US_FILES)
    ingest_all(mx, MX_FILES)
    copy_partner_records(mx, us)
    with us.open_store() as store:
        tokens = add_users(store)
    client = TestClient(create_app(us, rate_limit=rate_limit))
    return client, tokens, us, mx


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
