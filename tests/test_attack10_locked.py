"""Attack10 (LOCKED, AUDITED): two processes writing one PostgreSQL node at the same moment.

* Audit appends from two processes (a CLI command while the API server answers a partner; two CLI commands):
  each append reads the head row ``FOR UPDATE``; the head was rewritten by DELETE + INSERT, so a waiting
  append found the row gone, read size 0 and died on ``audit_log_pkey`` ("unexpected error; this is a bug",
  its whole transaction rolled back). The head row is now updated in place: the waiter reads the new head.
* Two ``puente share export`` to one partner at once: both read the same last sequence and wrote bundle #1
  (or the second died as above); the sender recorded both as sent and the partner refuses the second as a
  replay. The export now takes a lock before it reads the sequence: the second waits and writes bundle #2.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from puente.audit.verify import verify_log
from puente.node import Node

REPO = Path(__file__).resolve().parents[1]
APPENDS = 40


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUENTE_", "LC_", "LANG"))}
    env.update({"LANG": "C.UTF-8", "PYTHONPATH": str(REPO)})
    return env


APPENDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from puente.audit import log
    from puente.node import Node
    node = Node.load(Path(sys.argv[1]))
    with node.open_store() as store:
        for i in range(int(sys.argv[2])):
            log.append(store, node, sys.argv[3], "test", [f"r{i}"], None, f"append {i} by {sys.argv[3]}")
""")


def test_audit_appends_from_two_processes_all_land_in_one_chain(make_node: Any, pg_url: str) -> None:
    node: Node = make_node("us-a10", "US", pg_url)
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(node.home), str(APPENDS), who],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for who in ("one", "two")]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'test'") == 2 * APPENDS
        size = int(store.scalar("SELECT size FROM audit_head WHERE name = 'head'"))
        assert size == store.scalar("SELECT COUNT(*) FROM audit_log")
        report = verify_log(store, node.name, node.public_key, node.home)
    assert report.ok, report.problems
