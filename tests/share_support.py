"""Helpers for the share tests: two nodes with records and a signed, installed agreement."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node
from puente.share import registry
from puente.share.agreement import Agreement

FIXTURES = Path(__file__).parent / "fixtures" / "share"

SEIZURE_RULES: dict[str, Any] = {
    "records": [{"field": "drug", "in": ["fentanyl", "methamphetamine"]}],
    "fields": {"date": {"transform": "truncate_date", "to": "month"},
               "place": {"transform": "generalize_place", "to": "admin2"},
               "drug": "keep", "form": "keep", "quantity_kg": {"transform": "round", "step": 1},
               "source_id": "pseudonymize", "pill_stamp": "match_only",
               "port": {"transform": "generalize_place", "to": "h3", "resolution": 5}},
}


def agreement_doc(a: Node, b: Node, kinds: dict[str, Any] | None = None, **terms: Any) -> dict[str, Any]:
    doc = {"agreement": f"{a.name}-{b.name}", "version": 1,
           "parties": [{"node": a.name, "public_key": a.public_key_pem}, {"node": b.name, "public_key": b.public_key_pem}],
           "purpose": "fentanyl interdiction", "handling": "TLP:AMBER", "retention_days": 365,
           "onward_transfer": False, "valid_from": "2020-01-01", "valid_until": "2099-12-31",
           "kinds": copy.deepcopy(kinds if kinds is not None else {"seizure": SEIZURE_RULES})}
    doc.update(terms)
    return yaml.safe_load(yaml.safe_dump(doc))  # as if read from a YAML file


def install(a: Node, b: Node, doc: dict[str, Any]) -> Agreement:
    agreement = Agreement(doc)
    agreement.sign(a.name, a.signing_key)
    agreement.sign(b.name, b.signing_key)
    for n in (a, b):
        with n.open_store() as store:
            registry.install(n, store, agreement, "test")
    return agreement


def ingest(node: Node, path: Path, profile: str) -> None:
    with node.open_store() as store:
        report = ingest_file(node, store, path, get_profile(profile, None))
    assert report.quarantined == 0, report


def pair(make_node: Any, us_store: str | None = None, mx_store: str | None = None) -> tuple[Node, Node]:
    us = make_node("us-hsi", "US", us_store)
    mx = make_node("mx-fgr", "MX", mx_store)
    ingest(us, FIXTURES / "seizures_us.csv", "seizure-us")
    ingest(mx, FIXTURES / "seizures_mx.csv", "seizure-mx")
    return us, mx


class _Kept:
    """A store that stays open when a ``with`` block ends (the fixture below closes it)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __enter__(self) -> Any:
        return self.store

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def kept_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Open each node's store once per test (opening runs the migrations check, ~0.3 s on a busy machine)."""
    cache: dict[str, Any] = {}
    original = Node.open_store

    def open_store(self: Node) -> Any:
        if self.store_url not in cache:
            cache[self.store_url] = original(self)
        return _Kept(cache[self.store_url])

    monkeypatch.setattr(Node, "open_store", open_store)
    yield
    for store in cache.values():
        store.close()
