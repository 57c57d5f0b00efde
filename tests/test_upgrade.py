"""Nodes made by the previous release (0.1, commit b5f048d) open with the current code, migrate in place,
and keep every record, id, quarantined row, agreement and audit entry (tests/fixtures/release-0.1/).

What each store held was recorded with the previous release (expected.json, by tests/upgrade_snapshot.py);
here the same snapshot is taken after the current code opened (and so migrated) a copy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from _puente_cli import invoke
from conftest import require
from upgrade_snapshot import snapshot

from puente.errors import ConfigError
from puente.node import Node

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "release-0.1"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
OLD_MIGRATIONS = 10  # schema_migrations rows the previous release had applied
# audit entries the current code appends when it first opens an older node, and nothing else: the signed head
# now also lives outside the store (audit/head.json), and creating that file is itself logged; the checkpoints
# it exchanged with partners (audit_published, audit_partner) are chained into the log once
OPENING_ACTIONS = {"audit_head_file", "evidence"}  # evidence: its checkpoints chained into the log (review8)
# tables that opening legitimately moves on: the audit log grows by the entries above (its old entries stay
# exactly as they were), and its head moves to the new size
APPENDED = {"audit_log", "audit_records", "audit_head"}
NEW_KINDS = {"statistic"}  # record kinds added to the model since the previous release (their tables start empty)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture unpacked once per session (tests copy what they open)."""
    out = tmp_path_factory.mktemp("release-0.1")
    with tarfile.open(FIXTURE / "release-0.1.tar.xz") as tar:
        tar.extractall(out, filter="data")
    return out


def copy_node(release: Path, name: str, target: Path) -> Path:
    home = target / name.replace("/", "-")
    shutil.copytree(release / name, home)
    return home


def set_store(home: Path, url: str) -> None:
    """Point node.toml at a store, keeping the rest of the previous release's file as it was."""
    config = home / "node.toml"
    text, count = re.subn(r'(?m)^store = ".*"$', f"store = {json.dumps(url)}", config.read_text(encoding="utf-8"))
    assert count == 1
    config.write_text(text, encoding="utf-8")


def assert_intact(home: Path, expected: dict[str, Any]) -> int:
    """Everything the older store held is there; returns how many audit entries opening it appended."""
    old_entries = expected["counts"]["audit_log"]
    with Node.load(home).open_store() as store:  # opening runs the migrations
        now = snapshot(store, audit_below=old_entries)
        versions = {int(v) for (v,) in store.query("SELECT version FROM schema_migrations")}
    assert len(versions) >= OLD_MIGRATIONS
    for table, count in expected["counts"].items():
        if table != "schema_migrations" and table not in APPENDED:
            assert now["counts"].get(table) == count, table
    # every id with its content hash and owner, per kind; a kind the model gained since (statistic) has its
    # table created, empty
    assert {k: v for k, v in now["kinds"].items() if k in expected["kinds"]} == expected["kinds"]
    assert all(now["counts"][k] == 0 for k in now["kinds"] if k not in expected["kinds"])
    assert set(now["kinds"]) - set(expected["kinds"]) <= NEW_KINDS
    for table, rows in expected["rows"].items():  # quarantine, batches, agreements, bundles, peers...
        if table not in APPENDED:
            assert now["rows"][table] == rows, table
    # the audit log: every old entry exactly as it was (position, hash, signature), then only opening's own
    log = sorted(now["rows"]["audit_log"], key=lambda row: row[0])  # by position
    assert log[:old_entries] == sorted(expected["rows"]["audit_log"], key=lambda row: row[0])
    appended = log[old_entries:]
    assert {row[3] for row in appended} <= OPENING_ACTIONS and len(appended) <= len(OPENING_ACTIONS)
    assert now["counts"]["audit_log"] == old_entries + len(appended)
    assert [row[1] for row in now["rows"]["audit_head"]] == [old_entries + len(appended)]
    assert now["audit_records"] == expected["audit_records"]
    # the content the assertions above rest on is really there
    assert expected["counts"]["quarantine"] > 0 and expected["counts"]["share_agreements"] == 1
    assert expected["counts"]["audit_log"] >= 3 and expected["counts"]["seizure"] > 0
    assert {row[1] for row in expected["rows"]["share_bundles"]} == {"sent", "received"}
    return len(appended)


def test_copied_node_of_the_previous_release_refuses_its_original_store(release: Path, tmp_path: Path) -> None:
    """A 0.1 node.toml names its store by absolute path: a copy must not silently open another store."""
    home = copy_node(release, "duckdb/us-node", tmp_path)
    assert '"duckdb:///' in (home / "node.toml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Node.load(home)
    assert err.value.key == "node_store_elsewhere"
    code, _, stderr = invoke(home, "status")
    assert code == 3 and 'store = "duckdb://store.duckdb"' in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(("name", "relative"), [("duckdb/us-node", False), ("duckdb/mx-node", True)])
def test_previous_release_duckdb_node_opens_with_everything_intact(release: Path, tmp_path: Path, name: str,
                                                                   relative: bool) -> None:
    home = copy_node(release, name, tmp_path)
    # as the error above says (relative), or the old absolute form pointing at the new place
    set_store(home, "duckdb://store.duckdb" if relative else f"duckdb://{(home / 'store.duckdb').resolve()}")
    appended = assert_intact(home, EXPECTED["stores"][name])
    code, stdout, stderr = invoke(home, "audit", "verify")
    assert code == 0, stderr
    assert f"{EXPECTED['stores'][name]['counts']['audit_log'] + appended} entries" in stdout
    # and the upgraded node still works: its status lists what it holds
    code, stdout, _ = invoke(home, "status")
    assert code == 0 and "seizure" in stdout


@pytest.mark.postgres
def test_previous_release_postgres_node_opens_with_everything_intact(release: Path, tmp_path: Path,
                                                                     pg_url: str) -> None:
    if shutil.which("psql") is None:
        require("postgres", "psql is not installed (needed to restore the plain-SQL dump)")
    proc = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg_url, "-f",
                           str(release / "postgres" / "us-node.sql")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    home = copy_node(release, "postgres/us-node", tmp_path)
    set_store(home, pg_url)
    appended = assert_intact(home, EXPECTED["stores"]["postgres/us-node"])
    code, stdout, stderr = invoke(home, "audit", "verify")
    assert code == 0, stderr
    assert f"{EXPECTED['stores']['postgres/us-node']['counts']['audit_log'] + appended} entries" in stdout


@pytest.mark.parametrize("name", ["duckdb/us-node", "duckdb/mx-node"])
def test_previous_release_export_entries_get_their_bundle_column(release: Path, tmp_path: Path, name: str) -> None:
    """Migration 201 back-fills ``audit_log.bundle_id`` from the text of the previous release's export entries:
    the bundle each node sent, and nothing for its other entries (the import names a bundle too, but received)."""
    from puente.audit import queries as audit_queries

    home = copy_node(release, name, tmp_path)
    set_store(home, "duckdb://store.duckdb")
    sent = {row[0] for row in EXPECTED["stores"][name]["rows"]["share_bundles"] if row[1] == "sent"}
    with Node.load(home).open_store() as store:
        tagged = store.query("SELECT action, bundle_id FROM audit_log WHERE bundle_id IS NOT NULL")
        exported = audit_queries.exported_records(store)
        named = store.query("SELECT COUNT(*) FROM audit_records r JOIN audit_log l ON l.idx = r.idx "
                            "WHERE l.action = 'export'")[0][0]
    assert len(sent) == 1 and tagged == [("export", next(iter(sent)))]
    assert {b for b, _ in exported} == sent and len(exported) == named > 0
