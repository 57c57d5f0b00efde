"""The API's response cache: answers keyed by the caller's view and the normalised query, valid for one data version.

An entry is made under the data version read *before* the records were read (:mod:`puente.store.versions`), so
an entry can never be older than its version; every committed ingest, import, revocation, purge or agreement
change bumps the version, and an entry of an older version is never served. Keys always include the caller's
view (role, partner, purpose, and the columns, row scope and withheld fields it decided), so two views never
share an entry. One request at a time fills a given entry; the others wait for it and use what it made. Reads
that must be audited are audited by the caller on hits too (the entry keeps the ids and owners for that).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class VersionedCache:
    """A least-recently-used map of at most ``max_bytes`` (as the makers size their values), for one data version
    at a time: seeing a newer version drops every older entry."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.filling: dict[Hashable, threading.Lock] = {}
        self.version = -1
        self.size = 0
        self.hits = self.misses = 0

    def get_or_make(self, key: Hashable, version: int, make: Callable[[], tuple[T, int]]) -> tuple[T, bool]:
        """The value for ``key`` under ``version`` and whether it came from the cache; ``make`` returns the value
        and its size in bytes. Only one caller at a time makes a given (key, version)."""
        if self.max_bytes <= 0:
            return make()[0], False
        with self.lock:
            found = self._lookup(key, version)
            if found is not None:
                return found, True
            gate = self.filling.setdefault((key, version), threading.Lock())
        with gate:  # one refresh per entry at a time: later callers wait, then find it
            with self.lock:
                found = self._lookup(key, version)
                if found is not None:
                    return found, True
                self.misses += 1
            try:
                value, size = make()
            finally:
                with self.lock:
                    self.filling.pop((key, version), None)
            self.put(key, version, value, size)
        return value, False

    def peek(self, key: Hashable, version: int) -> Any:
        """The value for ``key`` under ``version``, or None (nothing is made)."""
        if self.max_bytes <= 0:
            return None
        with self.lock:
            return self._lookup(key, version)

    def put(self, key: Hashable, version: int, value: Any, size: int) -> None:
        """Keep ``value`` (``size`` bytes) for ``key`` if ``version`` is still the current one."""
        with self.lock:
            self._advance(version)
            if version == self.version and 0 < self.max_bytes and size <= self.max_bytes // 4:
                old = self.entries.pop(key, None)
                self.size -= old[1] if old else 0
                self.entries[key] = (value, size)
                self.size += size
                while self.size > self.max_bytes and self.entries:
                    _, (_, dropped) = self.entries.popitem(last=False)
                    self.size -= dropped

    def _advance(self, version: int) -> None:
        if version > self.version:  # the data changed: nothing cached before can be served again
            self.entries.clear()
            self.size, self.version = 0, version

    def _lookup(self, key: Hashable, version: int) -> Any:
        self._advance(version)
        if version != self.version:  # a reader that saw an older version: neither served nor stored
            return None
        entry = self.entries.get(key)
        if entry is None:
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0
