"""A per-day budget of encodings that describe one identity with one field varied (hit/no-hit, attack9).

A partner that holds the matching key can encode a name it knows with every date of a range: each encoding is
valid, the hit rate stays low, and the dates that hit give the birth date the agreement withholds. What such an
enumeration cannot avoid is that every encoding repeats the fields it does not vary. So the answering node
computes, for each encoding and each pair of fields it carries, a few LSH band signatures of the two fields'
segments (MinHash over their set bits, keyed by the matching key); an enumeration of one field under fixed others
gives thousands of encodings that share a signature of the fixed pair (the names, when the date is enumerated; the
surnames and the date, when the given name is), while honest encodings share one only with namesakes.

Near-identical collides too: a band hashes a few MinHash values of each of the two fields
(``FieldEncoding.identity_rows``: 6 of the given name, 10 of the surnames, 5 of the date, 3 otherwise, chosen on
the simulator's people so that honest groups stay at the namesakes; bench/hits_budget.py), and one letter changed
in a name changes a few of its bits, so many of an attacker's typo variants keep a band. Junk in a third field
changes nothing (pairs without it still repeat). What it does not see: a guess that gives up one name field (a
random given name) and perturbs the other repeats no pair (the matcher's name floor, ``clkmatch.NAME_FLOOR``,
keeps such a guess from hitting), and a short name written with two typos per guess spreads over many signatures
(tests/test_attack_hits.py, strict xfail; docs/linking.md, residual risk).

The answering node counts, per partner and per day, the distinct encodings (exact copies count once: a query sent
again is not an enumeration) behind each signature, across all the partner's queries of the day; a query that
would take a signature past the agreement's ``max_per_identity`` is refused before any matching. Only the
signatures (64-bit hashes) and a 64-bit digest of each encoding are stored, in ``hits_identity``; rows of earlier
days are deleted when the next query is counted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import uuid
from typing import cast

import numpy as np
import pyarrow as pa

from puente.link import clk
from puente.store.base import Store

BANDS = 4  # bands per pair of fields (each hashes FieldEncoding.identity_rows MinHash values of each field)
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads a polynomial hash over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX[0]
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX[1]
    return cast(np.ndarray, x ^ (x >> np.uint64(31)))


def _minhashes(segment: np.ndarray, seed: bytes, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(carried, values): which rows have any bit set, and (n, count) MinHash values over a segment's set bits
    (each the smallest rank of a set bit under one keyed permutation of the segment's positions)."""
    bits = np.unpackbits(segment, axis=1).astype(bool)
    nbits = bits.shape[1]
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "little"))
    ranks = np.stack([rng.permutation(nbits) for _ in range(count)]).astype(np.uint16)  # (count, nbits)
    rows, cols = np.nonzero(bits)
    carried = np.zeros(len(segment), dtype=bool)
    carried[rows] = True
    values = np.full((len(segment), count), nbits, dtype=np.uint16)
    if len(rows):
        starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
        owners = rows[starts]
        for h in range(count):
            values[owners, h] = np.minimum.reduceat(ranks[h][cols], starts)
    return carried, values


def _band(values: np.ndarray, b: int, rows: int) -> np.ndarray:
    """One band's key per row: the first ``rows`` MinHash values of the band's block (blocks of equal width)."""
    width = values.shape[1] // BANDS
    key = np.zeros(len(values), dtype=np.uint64)
    for v in values[:, b * width:b * width + rows].T:
        key = _mix(key * np.uint64(1_000_003) + v.astype(np.uint64) + np.uint64(1))
    return key


def signatures(packed: np.ndarray, lay: clk.Layout, key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(row, signature) of every band of every pair of fields an encoding carries (int64 signatures).

    Fields of one group (given and family names) are hashed under the same permutations, and a band of the pair
    reads the sparser of the two segments as the first field: names swapped between the two give the same bands."""
    slices = lay.slices()
    specs = {s.name: s for s in lay.specs}
    seed = clk.derive(key, "identity")
    width = {s.name: max(o.identity_rows for o in lay.specs if (o.group or o.name) == (s.group or s.name))
             for s in lay.specs}
    mins = {s.name: _minhashes(packed[:, slices[s.name]], seed + (s.group or s.name).encode(), BANDS * width[s.name])
            for s in lay.specs}
    counts = {s.name: clk.popcount(packed[:, slices[s.name]]) for s in lay.specs}
    out_rows, out_sigs = [], []
    for f, g in itertools.combinations(lay.fields, 2):
        carried = np.flatnonzero(mins[f][0] & mins[g][0])
        if not len(carried):
            continue
        vf, vg = mins[f][1][carried], mins[g][1][carried]
        rf, rg = specs[f].identity_rows, specs[g].identity_rows
        if bool(specs[f].group) and specs[f].group == specs[g].group and width[f] == width[g]:
            # the sparser segment is read as the first field's: names swapped between the two give the same bands
            flip = (counts[f] > counts[g])[carried]
            vf, vg = np.where(flip[:, None], vg, vf), np.where(flip[:, None], vf, vg)
        for b in range(BANDS):
            band = _mix(_band(vf, b, rf)) + _band(vg, b, rg)
            tag = np.uint64(hash_label(f"{lay.kind}:{f}:{g}:{b}"))
            out_rows.append(carried)
            out_sigs.append(_mix(band ^ tag).view(np.int64))
    if not out_rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_rows).astype(np.int64), np.concatenate(out_sigs)


def hash_label(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "little")


def digests(packed: np.ndarray) -> np.ndarray:
    """A 64-bit digest of each encoding (exact copies count once)."""
    return np.array([int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little", signed=True)
                     for row in packed], dtype=np.int64)


def _distinct(packed: np.ndarray, lay: clk.Layout, key: bytes) -> np.ndarray:
    """The distinct (signature, encoding digest) pairs of ``packed``: (n, 2) int64."""
    rows, sigs = signatures(packed, lay, key)
    if not len(rows):
        return np.empty((0, 2), np.int64)
    return np.unique(np.stack([sigs, digests(packed)[rows]], axis=1), axis=0)


def largest_group(packed: np.ndarray, lay: clk.Layout, key: bytes) -> int:
    """The most distinct encodings behind one signature within ``packed`` alone (for measurement)."""
    pairs = _distinct(packed, lay, key)
    return int(np.unique(pairs[:, 0], return_counts=True)[1].max()) if len(pairs) else 0


def count(store: Store, partner: str, query_id: str, packed: np.ndarray, lay: clk.Layout, key: bytes,
          day: dt.date) -> tuple[int, str]:
    """Record the signatures of a query's encodings for ``partner`` on ``day``: (the most distinct encodings any
    of them now stands for over the day, this query included; the batch the rows were stored under, for
    :func:`forget`). Rows of earlier days go."""
    batch = query_id[:60] + ":" + uuid.uuid4().hex[:12]
    pairs = _distinct(packed, lay, key)
    store.execute("DELETE FROM hits_identity WHERE day < ?", [day])
    if not len(pairs):
        return 0, batch
    store.insert_arrow("hits_identity", pa.table({
        "partner": [partner] * len(pairs), "day": pa.array([day] * len(pairs), pa.date32()),
        "signature": pa.array(pairs[:, 0], pa.int64()), "encoding": pa.array(pairs[:, 1], pa.int64()),
        "batch": [batch] * len(pairs)}))
    worst = store.scalar(
        "SELECT COALESCE(MAX(n), 0) FROM (SELECT h.signature, COUNT(DISTINCT h.encoding) AS n FROM hits_identity h "
        "WHERE h.partner = ? AND h.day = ? AND h.signature IN (SELECT signature FROM hits_identity WHERE batch = ?) "
        "GROUP BY h.signature) AS t", [partner, day, batch])
    return int(cast(int, worst)), batch


def forget(store: Store, batch: str) -> None:
    """Drop a refused query's signatures (its partner is flagged for the day: they would count nothing more)."""
    store.execute("DELETE FROM hits_identity WHERE batch = ?", [batch])
