"""API tables: user accounts, hashed tokens and sessions, and the access log (versions 400–499)."""

from __future__ import annotations

from puente.store.base import Store
from puente.store.migrations import register


@register(400, "api users, tokens and sessions")
def _users(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS api_users (username TEXT PRIMARY KEY, password_hash TEXT, role TEXT NOT NULL, "
        "partner TEXT, lang TEXT, failed_logins INTEGER DEFAULT 0, locked_until TIMESTAMP, disabled BOOLEAN DEFAULT FALSE, "
        "created_at TIMESTAMP)"
    )
    # token_hash = SHA-256 of a 256-bit random secret: tokens are high-entropy, so a fast hash is the right tool
    # (argon2 is for passwords, which are guessable). kind is 'session' or 'api'.
    store.execute(
        "CREATE TABLE IF NOT EXISTS api_tokens (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, kind TEXT NOT NULL, "
        "label TEXT, created_at TIMESTAMP, expires_at TIMESTAMP, last_used_at TIMESTAMP, revoked BOOLEAN DEFAULT FALSE)"
    )


@register(401, "api access log of partner-data reads")
def _access_log(store: Store) -> None:
    store.execute(
        "CREATE TABLE IF NOT EXISTS api_access_log (read_at TIMESTAMP, username TEXT, role TEXT, action TEXT, "
        "kind TEXT, record_ids TEXT, owners TEXT, purpose TEXT, records INTEGER)"
    )


@register(402, "api partner connections (URL; the token lives in keys/partner-<name>.token)")
def _partners(store: Store) -> None:
    store.execute("CREATE TABLE IF NOT EXISTS api_partners (partner TEXT PRIMARY KEY, url TEXT, added_at TIMESTAMP)")


@register(403, "api: PostgreSQL indexes for the record filters (time, state, owner)")
def _filter_indexes(store: Store) -> None:
    if not store.dialect.filter_indexes:
        return  # DuckDB scans columns with zone maps; ART indexes would only slow bulk ingest
    from puente.model import load_model

    for kind in load_model().kinds.values():
        cols = ["owner_node"]
        if kind.date_field:
            cols.append(kind.date_field)
        if kind.geometry:
            cols.append(f"{kind.geometry}_admin1")
        for col in cols:
            store.execute(f'CREATE INDEX IF NOT EXISTS "ix_{kind.table}_{col}" ON {kind.table} ("{col}")')


@register(410, "api: PostgreSQL indexes for every record filter, with the filter's own expressions and the list order")
def _filter_expression_indexes(store: Store) -> None:
    """Issue 15. The indexes of :func:`puente.api.query.filter_indexes`: e.g. seizures by (drug,
    LOWER(place_admin1), date DESC NULLS LAST, id). The single-column indexes of migration 403 are dropped:
    the state one never served ``LOWER(...)``, and the owner and date ones are the leading columns of these."""
    if not store.dialect.filter_indexes:
        return  # DuckDB scans columns with zone maps; ART indexes would only slow bulk ingest
    from puente.api.query import filter_indexes
    from puente.model import load_model
    from puente.store.migrations import create_kind_table

    for kind in load_model().kinds.values():
        if not store.table_columns(kind.table):  # a kind newer than the store (statistic): its table first
            create_kind_table(store, kind)
        for col in ["owner_node", kind.date_field, f"{kind.geometry}_admin1" if kind.geometry else None]:
            if col:
                store.execute(f'DROP INDEX IF EXISTS "ix_{kind.table}_{col}"')
        for name, cols in filter_indexes(kind).items():
            store.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON {kind.table} ({cols})')


@register(411, "api: rate-limit windows shared by every worker process")
def _rate_windows(store: Store) -> None:
    """Issue 15. Requests per client and minute, counted by one upsert per request; on PostgreSQL an UNLOGGED table
    (no WAL: a count lost in a crash only resets a minute's window)."""
    unlogged = store.dialect.unlogged
    store.execute(f"CREATE {unlogged}TABLE IF NOT EXISTS api_rate_windows (client TEXT NOT NULL, minute BIGINT NOT NULL, "
                  "used BIGINT NOT NULL, PRIMARY KEY (client, minute))")
