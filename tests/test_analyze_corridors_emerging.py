"""The emerging-destinations monitor (`corridors_shifts` level ``emerging``): a new corridor spreads its loads
over cities that were quiet for a year, too few in any one city for the per-city monitor among many
destinations, but together they stand out; a surge of a city that was already busy, or the quiet cities'
usual sporadic loads, are no emerging destinations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from puente.analyze.output import bilingual
from puente.analyze.shifts import SHIFT_LEVELS, emerging_destinations, shift_monitors

MONTHS = pd.date_range("2019-01-01", periods=36, freq="MS")
OPENS = 22  # the new corridor carries its first loads in month 22
NEW_CITIES = ["Nashville, Tennessee", "Louisville, Kentucky", "Columbus, Ohio", "Indianapolis, Indiana"]
BUSY = {f"Busy {k}, Texas": 30.0 / (k + 1) for k in range(12)}  # the established destinations
QUIET = {f"Quiet {k}, Ohio": 0.15 for k in range(40)}  # sporadic stated destinations: ~1 load a year each


def _flows(seed: int, corridor: bool = True, busy_surge: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i, m in enumerate(MONTHS):
        growth = 1.0 + i / 24  # seizures grow over the period, as the CBP series does
        mean = {**{d: mu * growth for d, mu in BUSY.items()}, **{d: mu * growth for d, mu in QUIET.items()}}
        for city in NEW_CITIES:
            mean[city] = 0.1 * growth  # a stray load now and then before the corridor opens
            if corridor and i >= OPENS:
                mean[city] = 3.5  # then 3-4 known loads a month each: 14 in all (the I-40 at 60k: 12-27)
        if busy_surge and i >= OPENS:
            mean["Busy 3, Texas"] *= 1.8
        for dest, mu in mean.items():
            n = int(rng.poisson(mu))
            if n:
                rows.append({"period": m, "origin": "?", "crossing": "Nogales DeConcini", "destination": dest,
                             "events": n, "loads": n, "kg": float(n), "pills": 0})
    return pd.DataFrame(rows)


def _alarms(shifts: pd.DataFrame, level: str) -> pd.DataFrame:
    return shifts[(shifts["level"] == level) & shifts["shift"].astype(bool)]


def test_quiet_cities_that_rise_together_are_alarmed_within_two_months() -> None:
    assert "emerging" in SHIFT_LEVELS
    missed_by_cities = 0
    for seed in (1, 2, 3, 4):
        shifts = shift_monitors(_flows(seed))
        emerging = _alarms(shifts, "emerging")
        assert len(emerging), seed
        first = emerging["period"].min()
        assert MONTHS[OPENS] <= first <= MONTHS[OPENS + 2], (seed, first)
        # the alarm is led by one of the new cities, and that lead holds for the whole episode
        episode = emerging[emerging["period"] <= MONTHS[OPENS + 6]]
        assert episode["destination"].nunique() == 1 and episode["destination"].iloc[0] in NEW_CITIES, seed
        assert set(NEW_CITIES) & set(episode["members"].iloc[0].split("; ")), seed
        # every alarm of this level is the corridor's: nothing before it opens
        assert (emerging["period"] >= MONTHS[OPENS]).all(), seed
        cities = _alarms(shifts, "destination")
        in_time = cities["destination"].isin(NEW_CITIES) & (cities["period"] <= MONTHS[OPENS + 2])
        missed_by_cities += not in_time.any()
    # the per-city monitor alone misses the corridor in time on some of these worlds: the reason for the level
    assert missed_by_cities >= 1


def test_no_corridor_no_emerging_alarm() -> None:
    for seed in range(1, 9):
        assert _alarms(shift_monitors(_flows(seed, corridor=False)), "emerging").empty, seed


def test_a_busy_city_that_surges_is_no_emerging_destination() -> None:
    for seed in (1, 2, 3):
        flows = _flows(seed, corridor=False, busy_surge=True)
        tested = emerging_destinations(flows)
        assert not tested["shift"].any(), seed
        # the surging city is never among the quiet cities the monitor sums
        assert not tested["members"].str.contains("Busy 3, Texas", regex=False).any(), seed


def test_the_emerging_level_has_labels_in_both_languages() -> None:
    shifts = bilingual(shift_monitors(_flows(1)))
    row = shifts[shifts["level"] == "emerging"].iloc[0]
    assert row["level_en"] == "Emerging destinations (cities quiet for a year)"
    assert row["level_es"] == "Destinos emergentes (ciudades casi sin cargas en un año)"
