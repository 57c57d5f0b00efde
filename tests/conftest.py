"""Shared fixtures: nodes and stores on every backend.

PostgreSQL tests create and drop their own database on the server at 127.0.0.1:5432
(``PUENTE_TEST_PG``, default ``postgresql://postgres@127.0.0.1:5432``). When no server
answers, they are skipped with a reason, unless ``PUENTE_REQUIRE_POSTGRES=1`` (set by
.ci/run), in which case they fail. Spark and browser tests do the same with
``PUENTE_REQUIRE_SPARK`` and ``PUENTE_REQUIRE_BROWSER``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from puente.i18n import set_language
from puente.node import Node
from puente.store.base import Store

# CI (HYPOTHESIS_PROFILE=ci, set by .ci/run) draws the same examples on every run, so that a
# landing is decided by the code and not by the draw; a developer's run draws fresh examples and
# explores. A counterexample found either way becomes an explicit test.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PG_URL = os.environ.get("PUENTE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def require(component: str, reason: str) -> None:
    """Skip, or fail when CI requires the component (PUENTE_REQUIRE_<COMPONENT>=1)."""
    if os.environ.get(f"PUENTE_REQUIRE_{component.upper()}") == "1":
        pytest.fail(f"{component} is required here but unavailable: {reason}")
    pytest.skip(f"{component} unavailable: {reason}")


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG_URL + "/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        require("postgres", str(exc).strip().splitlines()[0])


@contextlib.contextmanager
def _database(prefix: str = "puente_test_", template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of ``template``), dropped on exit: yields its name."""
    admin = _pg_admin()
    name = prefix + uuid.uuid4().hex[:10]
    admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with _database() as name:
        yield f"{PG_URL}/{name}"


@pytest.fixture(scope="session")
def pg_migrated_template() -> Iterator[str]:
    """A PostgreSQL database with every migration of this code applied, made once per test process (each xdist
    worker) and dropped at its end: the template of :func:`pg_migrated_url`. Migrating a fresh database costs
    seconds of server time; copying the template does not."""
    from puente.store.base import open_store

    with _database("puente_test_template_") as name:
        open_store(f"{PG_URL}/{name}").close()
        yield name


@pytest.fixture
def pg_migrated_url(pg_migrated_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database already at the current schema (a copy of the migrated template), dropped
    afterwards. Opening it runs the migrations as on any existing store: none is pending. Tests of migrating
    itself (an empty or an older database) use :func:`pg_url`."""
    with _database(template=pg_migrated_template) as name:
        yield f"{PG_URL}/{name}"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both stores (PostgreSQL: a database already at the current schema)."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'store.duckdb'}"
    return str(request.getfixturevalue("pg_migrated_url"))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_env(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The seeded two-node API (tests/api_seed.py: client, tokens, us, mx), the U.S. node on each backend."""
    from tests.api_seed import build_env

    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    client, tokens, us, mx = build_env(tmp_path, us_store=url)
    with client:
        yield client, tokens, us, mx


@pytest.fixture
def make_node(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: make_node(name, country, store_url=None) -> Node in a temp directory."""

    def make(name: str = "us-test", country: str = "US", store_url: str | None = None) -> Node:
        return Node.init(tmp_path / name, name, country, store_url)

    return make


@pytest.fixture
def node(make_node, store_url: str) -> Node:  # type: ignore[no-untyped-def]
    """A U.S. node on each store backend."""
    return make_node("us-test", "US", store_url)


@pytest.fixture
def store(node: Node) -> Iterator[Store]:
    with node.open_store() as s:
        yield s


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    set_language("en")
    yield
    set_language(None)
