"""The simulator's people (with its birth-date typos) under the birth-date rule and the rule it replaced.

For each seed: ``puente simulate`` into two nodes (``bench.simeval.build``), then person ER over both nodes'
people with the current rule (``dates_conflict``) and with the previous one (two dates conflict only when two
years apart or more and not one slipped or swapped digit; copied here verbatim), and hit/no-hit (which does
not use the rule). Also: the dated records whose date is mistyped (not their person's usual date).

    PYTHONPATH=. python bench/dob_people.py --seed 6607 --seed 7717 --scale 3000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from bench import simeval
from puente.link import resolve as resolve_module


def previous_births_conflict(a: str, b: str) -> bool:
    """The rule before this change (commit cdb7b27)."""
    try:
        gap = abs((dt.date.fromisoformat(a) - dt.date.fromisoformat(b)).days)
    except ValueError:
        return False
    if gap < 730 or len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    return len(diff) > 1 and not swapped


def previous_dates_conflict(a: set[str], b: set[str], own: set[tuple[str | None, str | None]] | None = None) -> bool:
    """How the previous code compared two groups' dates: any conflicting pair but the scored pair's own."""
    return any(previous_births_conflict(x, y) for x in a for y in b if (x, y) not in (own or set()))


def mistyped(nodes: dict[str, Any], sim: Path) -> dict[str, int]:
    records = pd.concat([simeval.people(nodes["US"]), simeval.people(nodes["MX"])], ignore_index=True)
    records["entity"] = records["source_id"].map(simeval.truth(sim))
    dated = records[records["birth_date"].notna() & records["entity"].notna()]
    usual = dated.groupby("entity")["birth_date"].agg(lambda s: s.mode().iloc[0])
    return {"dated": len(dated), "mistyped": int((dated["birth_date"] != dated["entity"].map(usual)).sum())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, action="append", required=True)
    parser.add_argument("--scale", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path("/work/worlds/dob6/dob_people.jsonl"))
    args = parser.parse_args()
    current = resolve_module.dates_conflict
    for seed in args.seed:
        with tempfile.TemporaryDirectory() as tmp:
            nodes, sim = simeval.build(Path(tmp), scale=args.scale, seed=seed)
            row: dict[str, Any] = {"seed": seed, "scale": args.scale, **mistyped(nodes, sim)}
            row["er_new"] = simeval.er_scores(nodes, sim)
            resolve_module.dates_conflict = previous_dates_conflict  # type: ignore[assignment]
            try:
                row["er_old"] = simeval.er_scores(nodes, sim)
            finally:
                resolve_module.dates_conflict = current  # type: ignore[assignment]
            row["hits"] = simeval.hits_scores(nodes, sim, bytes.fromhex("5a" * 32))
        line = json.dumps(row)
        print(line, flush=True)
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
