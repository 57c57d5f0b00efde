"""The API reads the tables of the audit, share and link stages only through those packages' query functions
(puente/audit/queries.py, puente/share/queries.py, puente/link/queries.py), and what it reads that way is what
the raw SQL it replaced read (issue 17). An export's bundle is a column of its audit entry (migration 201),
no longer parsed from the entry's text."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from api_seed import add_users, bearer, seeded_copy

from puente.audit import queries as audit_queries
from puente.audit.verify import verify_log
from puente.model import load_model
from puente.node import Node
from puente.share.export import export_bundle
from puente.store.base import Store

PUENTE = Path(__file__).resolve().parents[1] / "puente"
OWNERS = ("audit", "share", "link")


def owned_tables() -> dict[str, str]:
    """table -> the stage whose schema.py creates it."""
    out = {}
    for owner in OWNERS:
        text = (PUENTE / owner / "schema.py").read_text(encoding="utf-8")
        out.update({t: owner for t in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", text)})
    return out


def strings(source: str) -> list[tuple[int, str]]:
    """Every string literal of a module (f-string parts included) with its line, docstrings left out."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def mentions(source: str, tables: dict[str, str]) -> list[str]:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, tables)) + r")\b")
    return [f"line {line}: {m.group(1)} ({tables[m.group(1)]})" for line, text in strings(source)
            for m in pattern.finditer(text)]


def test_the_api_names_no_table_of_the_audit_share_or_link_stage() -> None:
    tables = owned_tables()
    assert {"audit_log", "audit_records", "share_agreements", "share_bundles", "hits_queries", "hits_requests",
            "link_entities"} <= set(tables)
    found = {path.name: hits for path in sorted((PUENTE / "api").glob("*.py"))
             if (hits := mentions(path.read_text(encoding="utf-8"), tables))}
    assert found == {}, "read these through puente/<stage>/queries.py"


def test_the_check_finds_sql_on_another_stage_table() -> None:
    """The check above can fail: the scorecard's former join, and a table in an f-string, are found; a docstring
    and an attribute named like a table are not."""
    old = ('"""Counts from share_bundles."""\n'
           "rows = c.store.query(\"SELECT b.partner FROM share_bundles b JOIN audit_log l ON l.action = 'export' \"\n"
           "                     f\"JOIN audit_records r ON r.idx = l.idx WHERE {x}\")\n"
           "lock = c.audit_lock\n")
    assert mentions(old, owned_tables()) == ["line 2: share_bundles (share)", "line 2: audit_log (audit)",
                                             "line 2: audit_records (audit)"]


def _reference_sent(store: Store, own: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the scorecard's sent counts were before issue 17: raw SQL matching the text of the export entry."""
    rows = store.query(
        "SELECT b.partner, SUBSTR(b.created_at, 1, 7), r.record_id FROM share_bundles b "
        "JOIN audit_log l ON l.action = 'export' AND l.reason LIKE 'bundle ' || b.bundle_id || ' %' "
        "JOIN audit_records r ON r.idx = l.idx WHERE b.direction = 'sent'")
    counts: Counter[tuple[str, str, str]] = Counter()
    for partner, month, rid in rows:
        parts = str(rid).split(":")
        if len(parts) >= 3 and parts[0] == own:
            counts[(partner, parts[1], month)] += 1
    by_kind = [{"kind": k, "to": p, "month": m, "records": n} for (p, k, m), n in sorted(counts.items())]
    by_data: list[dict[str, Any]] = []
    for kind in load_model().kinds.values():
        if kind.date_field:
            rows = store.query(
                f'SELECT b.partner, SUBSTR(CAST(t."{kind.date_field}" AS TEXT), 1, 7), COUNT(*) FROM share_bundles b '
                "JOIN audit_log l ON l.action = 'export' AND l.reason LIKE 'bundle ' || b.bundle_id || ' %' "
                f"JOIN audit_records r ON r.idx = l.idx JOIN {kind.table} t ON t.id = r.record_id "
                "WHERE b.direction = 'sent' AND t.owner_node = ? GROUP BY 1, 2 ORDER BY 2, 1", [own])
            by_data += [{"kind": kind.name, "direction": "sent", "partner": p, "month": m, "records": int(n)}
                        for p, m, n in rows]
    return by_kind, by_data


@pytest.fixture(scope="module")
def sender(tmp_path_factory: pytest.TempPathFactory) -> tuple[Node, dict[str, str]]:
    """The Mexican node of the seeded pair (it sent its records to us-test), with a second, empty export."""
    _us, mx, _tokens = seeded_copy(tmp_path_factory.mktemp("apiq"))
    with mx.open_store() as store:
        tokens = add_users(store, partner="us-test")
        export_bundle(mx, store, "us-test", actor="test")  # nothing changed: a bundle of no records
    return mx, tokens


def test_scorecard_sent_counts_equal_the_former_text_matching_sql(sender: tuple[Node, dict[str, str]]) -> None:
    from fastapi.testclient import TestClient

    from puente.api.app import create_app

    mx, tokens = sender
    with TestClient(create_app(mx)) as client:
        card = client.get("/api/v1/scorecard", headers=bearer(tokens["analyst"])).json()
    with mx.open_store() as store:
        by_kind, by_data = _reference_sent(store, mx.name)
        exported = audit_queries.exported_records(store)
        bundles = [r[0] for r in store.query("SELECT bundle_id FROM share_bundles WHERE direction = 'sent'")]
    assert card["sent"] == by_kind
    assert [r for r in card["shared_by_data_month"] if r["direction"] == "sent"] == by_data
    # the counts are not empty: the seeded bundle carried seizures, labs and traces
    assert {r["kind"] for r in by_kind} >= {"seizure", "lab_site", "firearm_trace"}
    assert sum(r["records"] for r in by_data if r["kind"] == "seizure") == 5
    assert len(bundles) == 2 and {b for b, _ in exported} == set(bundles) - {_empty(mx)}


def _empty(node: Node) -> str:
    with node.open_store() as store:
        return str(store.scalar("SELECT bundle_id FROM share_bundles WHERE direction = 'sent' AND records = 0"))


def test_an_export_entry_carries_its_bundle_and_verify_catches_an_edited_column(
        sender: tuple[Node, dict[str, str]], tmp_path: Path) -> None:
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(sender[0].home, home)
    node = Node.load(home)
    with node.open_store() as store:
        rows = store.query("SELECT idx, bundle_id, reason FROM audit_log WHERE action = 'export' ORDER BY idx")
        assert len(rows) == 2 and all(b and reason.startswith(f"bundle {b} #") for _, b, reason in rows)
        assert verify_log(store, node.name, node.public_key).problems == []
        store.execute("UPDATE audit_log SET bundle_id = ? WHERE idx = ?", [rows[1][1], rows[0][0]])
        problems = verify_log(store, node.name, node.public_key).problems
    assert [(p.position, p.key) for p in problems] == [(rows[0][0], "audit_bad_bundle")]
