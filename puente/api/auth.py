"""Accounts, passwords (argon2id), API tokens and sessions (stored as SHA-256 of a random secret).

Roles: ``analyst`` reads records (partner records and sensitive fields only with a stated
purpose, which is logged), ``steward`` also sees provenance and the audit log, ``admin``
also manages accounts, ``partner-node`` is another node pulling what its agreement shares.
A login creates a session token that expires after ``session_minutes``; ``login_attempts``
failures in a row lock the account for ``lockout_minutes``, counted atomically in the store so that
concurrent guesses cannot get more attempts evaluated. Refused logins all look alike.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from puente.errors import UsageError
from puente.settings import setting
from puente.store import epoch
from puente.store.base import Store

ROLES = ("analyst", "steward", "admin", "partner-node")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a missing account takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("puente-dummy-password")


class AuthError(UsageError):
    """Login or token refused (the message never says which part was wrong)."""

    exit_code = 10


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    partner: str | None = None  # for partner-node accounts: the partner node's name
    lang: str | None = None

    @property
    def is_partner(self) -> bool:
        return self.role == "partner-node"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_new_user(username: str, role: str, partner: str | None = None) -> None:
    """Refuse an account that cannot be made, before anyone is asked for its password."""
    if role not in ROLES:
        raise UsageError("api_bad_role", role=role, roles=", ".join(ROLES))
    if not username or not all(c.isalnum() or c in "-_.@" for c in username):
        raise UsageError("api_bad_username", username=username)
    if role == "partner-node" and not partner:
        raise UsageError("api_partner_required")


def add_user(store: Store, username: str, role: str, password: str | None = None, partner: str | None = None,
             lang: str | None = None) -> None:
    check_new_user(username, role, partner)
    if role != "partner-node" and password is not None and len(password) < 10:
        raise UsageError("api_short_password")
    if store.scalar("SELECT COUNT(*) FROM api_users WHERE username = ?", [username]):
        raise UsageError("api_user_exists", username=username)
    hashed = _hasher.hash(password) if password else None
    with epoch.changing(store):  # accounts are what tokens stand for: servers holding any ask the store again
        store.execute("INSERT INTO api_users (username, password_hash, role, partner, lang, failed_logins, locked_until, "
                      "disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, NULL, FALSE, ?)",
                      [username, hashed, role, partner, lang, _now()])


def set_disabled(store: Store, username: str, disabled: bool) -> int:
    """Disable an account (its logins are refused like a wrong password, and every token and session it holds
    is revoked: the operator's way to cut off a leaked token, which only its holder could revoke before) or
    enable it again (revoked tokens stay revoked). Returns how many tokens were revoked."""
    if not store.scalar("SELECT COUNT(*) FROM api_users WHERE username = ?", [username]):
        raise UsageError("api_no_user", username=username)
    with epoch.changing(store), store.transaction():  # servers holding a checked token ask the store again
        store.execute("UPDATE api_users SET disabled = ? WHERE username = ?", [disabled, username])
        if not disabled:
            return 0
        live = int(store.scalar("SELECT COUNT(*) FROM api_tokens WHERE username = ? AND NOT COALESCE(revoked, FALSE)",
                                [username]) or 0)
        store.execute("UPDATE api_tokens SET revoked = TRUE WHERE username = ?", [username])
    return live


def set_password(store: Store, username: str, password: str) -> int:
    """Give an account a new password and revoke every token and session it holds (whoever held one, e.g. with
    the old password, must log in again); its run of failed logins and any lock end. Partner-node accounts have
    no password (they use tokens). Returns how many tokens and sessions were revoked."""
    rows = store.query("SELECT role FROM api_users WHERE username = ?", [username])
    if not rows:
        raise UsageError("api_no_user", username=username)
    if rows[0][0] == "partner-node":
        raise UsageError("api_passwd_partner_node", username=username)
    if len(password) < 10:
        raise UsageError("api_short_password")
    hashed = _hasher.hash(password)
    with epoch.changing(store), store.transaction():  # servers holding a checked token ask the store again
        store.execute("UPDATE api_users SET password_hash = ?, failed_logins = 0, locked_until = NULL "
                      "WHERE username = ?", [hashed, username])
        live = int(store.scalar("SELECT COUNT(*) FROM api_tokens WHERE username = ? AND NOT COALESCE(revoked, FALSE)",
                                [username]) or 0)
        store.execute("UPDATE api_tokens SET revoked = TRUE WHERE username = ?", [username])
    return live


def change_password(store: Store, username: str, old: str, new: str) -> int:
    """A logged-in user changes their own password: the old one is checked like a login (the same claim, so
    guessing it through this route counts toward the same lock), then :func:`set_password`."""
    limit = int(setting("login_attempts"))
    row = _claim(store, username, limit)
    stored = row[0] if row is not None and not row[1] else None
    if not _verify(stored, old):
        if row is not None:
            _lock(store, username, limit)
        raise UsageError("api_old_password_wrong", attempts=limit, minutes=int(setting("lockout_minutes")))
    try:
        return set_password(store, username, new)
    finally:  # a refused new password (too short) still ends the run the right old password proved
        store.retrying(lambda: store.execute(
            "UPDATE api_users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username]))


def list_users(store: Store) -> list[tuple[str, str, str | None, int, object, bool]]:
    rows = store.query("SELECT username, role, partner, failed_logins, locked_until, disabled FROM api_users "
                       "ORDER BY username")
    return [(r[0], r[1], r[2], int(r[3] or 0), r[4], bool(r[5])) for r in rows]


def _principal(store: Store, username: str) -> Principal | None:
    rows = store.query("SELECT role, partner, lang, disabled FROM api_users WHERE username = ?", [username])
    if not rows or rows[0][3]:
        return None
    return Principal(username, rows[0][0], rows[0][1], rows[0][2])


MAX_TOKEN_DAYS = 36500  # a token's lifetime; none at all is "never expires" (no --days)


def issue_token(store: Store, username: str, kind: str = "api", label: str = "", days: float | None = None) -> str:
    """A new secret token for ``username``; only its hash is stored. Shown once."""
    if _principal(store, username) is None:
        raise UsageError("api_no_user", username=username)
    if days is not None and not 0 < days <= MAX_TOKEN_DAYS:  # (NaN fails every comparison)
        raise UsageError("api_bad_days", days=days, most=MAX_TOKEN_DAYS)
    return _insert_token(store, username, kind, label, days)


def _insert_token(store: Store, username: str, kind: str, label: str = "", days: float | None = None) -> str:
    token = ("pts_" if kind == "session" else "pta_") + secrets.token_urlsafe(32)
    expires = None
    if kind == "session":
        expires = _now() + dt.timedelta(minutes=int(setting("session_minutes")))
    elif days:
        expires = _now() + dt.timedelta(days=days)
    store.retrying(lambda: store.execute(
        "INSERT INTO api_tokens (token_hash, username, kind, label, created_at, expires_at, last_used_at, revoked) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, FALSE)", [token_hash(token), username, kind, label, _now(), expires]))
    return token


# One statement claims an attempt before any password is checked, atomically (PostgreSQL: the row lock
# serializes concurrent claims and re-reads the row; DuckDB: one writer at a time, conflicts retried).
# ``failed_logins`` counts attempts since the last success, decided or still in flight; a claim is granted
# only while it is below the limit (or the lock has run out, which starts a new run). A locked or unknown
# account matches no row.
_CLAIM = (
    "UPDATE api_users SET failed_logins = CASE WHEN locked_until IS NULL THEN COALESCE(failed_logins, 0) + 1 ELSE 1 END, "
    "locked_until = NULL WHERE username = ? AND ((locked_until IS NULL AND COALESCE(failed_logins, 0) < ?) "
    "OR locked_until <= CAST(? AS TIMESTAMP)) RETURNING password_hash, disabled, role, partner, lang"
)
_LOCK = ("UPDATE api_users SET locked_until = CAST(? AS TIMESTAMP) WHERE username = ? "
         "AND COALESCE(failed_logins, 0) >= ? AND locked_until IS NULL")
CLAIM_WAIT_SECONDS = 20.0
_HASH_GATE = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))  # argon2id takes 64 MiB per hash


def _verify(stored: str | None, password: str) -> bool:
    """The password against ``stored``, or against a dummy hash when there is none (same work either way)."""
    with _HASH_GATE:
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def _lock(store: Store, username: str, limit: int) -> None:
    """Start the lock if the attempts since the last success reached the limit (and it has not started)."""
    until = _now() + dt.timedelta(minutes=int(setting("lockout_minutes")))
    store.retrying(lambda: store.execute(_LOCK, [until, username, limit]))


def _claim(store: Store, username: str, limit: int) -> tuple[Any, ...] | None:
    """Claim one attempt: the account's row, or None when it is unknown or locked. While ``limit`` attempts
    are in flight, wait for them to be decided: a success frees the account, and the failure that completes
    the run locks it. Attempts that are never decided (a crashed worker) count as failures."""
    deadline, pause = time.monotonic() + CLAIM_WAIT_SECONDS, 0.01
    while True:
        now = _now()
        rows = store.retrying(functools.partial(store.query, _CLAIM, [username, limit, now]))
        if rows:
            return rows[0]
        state = store.query("SELECT locked_until FROM api_users WHERE username = ?", [username])
        if not state or (state[0][0] is not None and state[0][0] > now):
            return None
        if time.monotonic() > deadline:
            _lock(store, username, limit)
            return None
        time.sleep(pause)
        pause = min(0.2, pause * 1.5)


def login(store: Store, username: str, password: str) -> tuple[str, Principal]:
    """Check a password; returns a session token.

    Every refusal (unknown user, wrong password, locked or disabled account) raises the same error after
    the same work: one claim and one argon2 verification. At most ``login_attempts`` attempts in a row
    are ever evaluated against the real hash, however many arrive at once; then the account stays locked
    ``lockout_minutes``. Concurrent logins with the right password all succeed (they take turns)."""
    limit = int(setting("login_attempts"))
    row = _claim(store, username, limit)
    stored, disabled, role, partner, lang = row if row is not None else (None, True, "", None, None)
    usable = stored is not None and not disabled
    ok = _verify(stored if usable else None, password) and usable
    if not ok:
        if row is not None:
            _lock(store, username, limit)
        raise AuthError("api_login_failed", attempts=limit, minutes=int(setting("lockout_minutes")))
    # the right password ends the run of failures (only someone who knows it can reset the count)
    store.retrying(lambda: store.execute(
        "UPDATE api_users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username]))
    if _hasher.check_needs_rehash(stored):
        new_hash = _hasher.hash(password)
        store.retrying(lambda: store.execute("UPDATE api_users SET password_hash = ? WHERE username = ?",
                                             [new_hash, username]))
    return _insert_token(store, username, "session"), Principal(username, role, partner, lang)


_AUTHENTICATE = ("SELECT u.username, u.role, u.partner, u.lang{extra} FROM api_tokens t "
                 "JOIN api_users u ON u.username = t.username "
                 "WHERE t.token_hash = ? AND NOT COALESCE(t.revoked, FALSE) AND NOT COALESCE(u.disabled, FALSE) "
                 "AND (t.expires_at IS NULL OR t.expires_at > CAST(? AS TIMESTAMP))")


def authenticate(store: Store, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None (unknown, revoked, expired, disabled user).

    Read from the store (one indexed join). Only the pre-routing answers (:mod:`puente.api.known`) remember it,
    and only while the change epoch (:mod:`puente.store.epoch`) says nothing changed: a logout or a revocation
    holds at once for every worker and every node process sharing the store."""
    rows = store.query(_AUTHENTICATE.format(extra=""), [token_hash(token), _now()])
    if not rows:
        return None
    return Principal(rows[0][0], rows[0][1], rows[0][2], rows[0][3])


def authenticate_at_version(store: Store, token: str) -> tuple[Principal, int, dt.datetime | None] | None:
    """:func:`authenticate`, the data version (:mod:`puente.store.versions`) and the token's expiry in one
    statement: the version is read before anything the caller reads next, as a cache keyed by it requires."""
    from puente.store import versions

    rows = store.query(_AUTHENTICATE.format(extra=f", ({versions.CURRENT}), t.expires_at"), [token_hash(token), _now()])
    if not rows:
        return None
    return Principal(rows[0][0], rows[0][1], rows[0][2], rows[0][3]), int(rows[0][4] or 0), rows[0][5]


def revoke(store: Store, token: str) -> None:
    """Revoke a token (a logout revokes its session token), announced by the change epoch once committed."""
    with epoch.changing(store):
        store.retrying(lambda: store.execute("UPDATE api_tokens SET revoked = TRUE WHERE token_hash = ?",
                                             [token_hash(token)]))
