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


ANSWERER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from puente.link import hits
    from puente.node import Node
    node = Node.load(Path(sys.argv[1]))
    query = json.loads(Path(sys.argv[2]).read_text())
    go = Path(sys.argv[3])
    with node.open_store() as store:
        store.query("SELECT 1")
        while not go.exists():
            time.sleep(0.005)
        answer = hits.answer_query(store, node, bytes.fromhex("11" * 32), query, actor="worker")
    print(answer["status"], answer.get("reason_key") or "", len(answer["hits"]))
""")


def test_hit_no_hit_queries_answered_by_two_processes_at_once_share_one_daily_cap(make_node: Any, pg_url: str,
                                                                                   tmp_path: Path) -> None:
    """Two server workers (``serve --workers 2`` on PostgreSQL), or a worker and ``hits answer``, each read the
    day's usage, then matched, then recorded the query: two queries sent at once both passed a cap that admits
    one (the API's in-process lock does not reach another process). Now the usage is read and the query
    recorded under one lock per partner."""
    import json

    from test_link_hits import PERSON_MATCH_ONLY, SECRET, _load

    from bench.synth import spanish_people
    from puente.link import hits

    us: Node = make_node("us-test", "US")
    mx: Node = make_node("mx-test", "MX", pg_url)
    install(us, mx, agreement_doc(us, mx, PERSON_MATCH_ONLY, hits={"max_encodings_per_day": 250}))
    people, _ = spanish_people(200, seed=9)
    for node in (us, mx):
        with node.open_store() as s:
            _load(s, people[people.owner_node == node.name])
    sent = int((people.owner_node == "us-test").sum())
    assert 125 < sent <= 250  # one query fits the day's cap, two do not
    with us.open_store() as sa:
        for i in (1, 2):
            (tmp_path / f"q{i}.json").write_text(json.dumps(hits.make_query(sa, us, "mx-test", SECRET, actor="ana")))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", ANSWERER, str(mx.home), str(tmp_path / f"q{i}.json"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()) for i in (1, 2)]
    import time

    time.sleep(8)  # both loaded and waiting
    go.write_text("go")
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
    statuses = sorted(out.split()[0] + ":" + (out.split()[1] if len(out.split()) > 2 else "") for out, _ in results)
    assert statuses == ["answered:", "rejected:hits_rej_cap"], statuses
    with mx.open_store() as store:
        assert store.scalar("SELECT SUM(encodings) FROM hits_queries WHERE status = 'answered'") <= 250


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from puente.link import runs
    from puente.node import Node
    node = Node.load(Path(sys.argv[1]))
    me, other, tag = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    clusters = {f"us-a10:person:{i}": f"{tag}-{i % 3}" for i in range(30)}
    with node.open_store() as store:
        if tag == "second":
            while not other.exists():
                time.sleep(0.01)
        with store.transaction():
            if tag == "second":
                me.write_text("started")
            runs._write_entities(store, "person", "run-" + tag, clusters, {k: "us-a10" for k in clusters})
            if tag == "first":
                me.write_text("wrote")
                while not other.exists():
                    time.sleep(0.01)
                time.sleep(2)  # the second is now inside its own write
""")


def test_two_entity_writes_at_once_leave_one_clustering(make_node: Any, pg_url: str, tmp_path: Path) -> None:
    """Held: ``link run`` and an analyst's confirm/split (its re-clustering) replace a kind's entities by DELETE
    then INSERT. Two at once on PostgreSQL: the second's DELETE cannot see the first's new rows (its snapshot is
    older), but ``link_entities``' key stops the second set: it is rolled back whole with the one-line
    ``write_conflict`` ("run it again"); the store holds one clustering, no record in two clusters."""
    node: Node = make_node("us-a10", "US", pg_url)
    a, b = tmp_path / "a", tmp_path / "b"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(node.home), str(me), str(other), tag],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for me, other, tag in ((a, b, "first"), (b, a, "second"))]
    first, second = (p.communicate(timeout=120) for p in procs)
    assert procs[0].returncode == 0, first[1][-2000:]
    assert procs[1].returncode == 0 or "another process wrote the same records" in second[1], second[1][-2000:]
    with node.open_store() as store:
        rows = store.query("SELECT record_id, COUNT(*) FROM link_entities GROUP BY record_id HAVING COUNT(*) > 1")
        assert rows == []
        assert store.scalar("SELECT COUNT(DISTINCT run_id) FROM link_entities") == 1
