"""An outside reviewer's attacks on AUDITED (review7) beyond tests/test_audit_log.py and test_audit_trail.py."""

from __future__ import annotations

import pytest

from puente.audit import head, log
from puente.audit.verify import verify_log
from puente.node import Node
from puente.store.base import Store


@pytest.mark.parametrize(("content", "says"), [
    ("", "it holds no 'checkpoint' entry"), ("garbage", "it holds no 'checkpoint' entry"),
    ('{"checkpoint": 5}', "its 'checkpoint' entry is not a signed checkpoint")])
def test_an_emptied_or_garbled_head_file_is_one_clear_problem(node: Node, store: Store, content: str,
                                                              says: str) -> None:
    """`: > audit/head.json` was reported twice (unreadable: "malformed: 'checkpoint'", a KeyError's repr, and
    then also "is missing", which it is not); now once, saying what is wrong."""
    for i in range(3):
        log.append(store, node, "analyst", "read", [f"r{i}"], None, f"reason {i}")
    head.head_path(node.home).write_text(content, encoding="utf-8")
    problems = verify_log(store, node.name, node.public_key, node.home).problems
    assert [p.key for p in problems] == ["audit_head_file_bad"], problems
    assert says in problems[0].detail
