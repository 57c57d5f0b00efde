"""The per-identity budget of hit/no-hit (``hits.max_per_identity``, puente/link/identity.py): how many distinct
encodings of one honest query share one identity signature, against what a birth-date enumeration needs.

* honest: a partner's query is its own people. The simulator's people (``World._person`` with the roles and
  nationalities of a simulated world, each written as registered or, three times in ten, as one of its noisy
  variants) at fresh seeds, 10,000 to 200,000 of them (the default daily cap), and FEBRL4 (both files, 10,000).
  Reported: the largest number of distinct encodings behind one signature (what the budget must stay above),
  and the largest group of people whose normalized full name is the same (a floor no identity budget can go
  under: those are namesakes).
* attack: one known name with every date of a 40-year range (14,610 encodings), the name exact, with a new
  one-letter typo in the given name, in the first surname, or in both for every date. Reported: the largest
  count, i.e. how many of the guesses the budget sees as one identity.

    PYTHONPATH=. python -m bench.hits_budget --seeds 301 302 303 --sizes 10000 100000 200000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from puente.link import clk, hits, identity
from puente.link import normalize as nz

KEY = hits.matching_key(bytes.fromhex("5a" * 32), "bench", 1, "us-node", "mx-node")


def simulator_people(n: int, seed: int) -> pd.DataFrame:
    """``n`` people drawn as the simulator draws them, in the mix of roles and nationalities of a world."""
    from puente.simulate.config import Scenario
    from puente.simulate.world import World

    rng = np.random.default_rng(seed)
    world = World(Scenario(), 2000, rng)
    mix = Counter((p.role, p.nationality, p.state) for p in world.people.values())
    kinds = list(mix)
    share = np.array([mix[k] for k in kinds], dtype=float)
    records = []
    for i in rng.choice(len(kinds), n, p=share / share.sum()):
        role, nationality, state = kinds[i]
        person = world._person("", role, nationality, state)
        variant = person.variants[int(rng.integers(len(person.variants)))] if rng.random() < 0.3 else person.variants[0]
        records.append({**variant, "birth_date": str(person.birth), "curp": person.curp or None})
    return pd.DataFrame(records)


def febrl_people() -> pd.DataFrame:
    from bench.link import _febrl4_frames

    _, _, a, b = _febrl4_frames()
    return pd.concat([a, b], ignore_index=True).assign(surname2=None)


def namesakes(frame: pd.DataFrame) -> int:
    """The largest group of records whose normalized first given name and surnames are the same."""
    s2 = frame["surname2"] if "surname2" in frame else pd.Series([None] * len(frame))
    keys = Counter((nz.first_given(g), tuple(nz.surname_keys(*nz.split_surnames(a, b))))
                   for g, a, b in zip(frame["given_names"], frame["surname1"], s2))
    return max(keys.values())


def honest(frame: pd.DataFrame, fields: list[str]) -> dict[str, Any]:
    enc = clk.Encoder(KEY, "person", fields)
    packed = enc.encode(frame)
    started = time.perf_counter()
    largest = identity.largest_group(packed, enc.layout, KEY)
    return {"people": len(frame), "largest_identity": largest, "namesakes": namesakes(frame),
            "signature_seconds": round(time.perf_counter() - started, 1)}


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i + 1:]


def attack(who: dict[str, Any], fields: list[str], seed: int) -> dict[str, int]:
    """The largest identity count of 14,610 guessed birth dates under one known name, exact or with typos."""
    rng = random.Random(seed)
    born = dt.date.fromisoformat(str(who["birth_date"]))
    start = dt.date(born.year - 20, 1, 1)
    dates = [start + dt.timedelta(days=d) for d in range((dt.date(born.year + 20, 1, 1) - start).days)]
    enc = clk.Encoder(KEY, "person", fields)

    def count(change: Any) -> int:
        guesses = pd.DataFrame([{**who, **change(), "birth_date": d} for d in dates])
        return identity.largest_group(enc.encode(guesses), enc.layout, KEY)

    return {"guesses": len(dates), "exact": count(dict),
            "typo_given": count(lambda: {"given_names": _typo(who["given_names"], rng)}),
            "typo_surname": count(lambda: {"surname1": _typo(who["surname1"], rng)}),
            "typo_both": count(lambda: {"given_names": _typo(who["given_names"], rng),
                                        "surname1": _typo(who["surname1"], rng)})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[301, 302, 303])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-febrl", action="store_true")
    args = parser.parse_args()
    fields = clk.DEFAULT_FIELDS["person"]
    out: dict[str, Any] = {"bands": identity.BANDS, "simulator": [], "attack": []}
    for seed in args.seeds:
        for size in args.sizes:
            frame = simulator_people(size, seed)
            out["simulator"].append({"seed": seed, **honest(frame, fields)})
            print(json.dumps(out["simulator"][-1]), flush=True)
        mexican = frame[frame["curp"].notna() & (frame["surname2"] != "")].iloc[0].to_dict()
        out["attack"].append({"seed": seed, "who": "Mexican, CURP", **attack(mexican, fields, seed)})
        other = frame[frame["curp"].isna()].iloc[0].to_dict()
        out["attack"].append({"seed": seed, "who": "no CURP", **attack(other, fields, seed)})
        print(json.dumps(out["attack"][-2:]), flush=True)
    if not args.no_febrl:
        out["febrl4"] = honest(febrl_people(), ["given_names", "surnames", "birth_date", "id_number"])
        print(json.dumps(out["febrl4"]), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
