"""Issue 17's bar: at most 2 backend-name branches in puente/ outside puente/store and puente/engine.

The pattern is the grep documented in docs/architecture.md ("Backend-name branches, counted"): comparisons
with a backend's name (== / != / in with "duckdb", "postgres", "postgresql", "spark", also as URL schemes),
startswith on a backend's URL scheme, isinstance checks on the backend store classes, and identity with the
dialect objects (is DUCKDB / is POSTGRES). A parameter default naming a backend (backend="duckdb") chooses, it
does not branch, and is not counted."""

from __future__ import annotations

import re
from pathlib import Path

BRANCH = re.compile(
    r'(==|!=|\bin) *\(?[^)#]*"(duckdb|postgres|postgresql|spark)(://)?"'
    r'|"(duckdb|postgres|postgresql|spark)(://)?" *(==|!=)'
    r'|startswith\([^)]*"(duckdb|postgres)'
    r"|isinstance\([^)]*(DuckDB|Postgres)[A-Za-z]*"
    r"|\bis (not )?(DUCKDB|POSTGRES)\b|(DUCKDB|POSTGRES) is\b")
PUENTE = Path(__file__).resolve().parents[1] / "puente"


def backend_branches() -> list[str]:
    found = []
    for path in sorted(PUENTE.rglob("*.py")):
        rel = path.relative_to(PUENTE.parent).as_posix()
        if rel.startswith(("puente/store/", "puente/engine/")):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BRANCH.search(line):
                found.append(f"{rel}:{n}: {line.strip()}")
    return found


def test_the_pattern_finds_branches_and_skips_defaults() -> None:
    branches = ['if self.dialect == "duckdb":', 'elif store.dialect != "postgres":', 'if name in ("spark", "x"):',
                'if url.startswith(("postgresql://", "postgres://")):', "if isinstance(store, DuckDBStore):",
                "if dialect_of(url) is POSTGRES:", 'if "duckdb" == engine:']
    not_branches = ['backend: str = "duckdb",', 'engine: str = typer.Option("duckdb", "--engine")',
                    'store: Literal["duckdb", "postgres"]', "dialect = DUCKDB"]
    assert all(BRANCH.search(s) for s in branches)
    assert not any(BRANCH.search(s) for s in not_branches)


def test_at_most_two_backend_branches_outside_store_and_engine() -> None:
    found = backend_branches()
    assert len(found) <= 2, "\n".join(found)
