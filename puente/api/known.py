"""What a server process knows without asking the store: tokens it has checked and the data version, for as long
as the change epoch (:mod:`puente.store.epoch`) reads exactly as it did before they were read (issue 15).

Every token revocation, logout, account change and committed change to the records moves the epoch once it has
committed (and before the call that made it returns), so a token revoked in any process is refused by the very
next request to every worker. When the epoch moved, is in flight, or cannot be read (missing, truncated, torn),
nothing is known: the caller asks the store, and what it reads is kept under the epoch read *before* the query.
A token's expiry is checked on every use.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from puente.api.auth import Principal, token_hash
from puente.store import epoch

MAX_TOKENS = 10_000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Known:
    """Tokens (by hash: principal and expiry) and the data version, valid under one epoch."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.epoch: epoch.Epoch | None = None
        self.version = -1
        self.tokens: dict[str, tuple[Principal, dt.datetime | None]] = {}
        self.next_repair = 0.0
        self.hits = self.asks = 0

    def lookup(self, token: str) -> tuple[Principal, int] | None:
        """The token's principal and the data version, without the store; None: ask it."""
        seen = epoch.read(self.path)
        if seen is None:
            return None
        key = token_hash(token)
        with self.lock:
            if seen != self.epoch:
                return None
            entry = self.tokens.get(key)
            version = self.version
        if entry is None or (entry[1] is not None and entry[1] <= _now()):
            return None
        self.hits += 1
        return entry[0], version

    def before_query(self) -> epoch.Epoch | None:
        """The epoch to keep what the next query reads under (read before it); repairs the file at most once a
        second when it does not read settled (created, damaged, a writer gone)."""
        self.asks += 1
        seen = epoch.read(self.path)
        if seen is None and self.path is not None and time.monotonic() >= self.next_repair:
            self.next_repair = time.monotonic() + 1.0
            if epoch.repair(self.path):
                seen = epoch.read(self.path)
        return seen

    def learn(self, seen: epoch.Epoch | None, token: str, who: Principal, version: int,
              expires: dt.datetime | None) -> None:
        """Keep what a query read after ``seen`` was read (nothing when ``seen`` is None)."""
        if seen is None:
            return
        with self.lock:
            if seen != self.epoch:  # the epoch moved: everything known before is dropped
                self.tokens.clear()
                self.epoch, self.version = seen, version
            elif version != self.version:  # changed without moving the epoch (a writer outside Puente): trust nothing
                self.tokens.clear()
                self.epoch = None
                return
            if len(self.tokens) >= MAX_TOKENS:
                self.tokens.clear()
            self.tokens[token_hash(token)] = (who, expires)

    def forget(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.epoch = None
