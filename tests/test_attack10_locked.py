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

from share_support import agreement_doc, ingest, install

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


def _many_seizures(path: Path, rows: int) -> Path:
    lines = ["source_id,date,place,agency,drug,form,quantity,unit"]
    lines += [f'US-{i:06d},03/{1 + i % 28:02d}/2025,"Nogales, AZ",CBP,fentanyl,powder,{1 + i % 50}.5,kg'
              for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_two_exports_to_one_partner_at_once_write_bundles_one_and_two(make_node: Any, pg_url: str,
                                                                       tmp_path: Path) -> None:
    us: Node = make_node("us-hsi", "US", pg_url)
    mx: Node = make_node("mx-fgr", "MX")
    ingest(us, _many_seizures(tmp_path / "s.csv", 6000), "seizure-us")
    install(us, mx, agreement_doc(us, mx))
    cmd = [sys.executable, "-m", "puente", "--home", str(us.home), "share", "export", "--to", "mx-fgr", "-o"]
    procs = [subprocess.Popen([*cmd, str(tmp_path / f"b{i}.bundle")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env()) for i in (1, 2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, (out, err)
    with us.open_store() as store:
        sequences = sorted(int(r[0]) for r in store.query("SELECT seq FROM share_bundles"))
        assert sequences == [1, 2]
        sent = store.scalar("SELECT COUNT(*) FROM share_sent")
        assert verify_log(store, us.name, us.public_key, us.home).ok
    # the partner imports both in sequence order (each export's output names its number) and then holds
    # every record the sender counts as sent
    numbered = sorted((int(out.split("#", 1)[1].split()[0]), i) for i, (out, _) in zip((1, 2), results, strict=True))
    assert [n for n, _ in numbered] == [1, 2]
    for _, i in numbered:
        proc = subprocess.run([sys.executable, "-m", "puente", "--home", str(mx.home), "share", "import",
                               str(tmp_path / f"b{i}.bundle")], check=False, capture_output=True, text=True,
                              env=_env(), timeout=300)
        assert proc.returncode == 0, proc.stderr
    with mx.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = 'us-hsi'") == sent
