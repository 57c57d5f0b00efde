"""The hit/no-hit name floor (hits10): recall and precision with and without it, in one run.

A hit/no-hit hit now needs the names to agree on their own (``clkmatch.NAME_FLOOR``: the names' evidence must reach
5/9 of the name fields' ``pos`` both sides carry), so a birth date cannot carry a given name that disagrees. The
baseline is the same matcher with the floor off (``name_floor=0``), on the same encodings in the same process:

* FEBRL4 5,000 x 5,000, library path (``bench.link._ours``): four fields, and with the address;
* generated Spanish-variant people (``bench.synth``, seed 101) and the namesake and swap controls;
* the simulator's people on fresh seeds (``simeval.build`` + ``simeval.hits_scores``), default 81001-81005;
* the attacks of tests/test_attack_hits.py on generated targets (``--attack-seed``): each target's true birth date
  with a crafted name per guess, the share of guesses that hit (the one guess of the true date is what leaks).

    PYTHONPATH=. python -m bench.name_floor --seeds 81001 81002 81003 81004 81005 --scale 3000
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def floor(value: float | None) -> Iterator[None]:
    """Every ``match_blocked`` the benches call (they import it at call time) runs with ``name_floor=value``."""
    from puente.link import clkmatch

    original = clkmatch.match_blocked
    clkmatch.match_blocked = functools.partial(original, name_floor=value)  # type: ignore[assignment]
    try:
        yield
    finally:
        clkmatch.match_blocked = original  # type: ignore[assignment]


def _both(run: Any) -> dict[str, Any]:
    from puente.link import clkmatch

    out = {}
    for name, value in (("before", None), ("after", clkmatch.NAME_FLOOR)):
        with floor(value):
            out[name] = run()
    return out


def febrl_and_generated() -> dict[str, Any]:
    from bench import synth
    from bench.link import _controls, _febrl4_frames, _ours

    _, _, a, b = _febrl4_frames()
    ta, tb = a.id.str.split("-").str[1].to_numpy(), b.id.str.split("-").str[1].to_numpy()
    four = ["given_names", "surnames", "birth_date", "id_number"]
    people, truth = synth.spanish_people(5000, seed=101)
    sa = people[people.owner_node == "us-test"].reset_index(drop=True)
    sb = people[people.owner_node == "mx-test"].reset_index(drop=True)
    return {
        "febrl4, 4 fields": _both(lambda: _ours(a, b, ta, tb, four)),
        "febrl4, + address": _both(lambda: _ours(a, b, ta, tb, [*four, "address"])),
        "generated seed 101": _both(lambda: _ours(sa, sb, sa.id.map(truth).to_numpy(), sb.id.map(truth).to_numpy(),
                                                  ["given_names", "surnames", "birth_date", "curp", "id_number"])),
        "controls": _both(_controls)}


def attacks(seed: int, targets: int = 300, per_target: int = 20) -> dict[str, Any]:
    """Per crafted-name variant, the share of guesses at a target's true birth date that reach a hit (default
    fields, the target without identifiers), without and with the floor."""
    import random

    import numpy as np
    import pandas as pd

    from bench import synth
    from puente.link import clk, clkmatch, hits

    people, _ = synth.spanish_people(targets * 5, seed=seed)
    pool = people.dropna(subset=["birth_date", "surname1", "given_names"]).drop_duplicates("id")
    chosen = pool.sample(targets, random_state=seed).assign(curp=None, id_number=None).to_dict("records")
    rng = random.Random(seed)

    def typo(text: str) -> str:
        i = rng.randrange(len(text))
        return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i + 1:]

    def letters(n: int) -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))

    variants = {
        "random given name (7 letters), one typo in the first surname": lambda r: {
            **r, "given_names": letters(7), "surname1": typo(r["surname1"])},
        "random given name (7 letters), surnames exact": lambda r: {**r, "given_names": letters(7)},
        "random given name (3 letters), surnames exact": lambda r: {**r, "given_names": letters(3)},
        "two typos in the given name, one in the first surname": lambda r: {
            **r, "given_names": typo(typo(r["given_names"])), "surname1": typo(r["surname1"])},
        "one typo in the given name, one in the first surname": lambda r: {
            **r, "given_names": typo(r["given_names"]), "surname1": typo(r["surname1"])},
        "given name exact, random surname": lambda r: {**r, "surname1": letters(7), "surname2": None}}
    key = hits.matching_key(bytes.fromhex("ab" * 32), "bench", 1, "us-node", "mx-node")
    enc = clk.Encoder(key, "person", clk.DEFAULT_FIELDS["person"])
    out: dict[str, Any] = {}
    for name, craft in variants.items():
        query = pd.DataFrame([craft(r) for r in chosen for _ in range(per_target)])
        truth = pd.DataFrame([r for r in chosen for _ in range(per_target)])
        pa, pb = clkmatch.Prepared(enc.encode(query), enc.layout), clkmatch.Prepared(enc.encode(truth), enc.layout)
        rows = np.arange(len(query))
        shares = {}
        for label, value in (("before", None), ("after", clkmatch.NAME_FLOOR)):
            _, scores = clkmatch._score_above(pa, pb, rows, rows, enc.layout, hits.DEFAULT_THRESHOLD,
                                              name_floor=value)
            shares[label] = round(float((scores >= hits.DEFAULT_THRESHOLD).sum()) / len(rows), 4)
        out[name] = {**shares, "guesses": len(rows)}
    return out


def simulator(seed: int, scale: int) -> dict[str, Any]:
    from bench import simeval

    with tempfile.TemporaryDirectory() as tmp:
        nodes, sim = simeval.build(Path(tmp), scale=scale, seed=seed)
        return _both(lambda: simeval.hits_scores(nodes, sim, bytes.fromhex("5a" * 32)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[81001, 81002, 81003, 81004, 81005])
    parser.add_argument("--scale", type=int, default=3000)
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--attack-seed", type=int, default=81001)
    args = parser.parse_args()
    out: dict[str, Any] = {} if args.skip_febrl else febrl_and_generated()
    out["attacks"] = attacks(args.attack_seed)
    print(json.dumps(out, indent=1, default=str), flush=True)
    for seed in args.seeds:
        out[f"simulator seed {seed}@{args.scale}"] = res = simulator(seed, args.scale)
        print(json.dumps({seed: res}, indent=1, default=str), flush=True)
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
