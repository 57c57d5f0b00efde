"""The new-route monitor (`corridors_shifts` level ``new_route``): a port → destination pair that carried no
load in the twelve months before its last three is alarmed when its loads stand out within its field office;
a pair that the year already saw is not a new route, however much it grows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from puente.analyze.output import bilingual
from puente.analyze.shifts import NEW_ROUTE_BASELINE, SHIFT_LEVELS, shift_monitors

MONTHS = pd.date_range("2019-01-01", periods=30, freq="MS")
OPENS = 20  # Douglas → Los Angeles carries its first load in month 20


def _flows(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i, m in enumerate(MONTHS):
        mean = {
            ("Nogales DeConcini", "Phoenix, Arizona"): 40.0,
            ("Nogales DeConcini", "Tucson, Arizona"): 15.0,
            ("Douglas", "Houston, Texas"): 8.0,
            ("Douglas", "San Antonio, Texas"): 5.0,
            ("Nogales Mariposa", "Denver, Colorado"): 6.0,
            ("San Ysidro", "Los Angeles, California"): 200.0,
            ("Otay Mesa", "San Francisco, California"): 12.0,
            # an old, thin pair of the Tucson office that grows threefold at the same time
            ("Nogales Mariposa", "Minneapolis, Minnesota"): 3.0 if i >= OPENS else 1.0,
        }
        if i >= 6:  # a route the office has served for over a year when Lukeville joins it
            mean[("Nogales DeConcini", "Memphis, Tennessee")] = 6.0
        if i >= OPENS:
            mean[("Lukeville", "Memphis, Tennessee")] = 3.5  # a late port of that route: a new pair, no new route
            mean[("Douglas", "Los Angeles, California")] = 3.5  # the new westbound route: 3-4 known loads a month
        for (port, dest), mu in mean.items():
            n = int(rng.poisson(mu))
            if n:
                rows.append(
                    {
                        "period": m,
                        "origin": "?",
                        "crossing": port,
                        "destination": dest,
                        "events": n,
                        "loads": n,
                        "kg": float(n),
                        "pills": 0,
                    }
                )
    return pd.DataFrame(rows)


def _alarms(shifts: pd.DataFrame, level: str) -> pd.DataFrame:
    return shifts[(shifts["level"] == level) & shifts["shift"].astype(bool)]


def test_a_pair_that_appears_is_a_new_route_within_two_months() -> None:
    assert "new_route" in SHIFT_LEVELS
    for seed in (3, 4, 5):
        shifts = shift_monitors(_flows(seed))
        new = _alarms(shifts, "new_route")
        assert set(zip(new["crossing"], new["destination"])) <= {("Douglas", "Los Angeles, California")}, seed
        assert (new["baseline"] == 0).all() and new["new"].all()
        assert set(new["field_office"]) <= {"TUCSON FIELD OFFICE"}
        # alarmed within two months, as a new route or (the same alarm) by the pair monitor
        pair = shifts[(shifts["crossing"] == "Douglas") & (shifts["destination"] == "Los Angeles, California")]
        first = pair.loc[pair["shift"].astype(bool), "period"].min()
        assert MONTHS[OPENS] <= first <= MONTHS[OPENS + 2], (seed, first)
    # on seed 3 the new route is alarmed a month before the three-month pair test sees anything
    shifts = shift_monitors(_flows(3))
    assert _alarms(shifts, "new_route")["period"].min() == MONTHS[OPENS]
    pair = _alarms(shifts, "port_destination")
    assert pair.loc[pair["crossing"] == "Douglas", "period"].min() > MONTHS[OPENS]


def test_a_pair_the_year_already_saw_is_no_new_route() -> None:
    flows = _flows(3)
    # one load on the pair 11 months before it opens: inside the twelve-month baseline, so it is not new
    seen = pd.DataFrame(
        [
            {
                "period": MONTHS[OPENS - NEW_ROUTE_BASELINE + 1],
                "origin": "?",
                "crossing": "Douglas",
                "destination": "Los Angeles, California",
                "events": 1,
                "loads": 1,
                "kg": 1.0,
                "pills": 0,
            }
        ]
    )
    shifts = shift_monitors(pd.concat([flows, seen], ignore_index=True))
    assert _alarms(shifts, "new_route").empty
    # the growing old pair is never a new route either (whatever the other monitors say of it)
    tested = shifts[shifts["level"] == "new_route"]
    assert not ((tested["crossing"] == "Nogales Mariposa") & (tested["destination"] == "Minneapolis, Minnesota")).any()


def test_a_new_pair_to_a_city_its_office_already_serves_is_no_new_route() -> None:
    shifts = shift_monitors(_flows(3))
    tested = shifts[(shifts["level"] == "new_route") & (shifts["crossing"] == "Lukeville")]
    assert len(tested) and (tested["baseline"] == 0).all()  # the pair is new and tested ...
    assert not tested["shift"].astype(bool).any()  # ... but Memphis is no new destination for the Tucson office
    assert (tested["office_baseline"] > 0).all()


def test_a_new_route_to_a_destination_already_alarmed_is_the_same_alarm() -> None:
    flows = _flows(3)
    # Los Angeles as a whole surges (San Ysidro: 20 loads a month, 120 from the month Douglas → Los Angeles
    # appears): its destination alarm is open, and the new route is that alarm, not a second one
    la = (flows["crossing"] == "San Ysidro") & (flows["destination"] == "Los Angeles, California")
    surged = np.where(flows.loc[la, "period"] >= MONTHS[OPENS], 120, 20)
    flows.loc[la, "loads"] = surged
    flows.loc[la, "events"] = surged
    shifts = shift_monitors(flows)
    assert not _alarms(shifts, "destination").query("destination == 'Los Angeles, California'").empty
    new = shifts[(shifts["level"] == "new_route") & (shifts["crossing"] == "Douglas")]
    assert (new["covered"] == True).any()  # object column: True, False or NaN
    assert _alarms(shifts, "new_route").empty
    # without the surge the same pair is alarmed as a new route (test above): the cover made the difference


def test_the_new_route_level_has_labels_in_both_languages() -> None:
    shifts = bilingual(shift_monitors(_flows(3)))
    row = shifts[shifts["level"] == "new_route"].iloc[0]
    assert row["level_en"] == "New route (port → destination)"
    assert row["level_es"] == "Ruta nueva (puerto → destino)"
