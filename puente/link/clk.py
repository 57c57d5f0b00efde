"""Keyed Bloom-filter encodings (CLKs) of several identifying fields per record.

Each record becomes one 1024-bit filter (a cryptographic long-term key, Schnell et al.
2011). Every field is tokenized (bigrams of the Spanish phonetic key for names, whole
tokens for dates and identifiers), and each token sets ``k`` bits chosen by double hashing
with a keyed BLAKE2b whose key is derived from the secret the two nodes share and the
field's name. Without the secret, nobody can test a guessed name against a filter
(the dictionary attack on unkeyed CLKs). Similar records give similar filters: the Dice
coefficient of two filters approximates the similarity of the underlying values.

The same normalization as entity resolution is applied first (nicknames resolved,
surnames order-free, particles and accents dropped), so Pancho/Francisco and swapped
surnames still hit. We wrote the encoder (rather than use clkhash's schema files) so that
it is vectorized and shares the normalization; anonlink is used as the reference
implementation of the Dice comparison in the tests and the benchmark.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import numpy as np
import pandas as pd

from puente.link import normalize as nz

BITS = 1024
BYTES = BITS // 8


def derive(secret: bytes, label: str) -> bytes:
    """A sub-key of the shared secret for one purpose (field hashing, MAC, key id, blocking)."""
    return hmac.new(secret, b"puente-hits\x1f" + label.encode(), hashlib.sha256).digest()


def key_id(secret: bytes) -> str:
    """A public fingerprint of the secret: tells a partner which secret we used, reveals nothing of it."""
    return derive(secret, "key-id").hex()[:16]


def _bigrams(word: str) -> list[str]:
    padded = f"_{word}_"
    return [padded[i:i + 2] for i in range(len(padded) - 1)]


# -- field tokenizers: value(s) of a record -> tokens ----------------------------------------
def _given_tokens(row: dict[str, Any]) -> list[str]:
    first = nz.first_given(row.get("given_names"))
    return _bigrams(first) if first else []


def _surname_tokens(row: dict[str, Any]) -> list[str]:
    s1, s2 = nz.split_surnames(row.get("surname1"), row.get("surname2"))
    out: list[str] = []
    for key in nz.surname_keys(s1, s2):  # order-free: a swap gives the same tokens
        out.extend(_bigrams(key))
    return out


def _date_tokens(row: dict[str, Any]) -> list[str]:
    """Birth date as three tokens: the full date, the year, the order-free day and month (so a
    dd/mm swap still agrees on two of three). Weighted (k) so that the same names with another
    birth date fall below the threshold while a date missing on one side still hits. The two pull
    against each other (with name bits N and date bits D, a missing date hits when D <= N/2, another
    date misses when D > N/4 + the shared year's bits), so short names sit at the edge: k = 32 was
    measured best on the simulator's people (F1 0.97-0.98; k = 40 lost short names whose date was
    missing on one side, k = 26 let same-name people with other dates through)."""
    value = row.get("birth_date")
    if nz.is_missing(value):
        return []
    stamp = pd.to_datetime(value, errors="coerce")
    if pd.isna(stamp):
        return []
    day_month = "".join(sorted((f"{stamp.month:02d}", f"{stamp.day:02d}")))
    return [f"d:{stamp:%Y%m%d}", f"y:{stamp.year}", f"md:{day_month}"]


def _ident_tokens(field: str, stem: Callable[[Any], str | None] | None = None,
                  grams: bool = True) -> Callable[[dict[str, Any]], list[str]]:
    def tokens(row: dict[str, Any]) -> list[str]:
        value = nz.compact(row.get(field))
        if not value:
            return []
        out = [f"id:{value}"] + (_bigrams(value) if grams else [])
        if stem:
            s = stem(value)
            if s:
                out.append(f"stem:{s}")
        return out

    return tokens


@dataclass(frozen=True)
class FieldEncoding:
    name: str  # the model field(s) it reads, as named in an agreement
    tokens: Callable[[dict[str, Any]], list[str]]
    k: int  # bits per token


FIELDS: dict[str, dict[str, FieldEncoding]] = {
    "person": {
        "given_names": FieldEncoding("given_names", _given_tokens, 20),
        "surnames": FieldEncoding("surnames", _surname_tokens, 14),
        "birth_date": FieldEncoding("birth_date", _date_tokens, 32),
        # whole CURP and its stem only: bigrams would weigh it so much that a record without one
        # (most U.S. records) could no longer reach the threshold
        "curp": FieldEncoding("curp", _ident_tokens("curp", lambda c: nz.curp_parts(c)["curp_stem"], grams=False), 12),
        "id_number": FieldEncoding("id_number", _ident_tokens("id_number"), 6),
    },
    "vehicle": {
        "vin": FieldEncoding("vin", _ident_tokens("vin"), 12),
        "plate": FieldEncoding("plate", _ident_tokens("plate"), 12),
    },
    "firearm_trace": {
        "serial": FieldEncoding("serial", _ident_tokens("serial"), 14),
        "make": FieldEncoding("make", lambda r: [f"m:{nz.org_key(r.get('make')) or ''}"] if r.get("make") else [], 30),
    },
}
DEFAULT_FIELDS = {"person": ["given_names", "surnames", "birth_date", "curp"], "vehicle": ["vin", "plate"],
                  "firearm_trace": ["serial", "make"]}
# Model fields each encoded field reads (an agreement names model fields).
SOURCE_FIELDS = {"surnames": ("surname1", "surname2")}


def source_fields(fields: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for f in fields:
        out.update(SOURCE_FIELDS.get(f, (f,)))
    return out


class Encoder:
    """Encode records of one kind under one shared secret."""

    def __init__(self, secret: bytes, kind: str, fields: list[str]) -> None:
        from puente.errors import UsageError

        if kind not in FIELDS:
            raise UsageError("hits_unknown_kind", kind=kind, kinds=", ".join(FIELDS))
        unknown = [f for f in fields if f not in FIELDS[kind]]
        if unknown or not fields:
            raise UsageError("hits_unknown_fields", fields=", ".join(unknown) or "-",
                             known=", ".join(FIELDS[kind]))
        self.kind, self.fields = kind, list(fields)
        self._specs = [FIELDS[kind][f] for f in self.fields]
        self._keys = {f: derive(secret, f"field:{kind}:{f}") for f in self.fields}
        self._positions = lru_cache(maxsize=500_000)(self._positions_uncached)
        self._value_cache: dict[tuple[str, tuple[Any, ...]], np.ndarray] = {}

    def _positions_uncached(self, field: str, token: str) -> np.ndarray:
        digest = hashlib.blake2b(token.encode(), key=self._keys[field], digest_size=16).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:], "little") | 1
        k = FIELDS[self.kind][field].k
        return np.array([(h1 + i * h2) % BITS for i in range(k)], dtype=np.int32)

    def _field_positions(self, spec: FieldEncoding, row: dict[str, Any]) -> np.ndarray | None:
        """All bit positions one field of one record sets (cached by the field's raw value)."""
        raw = tuple(_hashable(row.get(f)) for f in _READS.get(spec.name, (spec.name,)))
        key = (spec.name, raw)
        hit = self._value_cache.get(key)
        if hit is None:
            tokens = spec.tokens(row)
            hit = (np.unique(np.concatenate([self._positions(spec.name, tok) for tok in tokens]))
                   if tokens else _EMPTY)
            if len(self._value_cache) < 2_000_000:
                self._value_cache[key] = hit
        return hit

    def encode(self, records: Iterable[dict[str, Any]], chunk: int = 50_000) -> np.ndarray:
        """Records -> uint8 array of shape (n, 128): one packed 1024-bit filter per record."""
        out: list[np.ndarray] = []
        rows_buf: list[np.ndarray] = []
        pos_buf: list[np.ndarray] = []
        n = 0

        def flush(count: int) -> None:
            bits = np.zeros((count, BITS), dtype=bool)
            if pos_buf:
                bits[np.concatenate(rows_buf), np.concatenate(pos_buf)] = True
            out.append(np.packbits(bits, axis=1))
            rows_buf.clear()
            pos_buf.clear()

        for row in records:
            for spec in self._specs:
                pos = self._field_positions(spec, row)
                if pos is not None and len(pos):
                    pos_buf.append(pos)
                    rows_buf.append(np.full(len(pos), n, dtype=np.int32))
            n += 1
            if n == chunk:
                flush(n)
                n = 0
        if n or not out:
            flush(n)
        return np.concatenate(out) if len(out) > 1 else out[0]


_EMPTY = np.empty(0, dtype=np.int32)
_READS = SOURCE_FIELDS


def _hashable(value: Any) -> Any:
    if nz.is_missing(value):
        return None
    return str(value)


def popcount(packed: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, np.bitwise_count(packed).sum(axis=-1, dtype=np.int32))


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice coefficient of aligned rows of two packed arrays."""
    inter = np.bitwise_count(a & b).sum(axis=-1, dtype=np.int32)
    total = popcount(a) + popcount(b)
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 0.0)
