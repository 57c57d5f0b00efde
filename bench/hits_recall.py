"""Hit/no-hit recall against the open linker (attack9): which true matches does the private one-bit query miss
that open entity resolution, run on both nodes' people in clear, would join?

On a world pair (``puente demo``'s simulated world, or a fresh ``simeval.build``) and on FEBRL4:

* truth: a U.S. record has a mate when its true entity also has a Mexican record;
* hit/no-hit: one bit per U.S. record (its best Mexican reference; right when it is a true mate), default
  fields, as ``puente hits query`` sends them;
* open linker: ``resolve('person', union)`` (what a node computes after receiving its partner's people in
  clear); a U.S. record is joined when its cluster holds a true Mexican mate;
* naive: exact (folded) given name, first and second surname and birth date.

Misses of hit/no-hit among the records the open linker joins are listed by what differs between the two
records (name variant, swapped names, birth date, identifier only, ...).

    PYTHONPATH=. python -m bench.hits_recall --demo puente-demo   # or --seed 91 --scale 3000
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import simeval
from puente.model.types import fold
from puente.node import Node


def _hits(a: pd.DataFrame, b: pd.DataFrame, fields: list[str]) -> dict[int, int]:
    """U.S. row -> Mexican row of its one reference, as the nodes do it: only the records that carry a minimum
    field set are sent (``make_query``), and the answering node matches them (``minimum.exchange``: names that agree,
    both sides sharing more than the names); with ``BEYOND_NAMES`` off, any pair at the threshold (the matching
    before session 15, for a before/after measurement)."""
    from puente.link import clk, hits
    from puente.link.minimum import exchange

    key = hits.matching_key(bytes.fromhex("5a" * 32), "bench", 1, "us-node", "mx-node")
    enc = clk.Encoder(key, "person", fields)
    ea, eb = enc.encode(a), enc.encode(b)
    found = exchange(ea, eb, enc.layout, key, clk.MIN_FIELDS["person"], hits.DEFAULT_THRESHOLD, hits.content_keys(b),
                     shared=BEYOND_NAMES)
    return dict(zip(found["i"].astype(int), found["j"].astype(int)))


BEYOND_NAMES = True


def _key(frame: pd.DataFrame) -> list[str]:
    def f(v: Any) -> str:
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else fold(str(v))
    s2 = frame["surname2"] if "surname2" in frame else pd.Series([None] * len(frame))
    return [f"{f(g)}|{f(s1)}|{f(s2_)}|{d}" for g, s1, s2_, d in zip(frame["given_names"], frame["surname1"], s2,
                                                                    frame["birth_date"])]


def _why(x: dict[str, Any], y: dict[str, Any]) -> str:
    """What differs between two records of one person (for the misses)."""
    def v(r: dict[str, Any], k: str) -> str:
        val = r.get(k)
        return "" if val is None or (isinstance(val, float) and np.isnan(val)) else fold(str(val))
    parts = []
    if v(x, "given_names") == v(y, "surname1") and v(x, "surname1") == v(y, "given_names"):
        parts.append("given/family swapped")
    elif v(x, "given_names") != v(y, "given_names"):
        parts.append("given name differs")
    if {v(x, "surname1"), v(x, "surname2")} != {v(y, "surname1"), v(y, "surname2")} and "swapped" not in parts[0:1]:
        parts.append("surnames differ")
    if not v(x, "birth_date") or not v(y, "birth_date"):
        parts.append("birth date missing")
    elif v(x, "birth_date") != v(y, "birth_date"):
        parts.append("birth date differs")
    return ", ".join(parts) or "same name and date"


def score(a: pd.DataFrame, b: pd.DataFrame, ta: np.ndarray, tb: np.ndarray, fields: list[str]) -> dict[str, Any]:
    from puente.link.resolve import resolve

    mates = np.isin(ta, tb)
    hit = _hits(a, b, fields)
    hit_right = np.array([i in hit and ta[i] == tb[hit[i]] for i in range(len(a))])
    union = pd.concat([a.assign(id="A:" + a["id"].astype(str)), b.assign(id="B:" + b["id"].astype(str))],
                      ignore_index=True)
    clusters = resolve("person", union).clusters
    ca = np.array([clusters.get(f"A:{i}") for i in a["id"]])
    cb = np.array([clusters.get(f"B:{i}") for i in b["id"]])
    truth_b: dict[Any, set[Any]] = {}
    for e, c in zip(tb, cb):
        truth_b.setdefault(e, set()).add(c)
    er_right = np.array([m and ca[i] in truth_b.get(ta[i], set()) for i, m in enumerate(mates)])
    kb = set(zip(_key(b), tb))
    kb_keys = {k for k, _ in kb}
    naive_hit = np.array([k in kb_keys for k in _key(a)])
    naive_right = np.array([(k, e) in kb for k, e in zip(_key(a), ta)])
    n = int(mates.sum())
    joined = er_right
    missed = np.nonzero(joined & ~hit_right)[0]
    why: Counter[str] = Counter()
    examples: list[str] = []
    rows_b = b.to_dict("records")
    for i in missed:
        x = a.iloc[int(i)].to_dict()
        j = next(k for k in range(len(b)) if tb[k] == ta[i] and cb[k] == ca[i])
        reason = _why(x, rows_b[j])
        why[reason] += 1
        if len(examples) < 12:
            examples.append(f"{reason}: {x.get('given_names')} {x.get('surname1')} {x.get('surname2')} "
                            f"{x.get('birth_date')} / {rows_b[j].get('given_names')} {rows_b[j].get('surname1')} "
                            f"{rows_b[j].get('surname2')} {rows_b[j].get('birth_date')}")

    def pr(right: np.ndarray, given: int) -> dict[str, float]:
        r = int(right.sum())
        return {"recall": r / max(n, 1), "precision": r / max(given, 1), "right": r, "given": given}
    return {"a": len(a), "b": len(b), "with_mate": n,
            "hits": pr(hit_right, len(hit)), "open_er": pr(er_right, int(np.isin(ca, cb).sum())),
            "naive": pr(naive_right, int(naive_hit.sum())),
            "hits_vs_open": {"joined_by_open": int(joined.sum()), "hit_among_joined": int((joined & hit_right).sum()),
                             "recall": float((joined & hit_right).sum() / max(joined.sum(), 1)),
                             "hit_not_joined": int((hit_right & ~joined).sum())},
            "missed_by_hits": dict(why.most_common()), "examples": examples}


def _own(node: Node) -> pd.DataFrame:
    people = simeval.people(node)
    return people[people["owner_node"] == node.name].reset_index(drop=True)


def world(home: Path | None, seed: int, scale: int) -> dict[str, Any]:
    def run(nodes: dict[str, Node], sim: Path) -> dict[str, Any]:
        a, b = _own(nodes["US"]), _own(nodes["MX"])  # a demo node also holds its partner's shared people
        truth = simeval.truth(sim)
        ta = np.array([truth.get(s, f"?a{i}") for i, s in enumerate(a["source_id"])])
        tb = np.array([truth.get(s, f"?b{i}") for i, s in enumerate(b["source_id"])])
        from puente.link import clk
        return score(a, b, ta, tb, clk.DEFAULT_FIELDS["person"])
    if home is not None:
        return run({"US": Node.load(home / "us-node"), "MX": Node.load(home / "mx-node")}, home / "simulated")
    with tempfile.TemporaryDirectory() as tmp:
        nodes, sim = simeval.build(Path(tmp), scale=scale, seed=seed)
        return run(nodes, sim)


def febrl() -> dict[str, Any]:
    from bench.link import _febrl4_frames

    _, _, a, b = _febrl4_frames()
    a, b = a.assign(surname2=None), b.assign(surname2=None)
    ta, tb = a.id.str.split("-").str[1].to_numpy(), b.id.str.split("-").str[1].to_numpy()
    return score(a, b, ta, tb, ["given_names", "surnames", "birth_date", "id_number"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", type=Path, help="a `puente demo --no-serve` directory (its simulated world)")
    parser.add_argument("--seed", type=int, default=91)
    parser.add_argument("--scale", type=int, default=3000)
    parser.add_argument("--febrl", action="store_true", help="also FEBRL4 (5,000 x 5,000)")
    args = parser.parse_args()
    out = {"world": world(args.demo, args.seed, args.scale)}
    if args.febrl:
        out["febrl4"] = febrl()
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
