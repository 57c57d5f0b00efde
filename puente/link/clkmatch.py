"""Comparing two sets of field-level encodings: LSH candidates, a per-field score, the best match.

Candidates come from Hamming locality-sensitive hashing on the encodings' bits: ``bands``
groups of bit positions (chosen by a key derived from the matching key); two encodings are
compared when all the bits of at least one band agree. The bands are spread over pools of
fields (``clk.BLOCK_POOLS``): the names (given and family names OR-ed together, so a swap
collides), the names with the date (a common name still splits by date), and each identifier
alone; an encoding without a pool's fields takes no part in its bands. A band is long enough
that two unrelated filters of the observed density share it with probability about 1e-6.
Nothing leaves either node: blocking reads only the encodings.

Each candidate pair is then scored field by field (``score_pairs``): the chance-corrected Dice
coefficient of each field present on both sides becomes bits of evidence (``clk.FieldEncoding``),
a field missing on either side counts 0, and given and family names count as the best of
straight, crosswise and order-free. A conflicting birth date weighs more than half of a
matching full name, so namesakes stay apart. A hit also needs the names to agree (``NAME_FLOOR``): a name
field that counts against the pair, straight and crosswise, is not outweighed by the date, only by an
identifier that agrees.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import repeat
from typing import cast

import numpy as np
import pandas as pd

from puente.link import clk
from puente.link.clk import Layout

DEFAULT_BANDS = 128
# A hit/no-hit hit needs the names to agree: no name field both sides carry may count against the pair (evidence
# below NAME_FLOOR bits, i.e. a similarity under the field's break-even: given name 0.5, surnames 0.47), straight or
# crosswise, unless an identifier (``FieldEncoding.carries``) agrees. A birth date (+6) then adds to names that
# agree and vetoes, but never outweighs a given name or surnames that disagree (bench/name_floor.py).
NAME_FLOOR: float | None = 0.0


def _parts(packed: np.ndarray, lay: Layout) -> dict[str, np.ndarray]:
    """The blocking parts of the encodings: a group's segments OR-ed (a swap gives the same bits)."""
    slices = lay.slices()
    out: dict[str, np.ndarray] = {}
    for f in lay.fields:
        name = clk.FIELDS[lay.kind][f].group or f
        seg = packed[:, slices[f]]
        if name not in out:
            out[name] = seg.copy()
        elif out[name].shape == seg.shape:
            out[name] |= seg
    return out


def _pools(lay: Layout, parts: dict[str, np.ndarray]) -> list[clk.Pool]:
    pools = [p for p in clk.BLOCK_POOLS.get(lay.kind, []) if all(x in parts for x, _ in p.parts)]
    return pools or [clk.Pool(tuple((x, 4) for x in parts), DEFAULT_BANDS)]


def _rng(seed: bytes) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "little"))


def bin_width(*parts: np.ndarray) -> int:
    """Bits per MinHash bin for a part, the same for both sides: a few set bits per bin of a carried field."""
    nbits = parts[0].shape[1] * 8
    counts = np.concatenate([clk.popcount(p[: min(len(p), 10_000)]) for p in parts])
    set_share = float(counts[counts > 0].mean()) / max(nbits, 1) if (counts > 0).any() else 0.0
    return min(16 if set_share > 0.2 else 32 if set_share > 0.05 or nbits < 512 else 64, int(nbits))


def minhashes(part: np.ndarray, seed: bytes, width: int) -> np.ndarray:
    """(n, bins) uint8 one-permutation MinHash of a part's set bits: the bytes are shuffled by a keyed
    permutation and cut into bins of ``width`` bits; a bin's value is the position of its lowest set bit
    (``width`` if empty). Two filters agree on a bin with a probability close to the Jaccard similarity of
    their set bits, so bits both sides lack (most of a sparse filter) count for nothing, unlike sampled bits.
    A Bloom filter's bit positions are keyed hashes already, so shuffling whole bytes mixes them enough; a
    bin is then one machine word, and its value one count of the bits below its lowest set bit."""
    step = width // 8
    bins = part.shape[1] // step
    perm = _rng(seed).permutation(part.shape[1])[: bins * step]
    word = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[step]
    words = np.ascontiguousarray(part[:, perm]).view(word)
    lowest = words & (~words + word(1))
    return cast(np.ndarray, np.bitwise_count(lowest - word(1)).astype(np.uint8))


def _band_choices(pool: clk.Pool, bins: dict[str, int], seed: bytes) -> list[list[tuple[str, int]]]:
    """Per band of a pool, the keyed choice of MinHash bins it hashes: ``count`` distinct bins of each part."""
    rng = _rng(seed)
    return [[(part, int(b)) for part, count in pool.parts
             for b in rng.choice(bins[part], size=min(count, bins[part]), replace=False)] for _ in range(pool.bands)]


def _band_key(columns: dict[str, np.ndarray], chosen: list[tuple[str, int]]) -> np.ndarray:
    """One band's uint32 key per encoding from its chosen bins (``columns``: each part's bins as rows, one
    column per encoding): a 64-bit polynomial hash folded to 32 bits (half the memory; a rare false
    collision only adds a pair to score)."""
    key = np.zeros(next(iter(columns.values())).shape[1], dtype=np.uint64)
    for part, b in chosen:
        key *= np.uint64(131)
        key += columns[part][b]
        key += np.uint64(b * 67 + 1)
    key ^= key >> np.uint64(32)
    return key.astype(np.uint32)


def _sorted_band(columns: dict[str, np.ndarray], rows: np.ndarray,
                 chosen: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    return _sorted_keys(_band_key(columns, chosen), rows)


def _sorted_keys(keys: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Keys sorted, with their rows (``rows`` ascending, default their positions) in the same order, equal keys
    by row. uint32 keys are sorted as one 64-bit word with their row (several times faster than argsort)."""
    rows = np.arange(len(keys), dtype=np.int64) if rows is None else rows
    if keys.dtype == np.uint32:
        both = np.sort((keys.astype(np.uint64) << np.uint64(32)) | rows.astype(np.uint64))
        return (both >> np.uint64(32)).astype(np.uint32), (both & np.uint64(0xFFFFFFFF)).astype(np.int32)
    order = np.argsort(keys, kind="stable")
    return keys[order], rows[order].astype(np.int32)


def _join(ka: np.ndarray, sb: np.ndarray, ob: np.ndarray, max_block: int,
          values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of equal keys between ``ka`` and keys ``sb`` sorted (``ob``: their rows), keys shared by more
    than ``max_block`` encodings on either side skipped: (``values`` of the query position, default the
    position itself; the answering row). Expanded in two levels (query encodings of a kept key, then the
    answering block of each), so every pair costs a few repeats and one gather (no division)."""
    sa, order_a = _sorted_keys(ka)
    empty = np.empty(0, np.int64), np.empty(0, np.int64)
    if not len(sa):
        return empty
    start = np.flatnonzero(np.concatenate([[True], sa[1:] != sa[:-1]]))
    count_a = np.diff(np.append(start, len(sa)))
    lo = np.searchsorted(sb, sa[start], "left")
    count_b = np.searchsorted(sb, sa[start], "right") - lo
    keep = (count_b > 0) & (count_a <= max_block) & (count_b <= max_block)
    if not keep.any():
        return empty
    start, count_a, lo, count_b = start[keep], count_a[keep], lo[keep], count_b[keep]
    # one entry per query encoding of a kept key (its position among the sorted keys), then one per pair
    at = np.repeat(start - np.cumsum(count_a) + count_a, count_a) + np.arange(int(count_a.sum()))
    left = order_a[at].astype(np.int64) if values is None else values[order_a[at]]
    size = np.repeat(count_b, count_a)
    first = np.repeat(lo, count_a) - np.cumsum(size) + size
    return np.repeat(left, size), ob[np.repeat(first, size) + np.arange(int(size.sum()))].astype(np.int64)


def _join_sorted(ka: np.ndarray, sb: np.ndarray, ob: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of every pair of equal keys between ``ka`` and keys ``sb`` sorted (``ob``: their rows), keys shared
    by more than ``max_block`` encodings on either side skipped."""
    return _join(ka, sb, ob, max_block)


def _evidence(spec: clk.FieldEncoding, pa: np.ndarray, pb: np.ndarray, inter: np.ndarray) -> np.ndarray:
    """Bits of evidence of one field for aligned rows, from the two filters' set bits and the bits they
    share (0 where either side lacks the field)."""
    total = np.maximum(pa + pb, 1)
    d = 2.0 * inter / total
    chance = 2.0 * (pa.astype(np.float64) * pb / spec.bits) / total  # Dice of two unrelated filters
    sim = np.clip((d - chance) / np.maximum(1.0 - chance, 1e-9), 0.0, 1.0)
    frac = np.clip((sim - spec.lo) / (spec.hi - spec.lo), 0.0, 1.0)
    return np.where((pa > 0) & (pb > 0), -spec.neg + (spec.pos + spec.neg) * frac, 0.0)


class Prepared:
    """One side's encodings cut into contiguous 64-bit words per field, with each field's set bits counted
    once (and, for a group of two names, their OR-ed segments), so scoring a pair only ANDs and counts."""

    def __init__(self, packed: np.ndarray, lay: Layout) -> None:
        self.words: dict[str, np.ndarray] = {}
        self.count: dict[str, np.ndarray] = {}
        for name, sl in lay.slices().items():
            seg = np.ascontiguousarray(packed[:, sl])
            self.words[name] = seg.view(np.uint64) if seg.shape[1] % 8 == 0 else seg
            self.count[name] = clk.popcount(self.words[name])
        for f, g in _name_groups(lay):
            self.words[f"{f}|{g}"] = self.words[f] | self.words[g]
            self.count[f"{f}|{g}"] = clk.popcount(self.words[f"{f}|{g}"])
        self.full = {name: bool(c.all()) for name, c in self.count.items()}  # every encoding carries it


def _name_groups(lay: Layout) -> list[tuple[str, str]]:
    """Pairs of fields of one group with segments of one size: compared crosswise and as one set too."""
    specs = {s.name: s for s in lay.specs}
    out = []
    for group in dict.fromkeys(s.group for s in lay.specs if s.group):
        members = [f for f in specs if specs[f].group == group]
        if len(members) == 2 and specs[members[0]].bits == specs[members[1]].bits:
            out.append((members[0], members[1]))
    return out


_LANES = {8: (np.uint64, np.uint64(0x00FF00FF00FF00FF), np.uint64(0x0001000100010001), np.uint64(48)),
          4: (np.uint32, np.uint32(0x00FF00FF), np.uint32(0x00010001), np.uint32(16))}


def _row_sums(counts: np.ndarray) -> np.ndarray:
    """Per row, the sum of a C-contiguous (m, w) uint8 array of bit counts (each at most 64).

    numpy's sum along a short last axis is slow; eight (or four) counts are read as one machine word instead,
    added pairwise into 16-bit lanes and the lanes summed by one multiplication (the total, at most 512, lands
    in the top 16 bits)."""
    w = counts.shape[1]
    lane = 8 if w % 8 == 0 else 4 if w == 4 else 0
    if not lane:
        return cast(np.ndarray, counts.sum(axis=-1, dtype=np.int32))
    word, low, ones, shift = _LANES[lane]
    x = counts.view(word)
    x = (x & low) + ((x >> word(8)) & low)
    x = (x * ones) >> shift
    return cast(np.ndarray, x[:, 0].astype(np.int32) if x.shape[1] == 1 else x.sum(axis=-1, dtype=np.int32))


def _shared(wa: np.ndarray, wb: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Set bits shared by rows ``wa[i]`` and ``wb[j]`` (``np.take`` gathers rows several times faster than
    fancy indexing; the AND is in place)."""
    x = np.take(wa, i, axis=0)
    x &= np.take(wb, j, axis=0)
    return _row_sums(np.bitwise_count(x))


def _bits(words: np.ndarray) -> np.ndarray:
    return _row_sums(np.bitwise_count(words))


def _field(spec: clk.FieldEncoding, pa: Prepared, pb: Prepared, fa: str, fb: str, i: np.ndarray,
           j: np.ndarray) -> np.ndarray:
    """One field's evidence for the pairs (i, j): the filters compared only where both sides carry the field.
    Where every encoding on both sides carries it, the answering side's set bits are counted from its gathered
    rows (one random read per pair instead of two)."""
    if pa.full[fa] and pb.full[fb]:
        wb = np.take(pb.words[fb], j, axis=0)
        cb = _bits(wb)
        wb &= np.take(pa.words[fa], i, axis=0)
        return _evidence(spec, np.take(pa.count[fa], i), cb, _bits(wb))
    ca, cb = np.take(pa.count[fa], i), np.take(pb.count[fb], j)
    both = (ca > 0) & (cb > 0)
    if both.all():
        return _evidence(spec, ca, cb, _shared(pa.words[fa], pb.words[fb], i, j))
    out = np.zeros(len(i))
    at = np.flatnonzero(both)
    if len(at):
        out[at] = _evidence(spec, ca[at], cb[at], _shared(pa.words[fa], pb.words[fb], i[at], j[at]))
    return out


def _names(f: clk.FieldEncoding, g: clk.FieldEncoding, pa: Prepared, pb: Prepared, i: np.ndarray,
           j: np.ndarray) -> np.ndarray:
    """A group of two names: the best of straight, crosswise and all the names as one order-free set (given
    and family names swapped, or shifted between fields; one bit less than the same names in their places)."""
    a, b = f.name, g.name
    union = replace(f, pos=f.pos + g.pos - 1, neg=f.neg + g.neg)
    if pa.full[a] and pa.full[b] and pb.full[a] and pb.full[b]:  # each side's rows gathered once
        wa = {x: np.take(pa.words[x], i, axis=0) for x in (a, b)}
        wb = {x: np.take(pb.words[x], j, axis=0) for x in (a, b)}
        ca = {x: np.take(pa.count[x], i) for x in (a, b, f"{a}|{b}")}
        cb = {x: _bits(wb[x]) for x in (a, b)}

        def ev(spec: clk.FieldEncoding, x: str, y: str) -> np.ndarray:
            return _evidence(spec, ca[x], cb[y], _bits(wa[x] & wb[y]))

        straight, crossed = ev(f, a, a) + ev(g, b, b), ev(f, a, b) + ev(g, b, a)
        ua, ub = wa[a] | wa[b], wb[a] | wb[b]
        cu = _bits(ub)
        ub &= ua
        joined = _evidence(union, ca[f"{a}|{b}"], cu, _bits(ub))
        return cast(np.ndarray, np.maximum(np.maximum(straight, crossed), joined))
    straight = _field(f, pa, pb, a, a, i, j) + _field(g, pa, pb, b, b, i, j)
    crossed = _field(f, pa, pb, a, b, i, j) + _field(g, pa, pb, b, a, i, j)
    best_two = np.maximum(straight, crossed)
    every = (np.take(pa.count[a], i) > 0) & (np.take(pa.count[b], i) > 0) & (np.take(pb.count[a], j) > 0) \
        & (np.take(pb.count[b], j) > 0)
    at = np.flatnonzero(every)
    if len(at):
        joined = _field(union, pa, pb, f"{a}|{b}", f"{a}|{b}", i[at], j[at])
        best_two[at] = np.maximum(best_two[at], joined)
    return cast(np.ndarray, best_two)


def _names_agree(f: clk.FieldEncoding, g: clk.FieldEncoding, pa: Prepared, pb: Prepared, i: np.ndarray,
                 j: np.ndarray, floor: float) -> np.ndarray:
    """Per pair, whether no name field both sides carry brings less than ``floor`` bits, straight or crosswise
    (given and family names swapped; both names on both sides): a name that counts against the pair is not
    outweighed by the other fields."""
    a, b = f.name, g.name
    has = {x: (np.take(pa.count[x], i) > 0, np.take(pb.count[x], j) > 0) for x in (a, b)}
    both = {x: has[x][0] & has[x][1] for x in (a, b)}
    straight = ((~both[a]) | (_field(f, pa, pb, a, a, i, j) >= floor - 1e-9)) \
        & ((~both[b]) | (_field(g, pa, pb, b, b, i, j) >= floor - 1e-9))
    four = has[a][0] & has[a][1] & has[b][0] & has[b][1]
    crossed = four & (_field(f, pa, pb, a, b, i, j) >= floor - 1e-9) & (_field(g, pa, pb, b, a, i, j) >= floor - 1e-9)
    return cast(np.ndarray, straight | crossed)


def _score_above(pa: Prepared, pb: Prepared, i: np.ndarray, j: np.ndarray, lay: Layout,
                 threshold: float, specs: dict[str, clk.FieldEncoding] | None = None,
                 name_floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (positions in ``i``, ``j``) whose score reaches ``threshold``, and their scores.

    Fields are added in the layout's order, then the name groups; after each, a pair that cannot reach the
    threshold even if every remaining field agreed fully (its ``pos``; a group: the sum of its two) is
    dropped, so the costly crosswise name comparisons run only on pairs the date and identifiers leave
    possible. The scores kept are exactly ``score_pairs``'s (the same additions in the same order).
    ``specs``: other weights for the layout's fields (``closeness``). ``name_floor`` (bits; None for none): a
    pair of which a name field both sides carry brings less, straight and crosswise (``_names_agree``), is
    dropped unless an identifier agrees (``FieldEncoding.carries``, positive evidence): ``NAME_FLOOR``."""
    specs = specs or {s.name: s for s in lay.specs}
    grouped = _name_groups(lay)
    in_group = {f for pair in grouped for f in pair}
    steps: list[tuple[float, tuple[str, ...]]] = [(s.pos, (n,)) for n, s in specs.items() if n not in in_group]
    steps += [(specs[f].pos + specs[g].pos, (f, g)) for f, g in grouped]
    rest = sum(pos for pos, _ in steps)
    keep = np.arange(len(i))
    total = np.zeros(len(i))
    carried = np.zeros(len(i))  # the evidence of the fields that may carry a hit without the names (identifiers)
    for pos, names in steps:
        ii, jj = i[keep], j[keep]
        if len(names) == 1:
            ev = _field(specs[names[0]], pa, pb, names[0], names[0], ii, jj)
            if specs[names[0]].carries:
                carried += ev
        else:
            ev = _names(specs[names[0]], specs[names[1]], pa, pb, ii, jj)
        total += ev
        rest -= pos
        alive = total + rest >= threshold - 1e-9
        if name_floor is not None and len(names) == 2:
            check = np.flatnonzero(alive & (carried <= 0))  # an identifier that agrees may carry the names
            if len(check):
                alive[check] = _names_agree(specs[names[0]], specs[names[1]], pa, pb, ii[check], jj[check], name_floor)
        if not alive.all():
            keep, total, carried = keep[alive], total[alive], carried[alive]
    return keep, total


def score_pairs(a: np.ndarray | Prepared, b: np.ndarray | Prepared, pairs: np.ndarray, lay: Layout) -> np.ndarray:
    """The score (bits of evidence) of each candidate pair; rows of ``pairs`` index ``a`` and ``b``.
    Given and family names count as the best of straight, crosswise and order-free."""
    if len(pairs) == 0:
        return np.empty(0)
    pa = a if isinstance(a, Prepared) else Prepared(a, lay)
    pb = b if isinstance(b, Prepared) else Prepared(b, lay)
    _, scores = _score_above(pa, pb, np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]), lay,
                             -np.inf)
    return scores


def _closeness_specs(lay: Layout) -> dict[str, clk.FieldEncoding]:
    """The layout's fields weighed by their similarity itself: each field present on both sides adds its
    chance-corrected similarity (0 to 1, never clipped at the field's ``hi``), a field missing on either side 0."""
    return {s.name: replace(s, pos=1.0, neg=0.0, lo=0.0, hi=1.0) for s in lay.specs}


def closeness(a: np.ndarray | Prepared, b: np.ndarray | Prepared, pairs: np.ndarray, lay: Layout) -> np.ndarray:
    """The sum of the fields' unclipped similarities of each pair (names: the best of straight, crosswise and
    order-free): what tells apart two references whose scores tie because both reach a field's ``hi``."""
    if len(pairs) == 0:
        return np.empty(0)
    pa = a if isinstance(a, Prepared) else Prepared(a, lay)
    pb = b if isinstance(b, Prepared) else Prepared(b, lay)
    _, close = _score_above(pa, pb, np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]), lay,
                            -np.inf, _closeness_specs(lay))
    return close


def _distinct(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted distinct values of some arrays (one sort in place and a comparison: faster here than
    ``np.unique``'s hash table)."""
    codes = np.concatenate(parts)
    codes.sort()
    return codes[np.concatenate([[True], codes[1:] != codes[:-1]])] if len(codes) else codes


@dataclass
class _Bands:
    """One pool's bands between some query encodings (``rows``, ascending; ``keys`` one row per band) and
    some answering encodings, whose keys are sorted once per band (``sorted_b``, with their rows)."""

    rows: np.ndarray
    keys: np.ndarray
    sorted_b: list[tuple[np.ndarray, np.ndarray]]


def _plan(a: np.ndarray, b: np.ndarray, lay: Layout, seed: bytes, workers: int | None = None) -> list[_Bands]:
    """Every pool's band keys on both sides (each part's MinHash bins computed once, whatever pools read it),
    the bands spread over ``workers`` threads.

    An encoding without one of a pool's parts takes no part in it; a pool with ``unless`` only pairs
    encodings of which at least one lacks that part (with it on both sides, the pool that adds it finds the
    pair more precisely)."""
    pa, pb = _parts(a, lay), _parts(b, lay)
    carried_a = {x: clk.popcount(v) > 0 for x, v in pa.items()}
    carried_b = {x: clk.popcount(v) > 0 for x, v in pb.items()}
    pools = []
    for n, pool in enumerate(_pools(lay, pa)):
        names = [x for x, _ in pool.parts]
        has_a = np.logical_and.reduce([carried_a[x] for x in names])
        has_b = np.logical_and.reduce([carried_b[x] for x in names])
        if has_a.any() and has_b.any():
            pools.append((n, pool, names, has_a, has_b))
    needed = list(dict.fromkeys(x for *_, names, _, _ in pools for x in names))

    def bins(x: str) -> tuple[np.ndarray, np.ndarray]:  # (bins, n): a bin's values contiguous
        width = bin_width(pa[x], pb[x])
        return (minhashes(pa[x], seed + f"|mh|{x}".encode(), width).T.copy(),
                minhashes(pb[x], seed + f"|mh|{x}".encode(), width).T.copy())

    out: list[_Bands] = []
    with ThreadPoolExecutor(_workers(workers)) as ex:
        mh = dict(zip(needed, ex.map(bins, needed)))
        for n, pool, names, has_a, has_b in pools:
            chosen = _band_choices(pool, {x: mh[x][0].shape[0] for x in names}, seed + f"|{n}".encode())
            sides = [(has_a, has_b)]
            if pool.unless and pool.unless in pa:
                sides = [(has_a & ~carried_a[pool.unless], has_b), (has_a & carried_a[pool.unless],
                                                                       has_b & ~carried_b[pool.unless])]
            for left, right in sides:
                ia, jb = np.flatnonzero(left).astype(np.int32), np.flatnonzero(right).astype(np.int32)
                if not len(ia) or not len(jb):
                    continue
                cols_a = {x: mh[x][0] if len(ia) == len(left) else mh[x][0][:, ia] for x in names}
                cols_b = {x: mh[x][1] if len(jb) == len(right) else mh[x][1][:, jb] for x in names}
                ka = np.stack(list(ex.map(_band_key, repeat(cols_a), chosen)))
                sorted_b = list(ex.map(_sorted_band, repeat(cols_b), repeat(jb), chosen))
                out.append(_Bands(ia, ka, sorted_b))
    return out


def _chunk_candidates(plan: list[_Bands], lo: int, hi: int, nb: int, max_block: int) -> np.ndarray:
    """Distinct pair codes (i * nb + j), sorted, of the query encodings ``lo <= i < hi`` that share a band.
    Pairs are de-duplicated across bands by one sort at the end, or sooner when the undeduplicated ones
    outnumber both the distinct and ``_DEDUP_AT`` (memory), so a pair that collides in many bands is kept once."""
    distinct = np.empty(0, np.int64)
    found: list[np.ndarray] = []
    waiting = 0
    for bands in plan:
        s, e = np.searchsorted(bands.rows, [lo, hi])
        if s == e:
            continue
        base = bands.rows[s:e].astype(np.int64) * nb
        for band, (sb, ob) in enumerate(bands.sorted_b):
            left, j = _join(bands.keys[band, s:e], sb, ob, max_block, base)
            left += j
            found.append(left)
            waiting += len(left)
            if waiting > max(len(distinct), _DEDUP_AT):
                distinct, found, waiting = _distinct([distinct, *found]), [], 0
    return _distinct([distinct, *found]) if found else distinct


_DEDUP_AT = 1 << 24  # undeduplicated pair codes held before a sort (128 MB)


def _chunks(n: int, workers: int, size: int | None) -> list[tuple[int, int]]:
    """Spans of query rows: at least 4 per worker, at most 16,384 rows (a chunk's candidates and their
    de-duplication in memory at once; at a million records some 400 per row)."""
    step = size or min(max(2_000, -(-n // (workers * 4))), 16_384)
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)] or [(0, 0)]


def _workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else min(os.cpu_count() or 1, 4))


def candidates(a: np.ndarray, b: np.ndarray, lay: Layout, seed: bytes, max_block: int = 2000,
               workers: int | None = None, chunk: int | None = None) -> np.ndarray:
    """Distinct (i, j) pairs, sorted, that share at least one band of a pool (``clk.BLOCK_POOLS``)."""
    plan, nb = _plan(a, b, lay, seed, workers), max(len(b), 1)
    with ThreadPoolExecutor(_workers(workers)) as pool:
        parts = list(pool.map(lambda span: _chunk_candidates(plan, span[0], span[1], nb, max_block),
                              _chunks(len(a), _workers(workers), chunk)))
    flat = np.concatenate(parts)
    return np.stack([flat // nb, flat % nb], axis=1)


def _scored(a: np.ndarray | Prepared, b: np.ndarray | Prepared, pairs: np.ndarray, lay: Layout, threshold: float,
            chunk: int = 65_536, name_floor: float | None = NAME_FLOOR) -> pd.DataFrame:
    keep = []
    a = a if isinstance(a, Prepared) else Prepared(a, lay)
    b = b if isinstance(b, Prepared) else Prepared(b, lay)
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        at, scores = _score_above(a, b, np.ascontiguousarray(part[:, 0]), np.ascontiguousarray(part[:, 1]), lay,
                                  threshold, name_floor=name_floor)
        mask = scores >= threshold
        kept = part[at[mask]]
        keep.append(pd.DataFrame({"i": kept[:, 0], "j": kept[:, 1], "score": scores[mask],
                                  "closeness": closeness(a, b, kept, lay)}))
    if not keep:
        return pd.DataFrame({"i": np.empty(0, np.int64), "j": np.empty(0, np.int64), "score": np.empty(0),
                             "closeness": np.empty(0)})
    return pd.concat(keep, ignore_index=True)


def best(found: pd.DataFrame, answering: np.ndarray | None = None,
         stable: np.ndarray | list[str] | None = None) -> pd.DataFrame:
    """At most one pair per query encoding, the best, chosen from the pairs' content alone (never from row order,
    which follows a node's random record ids): the highest score; among equal scores the highest ``closeness``
    (the fields' unclipped similarities: the nearer reference); then the answering encoding that sorts first
    by its bytes (``answering``: the answering side's encodings, rows indexed by j), then by ``stable`` (a
    content-derived text per answering row, e.g. the record's content hash), and only then the lowest j (rows
    alike in every respect)."""
    if found.empty:
        return found
    if "closeness" not in found:
        found = found.assign(closeness=0.0)
    ordered = found.sort_values(["i", "score", "closeness", "j"], ascending=[True, False, False, True])
    first = ordered.drop_duplicates("i")
    if answering is None and stable is None:
        return first.reset_index(drop=True)
    top = ordered.merge(first[["i", "score", "closeness"]], on=["i", "score", "closeness"])
    tied = top[top.duplicated("i", keep=False)]
    if tied.empty:
        return first.reset_index(drop=True)
    j = tied["j"].to_numpy().astype(np.int64)
    keys = tied.assign(_enc=[bytes(answering[x]) for x in j] if answering is not None else b"",
                       _stable=[str(stable[x]) for x in j] if stable is not None else "")
    chosen = keys.sort_values(["i", "_enc", "_stable", "j"]).drop_duplicates("i").drop(columns=["_enc", "_stable"])
    rest = first[~first["i"].isin(chosen["i"])]
    return pd.concat([rest, chosen]).sort_values("i").reset_index(drop=True)


def match_blocked(a: np.ndarray, b: np.ndarray, lay: Layout, threshold: float, seed: bytes, max_block: int = 2000,
                  stats: dict[str, int] | None = None, workers: int | None = None,
                  chunk: int | None = None, name_floor: float | None = NAME_FLOOR) -> pd.DataFrame:
    """Every pair at or above the threshold among those sharing a band (``best`` keeps one per query).

    The answering side's band keys are sorted once; the query encodings are then taken in chunks, each
    chunk's candidates generated and scored at once (only the pairs at or above the threshold are kept, so
    memory follows the chunk), the chunks spread over ``workers`` threads (numpy's sorts, gathers and bit
    counts run without the interpreter lock, so the threads use the cores)."""
    plan, nb = _plan(a, b, lay, seed, workers), max(len(b), 1)
    pa, pb = Prepared(a, lay), Prepared(b, lay)

    def run(span: tuple[int, int]) -> tuple[int, pd.DataFrame]:
        codes = _chunk_candidates(plan, span[0], span[1], nb, max_block)
        return len(codes), _scored(pa, pb, np.stack([codes // nb, codes % nb], axis=1), lay, threshold,
                                   name_floor=name_floor)

    with ThreadPoolExecutor(_workers(workers)) as pool:
        done = list(pool.map(run, _chunks(len(a), _workers(workers), chunk)))
    if stats is not None:
        stats["comparisons"] = sum(n for n, _ in done)
    return pd.concat([f for _, f in done], ignore_index=True).sort_values(["i", "j"]).reset_index(drop=True)


def match_all_pairs(a: np.ndarray, b: np.ndarray, lay: Layout, threshold: float, chunk: int = 2048,
                    name_floor: float | None = NAME_FLOOR) -> pd.DataFrame:
    """Brute force: every encoding of ``a`` against every encoding of ``b`` (the reference for blocking)."""
    out = []
    pa, pb = Prepared(a, lay), Prepared(b, lay)
    step = max(1, chunk * 64 // max(len(b), 1))
    for sa in range(0, len(a), step):
        rows = np.arange(sa, min(len(a), sa + step))
        pairs = np.stack([np.repeat(rows, len(b)), np.tile(np.arange(len(b)), len(rows))], axis=1)
        out.append(_scored(pa, pb, pairs, lay, threshold, name_floor=name_floor))
    return pd.concat(out, ignore_index=True) if out else _scored(pa, pb, np.empty((0, 2), np.int64), lay, threshold,
                                                                 name_floor=name_floor)
