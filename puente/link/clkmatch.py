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
matching full name, so namesakes stay apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd

from puente.link import clk
from puente.link.clk import Layout

DEFAULT_BANDS = 128


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


def _pools(lay: Layout, parts: dict[str, np.ndarray]) -> list[list[str]]:
    pools = [p for p in clk.BLOCK_POOLS.get(lay.kind, []) if all(x in parts for x in p)]
    return pools or [list(parts)]


def band_positions(seed: bytes, nbits: int, bands: int = DEFAULT_BANDS, rows: int = 32) -> np.ndarray:
    """Bit positions of each band inside one pool's concatenated parts (``nbits`` long)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "little"))
    return np.stack([rng.choice(nbits, size=min(rows, nbits), replace=False) for _ in range(bands)])


def _band_keys(packed: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n, bands) uint64 keys: the selected bits of each band packed into one integer."""
    byte_idx, shift = positions // 8, 7 - positions % 8
    keys = np.zeros((packed.shape[0], positions.shape[0]), dtype=np.uint64)
    for j in range(positions.shape[1]):
        bit = (packed[:, byte_idx[:, j]] >> shift[:, j].astype(np.uint8)) & 1
        keys |= bit.astype(np.uint64) << np.uint64(j)
    return keys


def _band_pairs(ka: np.ndarray, kb: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray]:
    left = pd.DataFrame({"key": ka, "i": np.arange(len(ka), dtype=np.int64)})
    right = pd.DataFrame({"key": kb, "j": np.arange(len(kb), dtype=np.int64)})
    sizes_l, sizes_r = left["key"].value_counts(), right["key"].value_counts()
    big = set(sizes_l[sizes_l > max_block].index) | set(sizes_r[sizes_r > max_block].index)
    if big:  # degenerate keys (e.g. nearly empty filters) must not explode into a cross product
        left, right = left[~left["key"].isin(big)], right[~right["key"].isin(big)]
    joined = left.merge(right, on="key")
    return joined["i"].to_numpy(), joined["j"].to_numpy()


def _evidence(spec: clk.FieldEncoding, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits of evidence of one field for aligned rows (0 where either side lacks the field)."""
    pa, pb = clk.popcount(a), clk.popcount(b)
    inter = np.bitwise_count(a & b).sum(axis=-1, dtype=np.int32)
    total = np.maximum(pa + pb, 1)
    d = 2.0 * inter / total
    chance = 2.0 * (pa.astype(np.float64) * pb / spec.bits) / total  # Dice of two unrelated filters
    sim = np.clip((d - chance) / np.maximum(1.0 - chance, 1e-9), 0.0, 1.0)
    frac = np.clip((sim - spec.lo) / (spec.hi - spec.lo), 0.0, 1.0)
    return np.where((pa > 0) & (pb > 0), -spec.neg + (spec.pos + spec.neg) * frac, 0.0)


def score_pairs(a: np.ndarray, b: np.ndarray, pairs: np.ndarray, lay: Layout) -> np.ndarray:
    """The score (bits of evidence) of each candidate pair; rows of ``pairs`` index ``a`` and ``b``.
    Given and family names count as the better of straight and swapped."""
    if len(pairs) == 0:
        return np.empty(0)
    ea, eb = a[pairs[:, 0]], b[pairs[:, 1]]
    slices = lay.slices()
    specs = {s.name: s for s in lay.specs}
    total = np.zeros(len(pairs))
    done: set[str] = set()
    for name, spec in specs.items():
        if name in done:
            continue
        members = [f for f in specs if spec.group and specs[f].group == spec.group] or [name]
        done.update(members)
        straight = sum((_evidence(specs[f], ea[:, slices[f]], eb[:, slices[f]]) for f in members),
                       np.zeros(len(pairs)))
        if len(members) == 2 and specs[members[0]].bits == specs[members[1]].bits:
            f, g = members
            crossed = (_evidence(specs[f], ea[:, slices[f]], eb[:, slices[g]])
                       + _evidence(specs[g], ea[:, slices[g]], eb[:, slices[f]]))
            # all the names as one order-free set (given and family names swapped, or shifted
            # between fields), one bit less than the same names in their places
            union = replace(specs[f], pos=specs[f].pos + specs[g].pos - 1, neg=specs[f].neg + specs[g].neg)
            every = ((clk.popcount(ea[:, slices[f]]) > 0) & (clk.popcount(ea[:, slices[g]]) > 0)
                     & (clk.popcount(eb[:, slices[f]]) > 0) & (clk.popcount(eb[:, slices[g]]) > 0))
            joined = np.where(every, _evidence(union, ea[:, slices[f]] | ea[:, slices[g]],
                                                eb[:, slices[f]] | eb[:, slices[g]]), -np.inf)
            straight = np.maximum(np.maximum(straight, crossed), joined)
        total += straight
    return total


def _rows_for(va: np.ndarray, vb: np.ndarray) -> int:
    """Bits per band so that two unrelated encodings share a band with probability about 1e-6:
    sparse filters agree on most (zero) bits by chance, so they need longer bands."""
    p = float((clk.popcount(va).sum() + clk.popcount(vb).sum()) / max((len(va) + len(vb)) * va.shape[1] * 8, 1))
    agree = p * p + (1 - p) * (1 - p)
    if agree >= 1 - 1e-9:
        return 64
    return int(np.clip(np.ceil(np.log(1e-6) / np.log(agree)), 16, 64))


def candidates(a: np.ndarray, b: np.ndarray, lay: Layout, seed: bytes, bands: int = DEFAULT_BANDS,
               rows: int | None = None, max_block: int = 2000) -> np.ndarray:
    """Distinct (i, j) pairs that share at least one band; the bands are spread over the pools."""
    pa, pb = _parts(a, lay), _parts(b, lay)
    pools = _pools(lay, pa)
    found = []
    for n, pool in enumerate(pools):
        va = np.concatenate([pa[x] for x in pool], axis=1)
        vb = np.concatenate([pb[x] for x in pool], axis=1)
        share = bands // len(pools) + (1 if n < bands % len(pools) else 0)
        positions = band_positions(seed + f"|{n}".encode(), va.shape[1] * 8, share, rows or _rows_for(va, vb))
        # encodings without the pool's fields take no part in its bands (all-zero keys would all collide)
        ia, jb = np.nonzero(clk.popcount(va) > 0)[0], np.nonzero(clk.popcount(vb) > 0)[0]
        ka, kb = _band_keys(va[ia], positions), _band_keys(vb[jb], positions)
        for band in range(positions.shape[0]):
            i, j = _band_pairs(ka[:, band], kb[:, band], max_block)
            found.append(ia[i] * len(b) + jb[j])
    flat = np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)
    return np.stack([flat // max(len(b), 1), flat % max(len(b), 1)], axis=1)


def _scored(a: np.ndarray, b: np.ndarray, pairs: np.ndarray, lay: Layout, threshold: float,
            chunk: int = 500_000) -> pd.DataFrame:
    keep = []
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        scores = score_pairs(a, b, part, lay)
        mask = scores >= threshold
        keep.append(pd.DataFrame({"i": part[mask, 0], "j": part[mask, 1], "score": scores[mask]}))
    if not keep:
        return pd.DataFrame({"i": np.empty(0, np.int64), "j": np.empty(0, np.int64), "score": np.empty(0)})
    return pd.concat(keep, ignore_index=True)


def best(found: pd.DataFrame) -> pd.DataFrame:
    """At most one pair per query encoding: the best-scoring one (ties: the lowest j)."""
    if found.empty:
        return found
    ordered = found.sort_values(["i", "score", "j"], ascending=[True, False, True])
    return ordered.drop_duplicates("i").reset_index(drop=True)


def match_blocked(a: np.ndarray, b: np.ndarray, lay: Layout, threshold: float, seed: bytes,
                  bands: int = DEFAULT_BANDS, rows: int | None = None, max_block: int = 2000,
                  stats: dict[str, int] | None = None) -> pd.DataFrame:
    """Every pair at or above the threshold among those sharing a band (``best`` keeps one per query)."""
    pairs = candidates(a, b, lay, seed, bands, rows, max_block)
    if stats is not None:
        stats["comparisons"] = len(pairs)
    return _scored(a, b, pairs, lay, threshold).sort_values(["i", "j"]).reset_index(drop=True)


def match_all_pairs(a: np.ndarray, b: np.ndarray, lay: Layout, threshold: float, chunk: int = 2048) -> pd.DataFrame:
    """Brute force: every encoding of ``a`` against every encoding of ``b`` (the reference for blocking)."""
    out = []
    for sa in range(0, len(a), max(1, chunk * 64 // max(len(b), 1))):
        rows = np.arange(sa, min(len(a), sa + max(1, chunk * 64 // max(len(b), 1))))
        pairs = np.stack([np.repeat(rows, len(b)), np.tile(np.arange(len(b)), len(rows))], axis=1)
        out.append(_scored(a, b, pairs, lay, threshold))
    return pd.concat(out, ignore_index=True) if out else _scored(a, b, np.empty((0, 2), np.int64), lay, threshold)
