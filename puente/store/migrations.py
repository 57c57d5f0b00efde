"""Versioned schema migrations.

Migration N runs once per store and is recorded in ``schema_migrations``. Record-kind
tables are derived from the model: migration 1 creates them, and
:func:`sync_model_columns` (run after the numbered migrations) adds any column a later
model declares, so a model change never needs hand-written DDL for plain fields.
Other packages (share, audit, link, ...) add their own tables by registering numbered
migrations with :func:`register` in a module the stage registry (puente/stages.py) names.
"""

from __future__ import annotations

from collections.abc import Callable

from puente.errors import StoreError
from puente.model import Kind, load_model
from puente.store.base import Store

Migration = Callable[[Store], None]
_MIGRATIONS: dict[int, tuple[str, Migration]] = {}


def register(version: int, name: str) -> Callable[[Migration], Migration]:
    def wrap(fn: Migration) -> Migration:
        if version in _MIGRATIONS and _MIGRATIONS[version][1] is not fn:
            raise RuntimeError(f"migration {version} registered twice")
        _MIGRATIONS[version] = (name, fn)
        return fn

    return wrap


def create_kind_table(store: Store, kind: Kind) -> None:
    """A record kind's table. PostgreSQL keys it by ``id``; DuckDB does not (no ART index: building it
    was a large part of a bulk ingest's cost), and every writer keeps ids unique itself, by an anti-join
    against the table inside its transaction, with writers of one store taking turns
    (:meth:`~puente.store.base.Store.lock`; share import's keyed INSERT ... WHERE NOT EXISTS)."""
    cols = ", ".join(f'"{c}" {store.dialect.ddl_type(t)}' for c, t in kind.columns().items())
    key = ", PRIMARY KEY (id)" if store.dialect.kind_primary_key else ""
    store.execute(f"CREATE TABLE IF NOT EXISTS {kind.table} ({cols}, extra TEXT{key})")


@register(1, "record kinds, quarantine, batches, node metadata")
def _initial(store: Store) -> None:
    model = load_model()
    for kind in model.kinds.values():
        create_kind_table(store, kind)
    store.execute(
        "CREATE TABLE IF NOT EXISTS quarantine (file_hash TEXT, source_row BIGINT, batch_id TEXT, kind TEXT, "
        "source_file TEXT, field TEXT, reason_key TEXT, reason_en TEXT, reason_es TEXT, raw TEXT, "
        "created_at TIMESTAMP, PRIMARY KEY (file_hash, source_row))"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS batches (batch_id TEXT PRIMARY KEY, kind TEXT, profile TEXT, source_file TEXT, "
        "file_hash TEXT, encoding TEXT, started_at TIMESTAMP, finished_at TIMESTAMP, rows_read BIGINT, "
        "stored BIGINT, updated BIGINT, quarantined BIGINT, duplicates BIGINT)"
    )
    store.execute("CREATE TABLE IF NOT EXISTS node_meta (key TEXT PRIMARY KEY, value TEXT)")


@register(12, "ingest v2: identity conflicts in batches and quarantine, field issues")
def _field_issues(store: Store) -> None:
    """Issue 12. ``batches.conflicts`` (rows of one file that share an identity with an earlier row
    but differ: batches ingested before read 0); ``quarantine.other_row`` (the earlier row a
    conflict collides with); ``field_issues``: an invalid optional value set to NULL on a stored
    record, with the field, the reason and the raw text."""
    store.execute("ALTER TABLE batches ADD COLUMN conflicts BIGINT DEFAULT 0")
    store.execute("UPDATE batches SET conflicts = 0 WHERE conflicts IS NULL")
    store.execute("ALTER TABLE quarantine ADD COLUMN other_row BIGINT")
    store.execute(
        "CREATE TABLE IF NOT EXISTS field_issues (kind TEXT, record_id TEXT, field TEXT, batch_id TEXT, "
        "source_file TEXT, source_row BIGINT, reason_key TEXT, reason_en TEXT, reason_es TEXT, raw TEXT, "
        "created_at TIMESTAMP, PRIMARY KEY (kind, record_id, field))"
    )


@register(13, "quarantine: the melted column of a row (one source line may give several rows)")
def _quarantine_column(store: Store) -> None:
    """Issue 12, ``melt``: a wide row becomes one row per melted column, so a line may have several
    quarantined rows. ``quarantine.source_column`` names the column ('' for a row that was not
    melted) and joins the primary key. The table is rebuilt (DuckDB cannot change a primary key in
    place); every row is copied as it was."""
    cols = ("file_hash, source_row, batch_id, kind, source_file, field, reason_key, reason_en, reason_es, raw, "
            "created_at, other_row")
    store.execute(
        "CREATE TABLE quarantine_v13 (file_hash TEXT NOT NULL, source_row BIGINT NOT NULL, batch_id TEXT, kind TEXT, "
        "source_file TEXT, field TEXT, reason_key TEXT, reason_en TEXT, reason_es TEXT, raw TEXT, "
        "created_at TIMESTAMP, other_row BIGINT, source_column TEXT NOT NULL DEFAULT '', "
        "PRIMARY KEY (file_hash, source_row, source_column))")
    store.execute(f"INSERT INTO quarantine_v13 ({cols}, source_column) SELECT {cols}, '' FROM quarantine")
    store.execute("DROP TABLE quarantine")
    store.execute("ALTER TABLE quarantine_v13 RENAME TO quarantine")


@register(30, "DuckDB kind tables without the primary-key index (ids kept unique by the writers' anti-join)")
def _unkeyed_kind_tables(store: Store) -> None:
    """Issue 12, ingest speed. On DuckDB each kind table is rebuilt without ``PRIMARY KEY (id)``: same
    columns, types and order, every row copied as it was (in its order). PostgreSQL keeps its keys."""
    if store.dialect.kind_primary_key:
        return
    for kind in load_model().kinds.values():
        keyed = store.scalar("SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? "
                             "AND constraint_type = 'PRIMARY KEY'", [kind.table])
        if not keyed:
            continue
        columns = store.query("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_name = ? ORDER BY ordinal_position", [kind.table])
        new = f"{kind.table}_v30"
        typed = ", ".join(f'"{c}" {t}' for c, t in columns)
        store.execute(f"CREATE TABLE {new} ({typed})")
        store.execute(f"INSERT INTO {new} SELECT * FROM {kind.table} ORDER BY rowid")
        store.execute(f"DROP TABLE {kind.table}")
        store.execute(f"ALTER TABLE {new} RENAME TO {kind.table}")


def sync_model_columns(store: Store) -> None:
    """Add the tables and columns the model declares but the store lacks (a model change: a new
    kind, such as ``statistic``, gets its table here in a store made before the kind existed)."""
    for kind in load_model().kinds.values():
        have = set(store.table_columns(kind.table))
        if not have:
            create_kind_table(store, kind)
            continue
        for col, sql_type in kind.columns().items():
            if col not in have:
                store.execute(f'ALTER TABLE {kind.table} ADD COLUMN "{col}" {store.dialect.ddl_type(sql_type)}')


def _load_plugins() -> None:
    """Import the modules that register their own migrations: the stage registry names them
    (puente/stages.py), so the store imports no package above it."""
    from puente import stages
    from puente.store import versions  # noqa: F401 - the store's own data-version table (migration 20)

    stages.load_migrations()


def migrate(store: Store) -> list[int]:
    """Apply pending migrations in order, each in its own transaction. Returns versions applied.

    A store that a newer release migrated (a version this code does not register) is refused before anything
    is written: this code would read and write tables whose newer shape it does not know."""
    _load_plugins()
    store.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TIMESTAMP)"
    )
    ledger = {int(v): str(n) for v, n in store.query("SELECT version, name FROM schema_migrations")}
    newer = sorted(set(ledger) - set(_MIGRATIONS))
    if newer:
        raise StoreError("store_newer_release", migrations="; ".join(f"{v} ({ledger[v]})" for v in newer))
    done = set(ledger)
    applied = []
    for version in sorted(_MIGRATIONS):
        if version in done:
            continue
        name, fn = _MIGRATIONS[version]
        with store.transaction():
            fn(store)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, CURRENT_TIMESTAMP)", [version, name]
            )
        applied.append(version)
    with store.transaction():
        sync_model_columns(store)
    return applied
