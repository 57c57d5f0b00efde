"""Keyed Bloom-filter encodings of a record, one filter per field (field-level CLKs).

Each encoded field gets its own segment of the record's bit vector (Schnell et al. 2009;
per-field filters as in clkhash's schema). A field's value is tokenized (bigrams of the
Spanish phonetic key for names, date parts for dates, whole tokens and bigrams for
identifiers), and each token sets ``k`` bits of its segment chosen by double hashing with a
keyed BLAKE2b. The key is derived from the matching key of one agreement version and one
direction (``hits.matching_key``), so an encoding made for one agreement cannot be compared
under another, and nobody without the shared secret can test a guessed name against it.

Per-field segments are what make the comparison (``clkmatch``) right, not just a single
Dice: the answering node scores each field on its own, so a conflicting birth date can veto
a namesake, a missing field stays neutral instead of diluting the others, given and family
names can be compared crosswise (they share one key and one segment size, so a swap is
found), and it can check that every encoding carries the agreement's minimum set of fields
(a segment is empty exactly when the field is missing).

The same normalization as entity resolution is applied first (nicknames resolved,
surnames order-free, particles and accents dropped), so Pancho/Francisco and swapped
surnames still hit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from puente.link import normalize as nz


def derive(secret: bytes, label: str) -> bytes:
    """A sub-key of a key for one purpose (field hashing, MAC, key id, blocking)."""
    return hmac.new(secret, b"puente-hits\x1f" + label.encode(), hashlib.sha256).digest()


def key_id(secret: bytes) -> str:
    """A public fingerprint of a key: tells a partner which key we used, reveals nothing of it."""
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
    for key in nz.surname_keys(s1, s2):  # order-free: a swap of the two surnames gives the same tokens
        out.extend(_bigrams(key))
    return out


def _date_tokens(row: dict[str, Any]) -> list[str]:
    """Birth date as parts, so that one typo keeps part of the similarity and another person's date
    keeps almost none: the year (twice, it weighs most), year-month, month-day, the order-free
    day-and-month (a dd/mm swap still agrees) and the whole date. A namesake born in another year
    shares at most the month and day (1 in 365); a typo in the day keeps 3 of 6 parts. A record without
    a birth date but with a CURP is encoded with the date the CURP states (:meth:`Encoder.encode`)."""
    value = row.get("birth_date")
    if nz.is_missing(value):
        return []
    stamp = _as_date(value)
    if stamp is None:
        return []
    mm, dd = f"{stamp.month:02d}", f"{stamp.day:02d}"
    return [f"y:{stamp.year}", f"y2:{stamp.year}", f"ym:{stamp.year}{mm}", f"md:{mm}{dd}",
            f"dm:{''.join(sorted((mm, dd)))}", f"d:{stamp:%Y%m%d}"]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _as_date(value: Any) -> dt.date | None:
    """A birth date as a date (None if it is not one): dates and ISO text directly, anything else as pandas reads it."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    stamp = pd.to_datetime(value, errors="coerce")
    return None if pd.isna(stamp) else cast(dt.date, stamp)


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


_ADDRESS_PARTS = ("street", "address", "locality", "suburb", "postcode", "admin1")


def _address_part(row: dict[str, Any], part: str) -> Any:
    """An address part as written: a plain column, or a place field's written text (``locality_text`` in the store)."""
    value = row.get(part)
    return row.get(f"{part}_text") if nz.is_missing(value) else value


def _address_tokens(row: dict[str, Any]) -> list[str]:
    """Street and locality as bigrams, the postcode whole (reads whichever address columns exist)."""
    out: list[str] = []
    for part in _ADDRESS_PARTS:
        value = _address_part(row, part)
        if nz.is_missing(value):
            continue
        if part == "postcode":
            out.append(f"pc:{nz.compact(value)}")
        else:
            for word in str(nz.name_key(value) or "").split():
                out.extend(f"{part[0]}{g}" for g in _bigrams(word))
    return out


@dataclass(frozen=True)
class FieldEncoding:
    """How one field is encoded and how much its agreement or disagreement counts.

    A pair's evidence from the field (present on both sides) runs linearly from ``-neg`` (its
    chance-corrected similarity at or below ``lo``) to ``+pos`` (at or above ``hi``); a field missing
    on either side counts 0. The weights are in bits of evidence, as in a Fellegi-Sunter model."""

    name: str  # as named in a query and in an agreement's min_fields
    tokens: Callable[[dict[str, Any]], list[str]]
    k: int  # bits per token
    bits: int  # size of the field's segment (a multiple of 64)
    reads: tuple[str, ...]  # the model fields it reads (an agreement marks these match_only)
    pos: float
    neg: float
    lo: float = 0.3
    hi: float = 0.9
    group: str = ""  # fields of one group share a key and a segment size: compared crosswise too (swaps)
    identity_rows: int = 3  # MinHash values per identity band (link.identity): more for fields with many tokens
    carries: bool = False  # an identifier: may carry a hit whose names disagree (clkmatch.NAME_FLOOR); a date never


def _f(name: str, tokens: Callable[[dict[str, Any]], list[str]], k: int, bits: int, pos: float, neg: float,
       reads: tuple[str, ...] | None = None, **extra: Any) -> FieldEncoding:
    return FieldEncoding(name, tokens, k, bits, reads or (name,), pos, neg, **extra)


FIELDS: dict[str, dict[str, FieldEncoding]] = {
    "person": {
        "given_names": _f("given_names", _given_tokens, 12, 512, 4.0, 2.0, group="name", identity_rows=6),
        "surnames": _f("surnames", _surname_tokens, 12, 512, 5.0, 2.0, ("surname1", "surname2"), group="name",
                       identity_rows=10),
        # a conflicting date outweighs a matching full name: namesakes stay apart
        "birth_date": _f("birth_date", _date_tokens, 8, 512, 6.0, 7.0, lo=0.15, hi=0.9, identity_rows=5),
        "curp": _f("curp", _ident_tokens("curp", lambda c: nz.curp_parts(c)["curp_stem"], grams=False),
                   12, 256, 10.0, 3.0, lo=0.2, hi=0.6, carries=True),
        "id_number": _f("id_number", _ident_tokens("id_number"), 8, 512, 7.0, 2.0, lo=0.3, hi=0.8, carries=True),
        # street / locality / postcode / admin1 when the person kind has them (FEBRL's address, suburb, postcode)
        "address": _f("address", _address_tokens, 8, 1024, 4.0, 1.0, ("street", "locality", "postcode", "admin1"),
                      lo=0.2, hi=0.8),
    },
    "vehicle": {
        "vin": _f("vin", _ident_tokens("vin"), 10, 512, 10.0, 3.0, lo=0.3, hi=0.8),
        "plate": _f("plate", _ident_tokens("plate"), 10, 256, 8.0, 2.0, lo=0.3, hi=0.8),
    },
    "firearm_trace": {
        "serial": _f("serial", _ident_tokens("serial"), 10, 512, 10.0, 3.0, lo=0.3, hi=0.8),
        "make": _f("make", lambda r: [f"m:{nz.org_key(r.get('make')) or ''}"] if r.get("make") else [], 20, 128,
                   1.0, 3.0, lo=0.2, hi=0.8),
    },
}
DEFAULT_FIELDS = {"person": ["given_names", "surnames", "birth_date", "curp", "id_number"], "vehicle": ["vin", "plate"],
                  "firearm_trace": ["serial", "make"]}
# The least an encoding must carry, unless the agreement states otherwise: a name with a date of
# birth or an identifier, never a surname alone (alternatives; each is a set of encoded fields).
MIN_FIELDS: dict[str, list[list[str]]] = {
    "person": [["given_names", "surnames", "birth_date"], ["given_names", "surnames", "curp"],
               ["given_names", "surnames", "id_number"], ["curp"]],
    "vehicle": [["vin"], ["plate"]],
    "firearm_trace": [["serial"]],
}
@dataclass(frozen=True)
class Pool:
    """A family of LSH bands: each band hashes ``count`` MinHash bins of each of ``parts`` (a group's
    segments OR-ed, so a swap collides), so two encodings share a band with a probability close to the
    product of their parts' Jaccard similarities raised to those counts. ``unless``: the pool pairs only
    encodings of which at least one lacks that part (where both carry it, a sharper pool finds the pair)."""

    parts: tuple[tuple[str, int], ...]
    bands: int
    unless: str = ""


# The pools of LSH bands of each kind; a pool is used when the query carries all its parts. A bin of the
# names agrees by chance in about 30% of unrelated pairs of the generated people (a small name pool), a bin
# of a birth date in 5%: the three name-and-date pools trade one against the other (names nearly equal with
# a date typo; both close; a date nearly equal with names that differ more), each band rare by chance.
# A field alone that is shared by many records (a birth date) is never a pool on its own; the names alone
# pair only encodings of which one lacks a birth date.
BLOCK_POOLS: dict[str, list[Pool]] = {
    "person": [Pool((("name", 6), ("birth_date", 3)), 64), Pool((("name", 10), ("birth_date", 1)), 48),
               Pool((("name", 2), ("birth_date", 5)), 48), Pool((("name", 8),), 16, unless="birth_date"),
               Pool((("curp", 6),), 16), Pool((("id_number", 4),), 16), Pool((("address", 5),), 16)],
    "vehicle": [Pool((("vin", 3),), 32), Pool((("plate", 3),), 32)],
    "firearm_trace": [Pool((("serial", 3),), 32), Pool((("serial", 2), ("make", 1)), 32)],
}


def source_fields(fields: Iterable[str], kind: str = "person") -> set[str]:
    out: set[str] = set()
    for f in fields:
        spec = FIELDS.get(kind, {}).get(f)
        out.update(spec.reads if spec else (f,))
    return out


@dataclass(frozen=True)
class Layout:
    """Where each field's segment sits in an encoding (byte offsets), for a kind and a field list."""

    kind: str
    fields: tuple[str, ...]

    @property
    def specs(self) -> list[FieldEncoding]:
        return [FIELDS[self.kind][f] for f in self.fields]

    @property
    def bits(self) -> int:
        return sum(s.bits for s in self.specs)

    @property
    def nbytes(self) -> int:
        return self.bits // 8

    def slices(self) -> dict[str, slice]:
        out, at = {}, 0
        for spec in self.specs:
            out[spec.name] = slice(at // 8, (at + spec.bits) // 8)
            at += spec.bits
        return out


def layout(kind: str, fields: list[str]) -> Layout:
    from puente.errors import UsageError

    if kind not in FIELDS:
        raise UsageError("hits_unknown_kind", kind=kind, kinds=", ".join(FIELDS))
    unknown = [f for f in fields if f not in FIELDS[kind]]
    if unknown or not fields or len(set(fields)) != len(fields):
        raise UsageError("hits_unknown_fields", fields=", ".join(unknown) or "-", known=", ".join(FIELDS[kind]))
    return Layout(kind, tuple(fields))


class Encoder:
    """Encode records of one kind under one matching key."""

    def __init__(self, key: bytes, kind: str, fields: list[str]) -> None:
        self.layout = layout(kind, fields)
        self.kind, self.fields = kind, list(fields)
        self._specs = self.layout.specs
        self._keys = {s.name: derive(key, f"field:{kind}:{s.group or s.name}") for s in self._specs}
        self._offsets = {}
        at = 0
        for spec in self._specs:
            self._offsets[spec.name] = at
            at += spec.bits
        self._tokens: dict[tuple[str, str], list[int]] = {}

    def _token_positions(self, spec: FieldEncoding, token: str) -> list[int]:
        cached = self._tokens.get((spec.name, token))
        if cached is not None:
            return cached
        digest = hashlib.blake2b(token.encode(), key=self._keys[spec.name], digest_size=16).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:], "little") | 1
        out = [(h1 + i * h2) % spec.bits for i in range(spec.k)]
        if len(self._tokens) < 1_000_000:  # bigrams and date parts repeat across values: hashed once
            self._tokens[(spec.name, token)] = out
        return out

    def _field_positions(self, spec: FieldEncoding, row: dict[str, Any]) -> set[int]:
        """All bit positions (within the field's own segment) one field of one record sets."""
        out: set[int] = set()
        for token in spec.tokens(row):
            out.update(self._token_positions(spec, token))
        return out

    def encode(self, records: Iterable[dict[str, Any]] | pd.DataFrame, chunk: int = 50_000) -> np.ndarray:
        """Records -> uint8 array of shape (n, layout.nbytes): the packed segments of each record.

        Each field is encoded once per distinct value (a million people carry a few thousand given names and
        dates): the records' values are factorized, each distinct value's segment is built from its tokens,
        and the records' segments are gathered by code. ``chunk`` bounds the distinct values packed at once."""
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        n = len(frame)
        out = np.zeros((n, self.layout.nbytes), dtype=np.uint8)
        if not n:
            return out
        frame = frame.reset_index(drop=True)
        if any(spec.name == "birth_date" for spec in self._specs) and "curp" in frame:
            dates = frame["birth_date"] if "birth_date" in frame else pd.Series([None] * n, dtype=object)
            stated = [nz.is_missing(d) and not nz.is_missing(c) for d, c in zip(dates, frame["curp"])]
            if any(stated):  # a record without a birth date is encoded with the date its CURP states
                dates = dates.astype(object).copy()
                dates[stated] = [nz.curp_birth_date(c) for c in frame["curp"][stated]]
                frame = frame.assign(birth_date=dates)
        for spec in self._specs:
            codes, reps = self._distinct_values(frame, spec)
            segment = np.zeros((len(reps), spec.bits // 8), dtype=np.uint8)
            for start in range(0, len(reps), chunk):
                rows = reps[start:start + chunk]
                bits = np.zeros((len(rows), spec.bits), dtype=bool)
                at_row: list[int] = []
                at_bit: list[int] = []
                for r, row in enumerate(rows):
                    positions = self._field_positions(spec, row)
                    at_row.extend([r] * len(positions))
                    at_bit.extend(positions)
                bits[at_row, at_bit] = True
                segment[start:start + len(rows)] = np.packbits(bits, axis=1)
            at = self._offsets[spec.name] // 8
            out[:, at:at + spec.bits // 8] = segment[codes]
        return out

    def _distinct_values(self, frame: pd.DataFrame, spec: FieldEncoding) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Each record's code for the field's raw values, and one record (the columns read) per code."""
        parts = _ADDRESS_PARTS if spec.name == "address" else spec.reads
        columns = sorted({c for part in parts for c in ((part, f"{part}_text") if spec.name == "address" else (part,))
                          if c in frame})
        if not columns:
            return np.zeros(len(frame), dtype=np.int64), [{}]
        text = [_hashable_column(frame[c]) for c in columns]
        joined = text[0] if len(text) == 1 else pd.Series(["\x1f".join(v) for v in zip(*text)])
        codes, _ = pd.factorize(joined)
        first = np.unique(codes, return_index=True)[1]
        reps = frame.loc[first, columns].to_dict("records")
        return codes.astype(np.int64), reps


def _hashable_column(values: pd.Series) -> pd.Series:
    """A column as text for grouping equal raw values: missing cells as one marker, the rest as written."""
    return pd.Series(["\x00" if nz.is_missing(v) else str(v) for v in values], dtype=object)




def popcount(packed: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, np.bitwise_count(packed).sum(axis=-1, dtype=np.int32))


def dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice coefficient of aligned rows of two packed arrays."""
    inter = np.bitwise_count(a & b).sum(axis=-1, dtype=np.int32)
    total = popcount(a) + popcount(b)
    return np.where(total > 0, 2.0 * inter / np.maximum(total, 1), 0.0)


def present(packed: np.ndarray, lay: Layout) -> dict[str, np.ndarray]:
    """Per field, which encodings carry it (a non-empty segment)."""
    return {name: popcount(packed[:, s]) > 0 for name, s in lay.slices().items()}


def density(packed: np.ndarray, lay: Layout) -> dict[str, np.ndarray]:
    """Per field, the share of its segment's bits set in each encoding."""
    return {spec.name: popcount(packed[:, s]) / spec.bits for spec, s in zip(lay.specs, lay.slices().values())}
