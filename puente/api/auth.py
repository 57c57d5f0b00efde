"""Accounts, passwords (argon2id), API tokens and sessions (stored as SHA-256 of a random secret).

Roles: ``analyst`` reads records (partner records and sensitive fields only with a stated
purpose, which is logged), ``steward`` also sees provenance and the audit log, ``admin``
also manages accounts, ``partner-node`` is another node pulling what its agreement shares.
A login creates a session token that expires after ``session_minutes``; ``login_attempts``
failures in a row lock the account for ``lockout_minutes``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from puente.errors import UsageError
from puente.settings import setting
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


def add_user(store: Store, username: str, role: str, password: str | None = None, partner: str | None = None,
             lang: str | None = None) -> None:
    if role not in ROLES:
        raise UsageError("api_bad_role", role=role, roles=", ".join(ROLES))
    if not username or not all(c.isalnum() or c in "-_.@" for c in username):
        raise UsageError("api_bad_username", username=username)
    if role == "partner-node" and not partner:
        raise UsageError("api_partner_required")
    if role != "partner-node" and password is not None and len(password) < 10:
        raise UsageError("api_short_password")
    if store.scalar("SELECT COUNT(*) FROM api_users WHERE username = ?", [username]):
        raise UsageError("api_user_exists", username=username)
    hashed = _hasher.hash(password) if password else None
    store.execute("INSERT INTO api_users (username, password_hash, role, partner, lang, failed_logins, locked_until, "
                  "disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, NULL, FALSE, ?)",
                  [username, hashed, role, partner, lang, _now()])


def list_users(store: Store) -> list[tuple[str, str, str | None, int, object, bool]]:
    rows = store.query("SELECT username, role, partner, failed_logins, locked_until, disabled FROM api_users "
                       "ORDER BY username")
    return [(r[0], r[1], r[2], int(r[3] or 0), r[4], bool(r[5])) for r in rows]


def _principal(store: Store, username: str) -> Principal | None:
    rows = store.query("SELECT role, partner, lang, disabled FROM api_users WHERE username = ?", [username])
    if not rows or rows[0][3]:
        return None
    return Principal(username, rows[0][0], rows[0][1], rows[0][2])


def issue_token(store: Store, username: str, kind: str = "api", label: str = "", days: float | None = None) -> str:
    """A new secret token for ``username``; only its hash is stored. Shown once."""
    if _principal(store, username) is None:
        raise UsageError("api_no_user", username=username)
    token = ("pts_" if kind == "session" else "pta_") + secrets.token_urlsafe(32)
    expires = None
    if kind == "session":
        expires = _now() + dt.timedelta(minutes=int(setting("session_minutes")))
    elif days:
        expires = _now() + dt.timedelta(days=days)
    store.execute("INSERT INTO api_tokens (token_hash, username, kind, label, created_at, expires_at, last_used_at, "
                  "revoked) VALUES (?, ?, ?, ?, ?, ?, NULL, FALSE)",
                  [token_hash(token), username, kind, label, _now(), expires])
    return token


def login(store: Store, username: str, password: str) -> tuple[str, Principal]:
    """Check a password; returns a session token. Failures count towards a temporary lock."""
    rows = store.query("SELECT password_hash, failed_logins, locked_until, disabled FROM api_users WHERE username = ?",
                       [username])
    now = _now()
    if not rows:
        try:
            _hasher.verify(_DUMMY_HASH, password + "x")
        except VerificationError:
            pass
        raise AuthError("api_login_failed")
    stored, failed, locked_until, disabled = rows[0]
    if locked_until is not None and locked_until > now:
        raise AuthError("api_locked", minutes=max(1, int((locked_until - now).total_seconds() // 60) + 1))
    ok = False
    if stored and not disabled:
        try:
            ok = _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
    if not ok:
        failed = int(failed or 0) + 1
        lock = None
        if failed >= int(setting("login_attempts")):
            lock, failed = now + dt.timedelta(minutes=int(setting("lockout_minutes"))), 0
        store.execute("UPDATE api_users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                      [failed, lock, username])
        if lock is not None:
            raise AuthError("api_locked", minutes=int(setting("lockout_minutes")))
        raise AuthError("api_login_failed")
    store.execute("UPDATE api_users SET failed_logins = 0, locked_until = NULL WHERE username = ?", [username])
    if _hasher.check_needs_rehash(stored):
        store.execute("UPDATE api_users SET password_hash = ? WHERE username = ?", [_hasher.hash(password), username])
    principal = _principal(store, username)
    assert principal is not None
    return issue_token(store, username, kind="session"), principal


def authenticate(store: Store, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None (unknown, revoked, expired, disabled user)."""
    rows = store.query("SELECT username, expires_at, revoked FROM api_tokens WHERE token_hash = ?", [token_hash(token)])
    if not rows:
        return None
    username, expires, revoked = rows[0]
    if revoked or (expires is not None and expires <= _now()):
        return None
    return _principal(store, username)


def revoke(store: Store, token: str) -> None:
    store.execute("UPDATE api_tokens SET revoked = TRUE WHERE token_hash = ?", [token_hash(token)])
