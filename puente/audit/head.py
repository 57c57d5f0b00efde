"""Signed heads kept outside the store, so an insider with database access but no signing key
cannot quietly cut the log.

``<home>/audit/head.json``          the latest checkpoint this node ever signed (written after each
                                    append commits; it only moves forward).
``<home>/audit/witness/<node>.json`` the latest checkpoint a partner countersigned (its cosignature).

A node made by the previous release has no head file: :func:`ensure_head` writes it from the
store's signed head on first open, and records that in the log. ``puente audit verify`` then
checks that the stored log still contains every head kept here.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from puente.audit.checkpoint import Checkpoint, public_key_from_pem

COSIGNATURE_HEADER = "puente-cosignature/v1"


def audit_dir(home: Path) -> Path:
    return home / "audit"


def head_path(home: Path) -> Path:
    return audit_dir(home) / "head.json"


def witness_path(home: Path, witness: str) -> Path:
    return audit_dir(home) / "witness" / f"{witness}.json"


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    path = audit_dir(home)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, sort_keys=True, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def read_head(home: Path) -> Checkpoint | None:
    """The head kept outside the store (None: no file). A malformed file raises ValueError."""
    doc = _read(head_path(home))
    if doc is None:
        return None
    try:
        return Checkpoint.from_dict(doc["checkpoint"])
    except KeyError as exc:  # an emptied or garbled file reads as {}: say what is missing, not KeyError('checkpoint')
        raise ValueError(f"{head_path(home)} is malformed: it holds no {exc.args[0]!r} entry") from None
    except TypeError:
        raise ValueError(f"{head_path(home)} is malformed: its 'checkpoint' entry is not a signed checkpoint") from None
    except ValueError as exc:
        raise ValueError(f"{head_path(home)} is malformed: {exc}") from None


def record_head(home: Path, checkpoint: Checkpoint) -> None:
    """Keep ``checkpoint`` as the latest signed head unless a larger one is already kept (never backwards)."""
    with _locked(home):
        try:
            current = read_head(home)
        except ValueError:
            current = None
        if current is not None and current.size >= checkpoint.size:
            return
        _write_atomic(head_path(home), {"checkpoint": checkpoint.to_dict()})


def ensure_head(node: Any, store: Any) -> None:
    """Create the head file from the store's signed head when there is none (a node of the previous release)."""
    if head_path(node.home).exists():
        return
    from puente.audit import log

    if not store.table_columns("audit_head") or not store.scalar("SELECT COUNT(*) FROM audit_head"):
        return
    checkpoint = log.latest_checkpoint(store, node)
    record_head(node.home, checkpoint)
    log.append(store, node, "node", "audit_head_file", [], None,
               f"signed head kept outside the store created from the store's head of {checkpoint.size} entries")


@dataclass(frozen=True)
class Cosigned:
    """A partner's cosignature over one of this node's checkpoints."""

    witness: str
    at: str
    checkpoint: Checkpoint
    signature: bytes
    witness_key: str  # PEM

    def body(self) -> bytes:
        return cosignature_body(self.witness, self.at, self.checkpoint)

    def valid(self) -> bool:
        try:
            public_key_from_pem(self.witness_key).verify(self.signature, self.body())
        except (InvalidSignature, TypeError, ValueError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"type": COSIGNATURE_HEADER, "witness": self.witness, "at": self.at,
                "checkpoint": self.checkpoint.to_dict(), "signature": base64.b64encode(self.signature).decode(),
                "witness_key": self.witness_key}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Cosigned:
        if doc.get("type") != COSIGNATURE_HEADER:
            raise ValueError("not a Puente cosignature")
        return cls(str(doc["witness"]), str(doc["at"]), Checkpoint.from_dict(doc["checkpoint"]),
                   base64.b64decode(doc["signature"]), str(doc.get("witness_key", "")))


def cosignature_body(witness: str, at: str, checkpoint: Checkpoint) -> bytes:
    """What a witness signs: a header, its name and the time, then the checkpoint's signed body."""
    return f"{COSIGNATURE_HEADER}\n{witness}\n{at}\n".encode() + checkpoint.body()


def record_cosigned(home: Path, cosigned: Cosigned) -> None:
    with _locked(home):
        path = witness_path(home, cosigned.witness)
        current = _read(path)
        if current:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                if Cosigned.from_dict(current).checkpoint.size >= cosigned.checkpoint.size:
                    return
        _write_atomic(path, cosigned.to_dict())


def witnessed(home: Path) -> list[Cosigned | str]:
    """Every partner's latest cosignature kept here (a file name where one is malformed)."""
    folder = audit_dir(home) / "witness"
    out: list[Cosigned | str] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(Cosigned.from_dict(_read(path) or {}))
        except (KeyError, TypeError, ValueError):
            out.append(path.name)
    return out
