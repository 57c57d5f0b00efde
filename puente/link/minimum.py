"""The agreement's minimum field sets on both sides of a hit/no-hit hit (:mod:`puente.link.hits`).

A record is asked about only if its encoding carries every field of one minimum set (:func:`complete`), and a
pair hits only if both sides carry a field the minimum sets add to the names (:func:`beyond_names`): the minimum
binds the evidence of a hit, not only the question. :func:`match` is the answering node's matching;
:func:`exchange` is what a query of some encodings gets (what the benches score).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from puente.link import clk, clkmatch

MAX_DENSITY = 0.7  # share of a segment's bits set; genuine segments stay below 0.35


def carried(packed: np.ndarray, lay: clk.Layout) -> dict[str, np.ndarray]:
    """Per field of the layout, which encodings carry it (its segment holds at least one token's bits and is not
    implausibly full)."""
    slices = lay.slices()
    out = {}
    for spec in lay.specs:
        count = clk.popcount(packed[:, slices[spec.name]])
        out[spec.name] = (count >= spec.k) & (count <= MAX_DENSITY * spec.bits)
    return out


def complete(packed: np.ndarray, lay: clk.Layout, min_fields: list[list[str]]) -> np.ndarray:
    """Which encodings carry every field of at least one minimum set."""
    ok_field = carried(packed, lay)
    ok = np.zeros(len(packed), dtype=bool)
    for need in min_fields:
        if all(f in ok_field for f in need):
            ok |= np.logical_and.reduce([ok_field[f] for f in need])
    return ok


def beyond_names(query: np.ndarray, answering: np.ndarray, lay: clk.Layout, min_fields: list[list[str]],
                 i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per pair (``query[i]``, ``answering[j]``), whether both sides carry a field that the minimum sets add to the
    names (a birth date, a CURP, an id number). An answering record without a date or an identifier shares only
    the names with any query, and the names alone reach the threshold, so a partner attaching a made-up date to
    each name would read which names the node holds (a census the minimum forbids). Where a minimum set is names
    alone, names alone may hit."""
    names = {s.name for s in lay.specs if s.group == "name"}
    if any(need and set(need) <= names for need in min_fields):
        return np.ones(len(i), dtype=bool)
    qa, qb = carried(query, lay), carried(answering, lay)
    ok = np.zeros(len(i), dtype=bool)
    for f in {f for need in min_fields for f in need if f not in names and f in qa}:
        ok |= qa[f][i] & qb[f][j]
    return ok


def match(query: np.ndarray, answering: np.ndarray, lay: clk.Layout, key: bytes, min_fields: list[list[str]],
          threshold: float, stable: list[str] | None = None) -> pd.DataFrame:
    """The answer's matching: per query encoding, its best answering record (``i``, ``j``, ``score``) among the
    pairs that reach ``threshold`` (blocked: :func:`clkmatch.match_blocked`, names that agree included) and whose
    two sides share more than the names (:func:`beyond_names`); ties broken by content (``stable``)."""
    found = clkmatch.match_blocked(query, answering, lay, threshold, clk.derive(key, "lsh"))
    if len(found):
        i, j = (found[c].to_numpy().astype(np.int64) for c in ("i", "j"))
        found = found[beyond_names(query, answering, lay, min_fields, i, j)]
    return clkmatch.best(found, answering, stable)


def exchange(query: np.ndarray, answering: np.ndarray, lay: clk.Layout, key: bytes, min_fields: list[list[str]],
             threshold: float, stable: list[str] | None = None, shared: bool = True) -> pd.DataFrame:
    """What a query of ``query`` gets, rows indexed in ``query``: only the encodings that carry a minimum set are
    sent (as ``make_query`` does) and answered by :func:`match`. ``shared`` off: any pair at the threshold (the
    matching before the two sides had to share more than the names; for a before/after measurement)."""
    sent = np.flatnonzero(complete(query, lay, min_fields))
    if shared:
        found = match(query[sent], answering, lay, key, min_fields, threshold, stable)
    else:
        found = clkmatch.best(clkmatch.match_blocked(query[sent], answering, lay, threshold, clk.derive(key, "lsh")),
                              answering, stable)
    return found.assign(i=sent[found["i"].to_numpy().astype(np.int64)])
