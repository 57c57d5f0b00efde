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


def assert_intact(home: Path, expected: dict[str, Any]) -> None:
    with Node.load(home).open_store() as store:  # opening runs the migrations
        now = snapshot(store)
        versions = {int(v) for (v,) in store.query("SELECT version FROM schema_migrations")}
    assert len(versions) >= OLD_MIGRATIONS
    for table, count in expected["counts"].items():
        if table != "schema_migrations":
            assert now["counts"].get(table) == count, table
    assert now["kinds"] == expected["kinds"]  # every id with its content hash and owner, per kind
    assert now["rows"] == expected["rows"]  # quarantine, batches, agreements, bundles, audit log and heads...
    assert now["audit_records"] == expected["audit_records"]
    # the content the assertions above rest on is really there
    assert expected["counts"]["quarantine"] > 0 and expected["counts"]["share_agreements"] == 1
    assert expected["counts"]["audit_log"] >= 3 and expected["counts"]["seizure"] > 0
    assert {row[1] for row in expected["rows"]["share_bundles"]} == {"sent", "received"}


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
    assert_intact(home, EXPECTED["stores"][name])
    code, stdout, stderr = invoke(home, "audit", "verify")
    assert code == 0, stderr
    assert f"{EXPECTED['stores'][name]['counts']['audit_log']} entries" in stdout
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
    assert_intact(home, EXPECTED["stores"]["postgres/us-node"])
    code, stdout, stderr = invoke(home, "audit", "verify")
    assert code == 0, stderr
    assert f"{EXPECTED['stores']['postgres/us-node']['counts']['audit_log']} entries" in stdout
