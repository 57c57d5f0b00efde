"""The change epoch: a small file that every process changing what the API may cache (tokens, accounts, records)
bumps *after* its change commits, so a server process can tell "nothing changed since I last asked the store" in
microseconds, without a query (issue 15).

The file (``<database>.epoch`` beside a DuckDB file; ``store.epoch`` in the node home for PostgreSQL, see
:func:`path_for`) holds a random file id, a counter and the writers in flight::

    0   magic  b"PUEPOCH1"
    8   file id (16 random bytes, new whenever the file is created)
    24  counter (u64): +1 when a change starts, +1 when it ends
    32  pending (u64): changes started and not yet ended
    40  CRC-32 of bytes 0-39
    48  64 slots of (pid u32, count u32): who is in flight (the last slot also takes any overflow, pid 0)

A writer (:func:`changing`) takes ``flock`` on the file, counts itself in (counter +1, its slot +1), makes the
change, and once the change's transaction has ended (committed or rolled back; at once outside a transaction)
counts itself out (counter +1, slot -1). A reader (:func:`read`) trusts what it read from the store after reading
``(file id, counter)`` with nothing pending for as long as the file still says exactly that: any change that
reader did not see ends after the reader's read, so it moves the counter.

It fails safe. A missing, unreadable, truncated or torn file (bad magic or CRC) and a file with a change in
flight read as ``None``: the caller asks the store. A writer that dies after its commit leaves its slot behind,
so readers keep asking the store until a process finds the writer gone (:func:`repair`, which any reader or
writer runs: the slot is dropped and the counter moved). A writer that cannot update an existing file refuses
the change (``store_epoch_unwritable``) rather than make it unannounced. A file replaced by another (deleted,
restored from a copy) has another id or counter: readers ask the store again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from puente.errors import StoreError
from puente.store.base import Store, store_file

MAGIC = b"PUEPOCH1"
_HEAD = struct.Struct("<8s16sQQ")  # magic, file id, counter, pending: 40 bytes, then the CRC (u32) and 4 spare
_SLOT = struct.Struct("<II")
SLOTS = 64
SIZE = 48 + SLOTS * _SLOT.size
Epoch = tuple[bytes, int]  # (file id, counter): what a reader compares

_attached: dict[str, Path] = {}  # store URL -> epoch file, for stores whose file the URL does not tell


def attach(url: str, path: Path) -> None:
    """Where changes to the store at ``url`` are announced (a node attaches its home's file to its store)."""
    _attached[url] = path


def path_for(url: str) -> Path | None:
    """The epoch file of the store at ``url``: beside a DuckDB file (every process that can open the file finds
    it), else the file a node attached (PostgreSQL: ``store.epoch`` in the node home); None for memory stores and
    stores no node attached, whose readers always ask the store."""
    database = store_file(url)
    if database is not None:
        return Path(database + ".epoch").absolute()
    return _attached.get(url)


def _pack(file_id: bytes, counter: int, slots: list[tuple[int, int]]) -> bytes:
    pending = sum(count for _, count in slots)
    head = _HEAD.pack(MAGIC, file_id, counter, pending)
    body = b"".join(_SLOT.pack(pid, count) for pid, count in slots)
    return head + struct.pack("<I", zlib.crc32(head)) + b"\0" * 4 + body.ljust(SLOTS * _SLOT.size, b"\0")


def _unpack_head(data: bytes) -> tuple[bytes, int, int] | None:
    """(file id, counter, pending) of a well-formed header, else None."""
    if len(data) < 44:
        return None
    magic, file_id, counter, pending = _HEAD.unpack_from(data)
    if magic != MAGIC or struct.unpack_from("<I", data, 40)[0] != zlib.crc32(data[:40]):
        return None
    return file_id, counter, pending


def read(path: Path | None) -> Epoch | None:
    """``(file id, counter)`` if the file is whole and no change is in flight, else None (ask the store)."""
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.pread(fd, 44, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    head = _unpack_head(data)
    if head is None or head[2] != 0:
        return None
    return head[0], head[1]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # the overflow slot: nobody can tell, so it stays (readers keep asking the store)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


@contextlib.contextmanager
def _locked(path: Path, create: bool) -> Iterator[tuple[int, bytes, int, list[tuple[int, int]]] | None]:
    """The file open and ``flock``-ed, with its (fd, file id, counter, slots), a damaged file started afresh;
    None when it does not exist and ``create`` is false, or cannot be created."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:  # not there (or its directory is not): nobody can read it, nothing to announce
        yield None
        return
    except OSError:  # not writable (permissions, a directory in its place)
        if path.exists():
            raise StoreError("store_epoch_unwritable", path=str(path)) from None
        yield None  # nobody can read a file that is not there: nothing to announce
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = os.pread(fd, SIZE, 0)
        head = _unpack_head(data)
        if head is None or len(data) < SIZE:  # new, truncated or damaged: a new file id, so readers ask again
            file_id, counter, slots = secrets.token_bytes(16), 0, []
        else:
            file_id, counter = head[0], head[1]
            slots = [s for s in (_SLOT.unpack_from(data, 48 + i * _SLOT.size) for i in range(SLOTS)) if s[1] > 0]
        yield fd, file_id, counter, slots
    finally:
        os.close(fd)  # releases the lock


def _write(fd: int, file_id: bytes, counter: int, slots: list[tuple[int, int]]) -> None:
    os.pwrite(fd, _pack(file_id, counter, slots), 0)


def _count(path: Path, step: int) -> None:
    """Count this process in (+1) or out (-1) of the changes in flight, moving the counter either way."""
    pid = os.getpid()
    with _locked(path, create=step > 0) as opened:
        if opened is None:
            return
        fd, file_id, counter, slots = opened
        slots = [s for s in slots if _alive(s[0]) or s[0] == pid]  # writers gone: their changes have ended
        mine = next((i for i, s in enumerate(slots) if s[0] == pid), None)
        if mine is not None:
            slots[mine] = (pid, max(0, slots[mine][1] + step))
        elif step > 0:
            if len(slots) < SLOTS:
                slots.append((pid, 1))
            else:  # more writers than slots: the overflow slot (never taken for gone)
                slots[-1] = (0, slots[-1][1] + 1)
        elif slots and slots[-1][0] == 0:
            slots[-1] = (0, slots[-1][1] - 1)
        try:
            _write(fd, file_id, counter + 1, [s for s in slots if s[1] > 0])
        except OSError:
            raise StoreError("store_epoch_unwritable", path=str(path)) from None


def repair(path: Path | None) -> bool:
    """Make the file whole (created, or started afresh with a new file id when damaged) and drop the slots of
    writers that are gone (moving the counter); True if it now reads settled. Safe at any time: a reader that
    trusted the old file sees another id or counter."""
    if path is None:
        return False
    try:
        with _locked(path, create=True) as opened:
            if opened is None:
                return False
            fd, file_id, counter, slots = opened
            alive = [s for s in slots if _alive(s[0])]
            if alive != slots or _unpack_head(os.pread(fd, 44, 0)) is None or os.fstat(fd).st_size < SIZE:
                _write(fd, file_id, counter + 1, alive)
    except (OSError, StoreError):
        return False
    return read(path) is not None


@contextlib.contextmanager
def changing(store: Store) -> Iterator[None]:
    """Announce a change made inside the block: counted in before it, counted out once the store's transaction
    ends (committed or rolled back), or at once when the block ran outside a transaction."""
    path = path_for(store.url)
    if path is None:
        yield
        return
    _count(path, +1)
    try:
        yield
    finally:
        store.after_end(lambda: _count(path, -1))
