"""Score route-shift monitor variants on built worlds (bench/shift_worlds.py) from their written flows.

    PYTHONPATH=. python -m bench.shift_variants --seed 7 --seed 11

Recomputes ``corridors.shift_monitors`` from ``corridors_flows`` (what `analyze corridors` does) with each
variant's options and scores it with the harness's definitions (``alarm_episodes``, ``_score_alarms``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bench import analytics_truth as at
from bench.shift_worlds import world
from puente.analyze import corridors

VARIANTS: dict[str, dict[str, Any]] = {
    "previous (national, 2 months)": {"within_office": (), "window": 2},
    "within office, 2 months": {"window": 2},
    "national, 3 months": {"within_office": ()},
    "product (within office, 3 months)": {},
}


def score(run: at.Run, shifts: pd.DataFrame) -> dict[str, Any]:
    months = at.written(run, "corridors_flows")["period"].nunique() - at.BASELINE_PERIODS
    return at._score_alarms(at.alarm_episodes(shifts), at._affected(run), months)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path("/work/worlds/shifts"))
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--seed", type=int, action="append", required=True)
    args = parser.parse_args()
    for seed in args.seed:
        run = world(args.root, seed, args.scale)
        flows = at.written(run, "corridors_flows")
        for name, options in VARIANTS.items():
            p = score(run, corridors.shift_monitors(flows, **options))
            false = "; ".join(f"{r.level} {r.crossing or ''}{'>' if r.crossing and r.destination else ''}"
                              f"{r.destination or ''} {r.start // 12}-{r.start % 12 + 1:02d}"
                              for r in p["false_list"].itertuples())
            print(f"seed {seed} {name}: {p['detected']}/{p['planted']} {p['delays']} false {p['false_alarms']} "
                  f"({p['false_per_year']:.2f}/yr) [{false}]", flush=True)


if __name__ == "__main__":
    main()
