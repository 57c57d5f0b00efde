"""The destination monitor also tests the last three months against the six before them: a new corridor's city
that gains a few known loads a month alarms within two months, once per city-month."""

from __future__ import annotations

import pandas as pd

from puente.analyze.corridors import shift_monitors


def _flows() -> pd.DataFrame:
    months = pd.date_range("2020-01-01", periods=18, freq="MS")
    rows = []
    for i, m in enumerate(months):
        loads = {f"City {k}": 12 for k in range(30)}
        # a new corridor opens in month 10: its destination, 2 known loads a month before, gets 6 more a month
        loads["Memphis, Tennessee"] = 2 if i < 9 else 8
        for city, n in loads.items():
            rows.append({"period": m, "origin": "?", "crossing": "?", "destination": city,
                         "events": n, "loads": n, "kg": float(n), "pills": 0})
    return pd.DataFrame(rows)


def _alarms(shifts: pd.DataFrame, city: str) -> pd.DataFrame:
    rows = shifts[(shifts["level"] == "destination") & (shifts["destination"] == city)]
    return rows[rows["shift"].astype(bool)]


def test_a_new_corridors_city_alarms_within_two_months_against_six_months_before() -> None:
    flows = _flows()
    start = pd.Timestamp("2020-10-01")
    found = _alarms(shift_monitors(flows), "Memphis, Tennessee")
    assert not found.empty and start <= found["period"].min() <= start + pd.DateOffset(months=2)
    # against the three months before only (the monitor before), it does not alarm (q = 0.026 at month 12)
    assert _alarms(shift_monitors(flows, long_baseline=None), "Memphis, Tennessee").empty


def test_one_destination_row_per_city_month_and_no_alarm_on_steady_cities() -> None:
    shifts = shift_monitors(_flows())
    dest = shifts[shifts["level"] == "destination"]
    assert not dest.duplicated(["destination", "period"]).any()
    assert not dest.loc[dest["shift"].astype(bool), "destination"].str.startswith("City").any()
    first = dest[dest["first"].astype(bool)]
    assert len(first) == first["destination"].nunique()  # one episode for the city
