"""What the builders of the older-release fixtures share (tests/fixtures/release-*/build.py).

They run with an older release's code on the path, so this module imports nothing from puente: an earlier
fixture's builder to reuse, a PostgreSQL database made fresh for the U.S. node, then dumped as plain SQL and
dropped, and the nodes packed with what they held (``expected.json``)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import psycopg

PG = "postgresql://postgres@127.0.0.1:5432"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PACKED = ("duckdb/us-node", "duckdb/mx-node", "postgres/us-node", "postgres/us-node.sql")


def builder(release: str) -> Any:
    """An earlier fixture's build.py as a module, to reuse its functions (``release``: its directory's name)."""
    spec = importlib.util.spec_from_file_location(f"build_{release}", FIXTURES / release / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_database(name: str) -> str:
    """An empty database ``name`` (dropped first if a failed build left it); returns its URL."""
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{PG}/{name}"


def pack(work: Path, here: Path, tarball: str, database: str, expected: dict[str, Any]) -> None:
    """Dump ``database`` to ``work/postgres/us-node.sql`` and drop it, pack the nodes into ``here/tarball`` and
    write ``here/expected.json`` (``expected`` plus where it was built)."""
    dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", f"{PG}/{database}"], check=True,
                          capture_output=True).stdout
    (work / "postgres" / "us-node.sql").write_bytes(dump)
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    with tarfile.open(here / tarball, "w:xz", preset=9) as tar:
        for name in PACKED:
            tar.add(work / name, arcname=name)
    (here / "expected.json").write_text(json.dumps(
        {"built_in": str(work), "pg_database": database, **expected}, indent=1, sort_keys=True) + "\n")
