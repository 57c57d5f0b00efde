"""Ctrl-C (SIGINT) that is never lost and never lands inside a commit.

:func:`install` (called by the CLI) replaces Python's default SIGINT handler with one that
remembers the signal before raising :class:`KeyboardInterrupt`, so the CLI exits 130 even
when a library turned the interrupt into something else (Typer returns it as an exit code,
a database driver may raise its own error). Inside :func:`uninterrupted` (a store's COMMIT)
the signal is only remembered: the commit either happens whole and is reported, or the
interrupt arrived before it and the transaction rolls back. After such a deferred signal
the CLI stops at the next file boundary (:func:`check`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class _State:
    received = False
    held = 0


def _handler(signum: int, frame: FrameType | None) -> None:
    _State.received = True
    if not _State.held:
        raise KeyboardInterrupt


Handler = Callable[[int, FrameType | None], Any] | int | None


def install() -> Handler:
    """Route SIGINT through :func:`_handler` (main thread only, and only where SIGINT has Python's
    default handler: an ignored SIGINT stays ignored). Returns the handler to :func:`restore`."""
    _State.received = False
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, _handler)
    return previous


def restore(previous: Handler) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, previous)


def received() -> bool:
    """Whether SIGINT arrived since :func:`install`."""
    return _State.received


def check() -> None:
    """Raise the KeyboardInterrupt a deferred SIGINT asked for (call at a safe boundary)."""
    if _State.received:
        raise KeyboardInterrupt


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGINT off for a short critical step (a COMMIT); it is remembered, not lost."""
    _State.held += 1
    try:
        yield
    finally:
        _State.held -= 1
