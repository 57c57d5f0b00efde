"""Both demo nodes compute the same joint results from the same shared records, and their joint scorecards
(API and dashboard) show the same digest (issue 13: "nodes agree")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from puente.analyze.joint import joint_records, write_joint
from puente.api.app import create_app
from puente.api.auth import issue_token
from puente.api.demo_serve import connect_nodes
from puente.cli import main
from puente.demo import run_demo
from puente.node import Node

pytestmark = pytest.mark.slow  # a demo world (scale 1,000), shared both ways, four analyses on each node


def _card(node: Node) -> dict[str, Any]:
    with node.open_store() as store:
        token = issue_token(store, "admin")
    client = TestClient(create_app(node))
    # the joint digest counts partner records: shown with a stated purpose only (review8)
    card = client.get("/api/v1/scorecard", params={"purpose": "compare the joint digest"},
                      headers={"Authorization": f"Bearer {token}"})
    assert card.status_code == 200, card.text
    return dict(card.json())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Node]:
    nodes = run_demo(tmp_path_factory.mktemp("demo") / "d", Console(quiet=True), seed=23, scale=1000)
    connect_nodes(nodes["US"], nodes["MX"], (18765, 18766))
    for node in nodes.values():
        assert main(["--home", str(node.home), "analyze", "joint"]) in (0, None)
    return nodes


def test_both_demo_nodes_show_the_same_joint_digest(demo: dict[str, Node]) -> None:
    us, mx = (_card(demo[c])["joint_digest"] for c in ("US", "MX"))
    assert len(us) == len(mx) == 1
    assert us[0]["partner"] == demo["MX"].name and mx[0]["partner"] == demo["US"].name
    assert us[0]["inputs"] == mx[0]["inputs"] and us[0]["inputs_sha256"] == mx[0]["inputs_sha256"]
    assert us[0]["results"] == mx[0]["results"] and us[0]["results_sha256"] == mx[0]["results_sha256"]
    # the joint picture holds both sides' records and the analyses' tables
    with demo["US"].open_store() as store:
        owners = {o for t in joint_records(demo["US"], store, demo["MX"].name).values()
                  for o in t.column("owner_node").to_pylist()}
    assert owners == {demo["US"].name, demo["MX"].name}
    assert {"corridors_top", "firearms_source_states", "precursors_lab_regions"} <= set(us[0]["results"])


def test_a_record_changed_on_one_side_shows_in_the_inputs(demo: dict[str, Node], tmp_path: Path) -> None:
    mx, us = demo["MX"], demo["US"]
    with mx.open_store() as store:
        before = write_joint(mx, store, us.name)
        rid = store.query("SELECT id FROM seizure WHERE owner_node = ? ORDER BY id LIMIT 1", [us.name])[0][0]
        store.execute("UPDATE seizure SET quantity_kg = quantity_kg + 1, content_hash = 'changed' WHERE id = ?",
                      [rid])
        after = write_joint(mx, store, us.name)
    assert after["inputs"]["seizure"] != before["inputs"]["seizure"]
    assert after["inputs"]["lab_site"] == before["inputs"]["lab_site"]
    assert _card(mx)["joint_digest"][0]["inputs_sha256"] != _card(us)["joint_digest"][0]["inputs_sha256"]


def test_partner_records_past_retention_leave_the_joint_picture_before_the_purge(demo: dict[str, Node]) -> None:
    """What ``share purge-expired`` would delete is not read by the joint picture either, purged or not."""
    mx, us = demo["MX"], demo["US"]
    with mx.open_store() as store:
        rid, kept = store.query("SELECT id, retain_until FROM seizure WHERE owner_node = ? ORDER BY id LIMIT 1",
                                [us.name])[0]
        before = set(joint_records(mx, store, us.name)["seizure"].column("id").to_pylist())
        store.execute("UPDATE seizure SET retain_until = DATE '2000-01-01' WHERE id = ?", [rid])
        try:
            after = set(joint_records(mx, store, us.name)["seizure"].column("id").to_pylist())
        finally:
            store.execute("UPDATE seizure SET retain_until = ? WHERE id = ?", [kept, rid])
    assert rid in before and kept is not None
    assert after == before - {rid}
