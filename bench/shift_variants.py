"""Score route-shift monitor variants on built worlds (bench/shift_worlds.py) from their written flows.

    PYTHONPATH=. python -m bench.shift_variants --seed 7 --seed 11

Recomputes ``shifts.shift_monitors`` from ``corridors_flows`` (what `analyze corridors` does) with each
variant's options and scores it with the harness's definitions (``alarm_episodes``, ``_score_alarms``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bench import analytics_truth as at
from bench.shift_worlds import world
from puente.analyze import corridors, shifts

VARIANTS: dict[str, dict[str, Any]] = {
    "previous (national, 2 months)": {"within_office": (), "window": 2},
    "within office, 2 months": {"window": 2},
    "national, 3 months": {"within_office": ()},
    "product (within office, 3 months)": {},
}
# shifts round 3 (not shipped): the destination level also tests the last three months against the SIX months
# before them, at q < 0.003, one row per city-month (flagged when either test flags it).
LONG_BASELINE, LONG_ALPHA = 6, 0.003


def destinations_also_long(flows: pd.DataFrame, long_baseline: int = LONG_BASELINE,
                           alpha: float = LONG_ALPHA) -> pd.DataFrame:
    """The product's monitors, with each destination city-month also flagged when its last three months stand
    out against the ``long_baseline`` months before them (q < ``alpha``): one row per city-month, the figures of
    the test that flagged (the product's when both or neither did), ``first`` re-marked (gap 3)."""
    base = shifts.shift_monitors(flows)
    known = flows[flows["destination"] != corridors.UNKNOWN]
    longer = shifts.route_shifts(known, ["destination"], window=shifts.SHIFT_WINDOW,
                                    baseline_periods=long_baseline, alpha=alpha)
    longer = longer.assign(level="destination", crossing=None, field_office=None)[base.columns]
    dest = base[base["level"] == "destination"]
    both = pd.concat([dest.assign(_long=0), longer.assign(_long=1)], ignore_index=True)
    both["shift"] = both["shift"].astype(bool)
    both = both.sort_values(["destination", "period", "shift", "_long"], ascending=[True, True, False, True])
    merged = both.drop_duplicates(["destination", "period"]).drop(columns="_long").reset_index(drop=True)
    periods = {p: i for i, p in enumerate(sorted(flows["period"].unique()))}
    flagged = merged[merged["shift"]].assign(_pos=lambda f: f["period"].map(periods))
    gap = flagged.groupby("destination")["_pos"].diff()
    merged["first"] = False
    merged.loc[flagged.index, "first"] = (gap.isna() | (gap > 3)).to_numpy()
    return pd.concat([base[base["level"] != "destination"], merged], ignore_index=True)


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
        monitors = {name: shifts.shift_monitors(flows, **options) for name, options in VARIANTS.items()}
        monitors["destinations also against 6 months, q < 0.003 (round 3, not shipped)"] = destinations_also_long(flows)
        product = monitors["product (within office, 3 months)"]
        monitors["without new routes (main before round 4)"] = product[product["level"] != "new_route"]
        for name, written in monitors.items():
            p = score(run, written)
            false = "; ".join(f"{r.level} {r.crossing or ''}{'>' if r.crossing and r.destination else ''}"
                              f"{r.destination or ''} {r.start // 12}-{r.start % 12 + 1:02d}"
                              for r in p["false_list"].itertuples())
            print(f"seed {seed} {name}: {p['detected']}/{p['planted']} {p['delays']} false {p['false_alarms']} "
                  f"({p['false_per_year']:.2f}/yr) [{false}]", flush=True)


if __name__ == "__main__":
    main()
