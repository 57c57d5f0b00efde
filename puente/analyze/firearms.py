"""Firearm flows: source states and dealers, time to crime, repeat dealers and purchasers,
multiple sales, purchase-state → recovery-state flows, and the corridors guns share with drugs."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from puente.analyze.chains import entity_links
from puente.analyze.common import flag
from puente.engine import Engine

# Time-to-crime buckets (days); ATF treats under three years as a trafficking indicator.
TTC_BUCKETS = [(0, 90), (90, 365), (365, 3 * 365), (3 * 365, 10**6)]


def _traces(engine: Engine):  # type: ignore[no-untyped-def]
    t = engine.table("firearm_trace")
    ttc = t.time_to_crime_days.cast("int64")
    derived = t.recovery_date.cast("date").delta(t.purchase_date.cast("date"), unit="day").cast("int64")
    return t.mutate(ttc=ttc.fill_null(derived))


def source_states(engine: Engine) -> pd.DataFrame:
    """Traces per purchase state, with the median-free summary (count, short time-to-crime count)."""
    t = _traces(engine)
    expr = t.group_by(purchase_state=t.purchase_state.fill_null("?")).agg(
        traces=t.count(), dealers=t.dealer_ffl.nunique(), short_ttc=flag(t.ttc < 3 * 365).sum())
    out = engine.run(expr)
    out["share"] = out["traces"] / out["traces"].sum()
    return _ints(out.sort_values(["traces", "purchase_state"], ascending=[False, True]), "traces", "dealers", "short_ttc")


def dealers(engine: Engine, min_traces: int = 1) -> pd.DataFrame:
    """Dealers (FFL) by number of traces, with their states and median time to crime."""
    t = _traces(engine)
    t = t.filter(t.dealer_ffl.notnull())
    expr = t.group_by(dealer_ffl=t.dealer_ffl).agg(
        dealer_name=t.dealer_name.max(), purchase_state=t.purchase_state.max(), traces=t.count(),
        purchasers=t.purchaser.nunique(), short_ttc=flag(t.ttc < 3 * 365).sum(), ttc_mean=t.ttc.mean())
    out = engine.run(expr.filter(expr.traces >= min_traces))
    return _ints(out.sort_values(["traces", "dealer_ffl"], ascending=[False, True]), "traces", "purchasers", "short_ttc")


def purchasers(engine: Engine, min_traces: int = 2) -> pd.DataFrame:
    """Purchasers with many traced guns (straw purchase indicator)."""
    t = _traces(engine)
    t = t.filter(t.purchaser.notnull())
    expr = t.group_by(purchaser=t.purchaser).agg(
        traces=t.count(), dealers=t.dealer_ffl.nunique(), states=t.purchase_state.nunique(),
        first_purchase=t.purchase_date.cast("date").min(), last_purchase=t.purchase_date.cast("date").max(),
        ttc_mean=t.ttc.mean())
    out = engine.run(expr.filter(expr.traces >= min_traces))
    return _ints(out.sort_values(["traces", "purchaser"], ascending=[False, True]), "traces", "dealers", "states")


def time_to_crime(engine: Engine) -> pd.DataFrame:
    """Distribution of time to crime: counts per bucket plus quantiles (bucket 'q50' etc. in days)."""
    t = _traces(engine)
    values = engine.run(t.filter(t.ttc.notnull()).select("ttc"))["ttc"].to_numpy(dtype=float)
    rows = [{"bucket": f"{lo}-{hi if hi < 10**6 else ''}", "traces": int(((values >= lo) & (values < hi)).sum())}
            for lo, hi in TTC_BUCKETS]
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        rows.append({"bucket": f"q{int(q * 100)}", "traces": int(np.quantile(values, q)) if len(values) else 0})
    return pd.DataFrame(rows)


def multiple_sales(engine: Engine, days: int = 5) -> pd.DataFrame:
    """Purchases of two or more traced guns by one purchaser within ``days`` (consecutive purchases)."""
    t = _traces(engine)
    t = t.filter(t.purchaser.notnull() & t.purchase_date.notnull()).select(
        purchaser=t.purchaser, serial=t.serial, dealer_ffl=t.dealer_ffl, day=t.purchase_date.cast("date"), id=t.id)
    w = ibis.window(group_by=t.purchaser, order_by=[t.day, t.id])
    gap = t.mutate(prev_day=t.day.lag().over(w))
    gap = gap.mutate(new_group=ibis.cases((gap.prev_day.isnull(), 1),
                                          (gap.day.delta(gap.prev_day, unit="day") > days, 1), else_=0))
    grp = gap.mutate(group=gap.new_group.sum().over(ibis.window(group_by=gap.purchaser, order_by=[gap.day, gap.id],
                                                                  preceding=None, following=0)))
    expr = grp.group_by(["purchaser", "group"]).agg(
        guns=grp.count(), first=grp.day.min(), last=grp.day.max(), dealers=grp.dealer_ffl.nunique())
    out = engine.run(expr.filter(expr.guns >= 2)).drop(columns=["group"])
    return _ints(out.sort_values(["guns", "purchaser", "first"], ascending=[False, True, True]), "guns", "dealers")


def state_flows(engine: Engine) -> pd.DataFrame:
    """Purchase state → recovery state (and country) flows."""
    t = _traces(engine)
    expr = t.group_by(purchase_state=t.purchase_state.fill_null("?"),
                      recovery_state=t.recovery_place_admin1.fill_null("?"),
                      recovery_country=t.recovery_place_country.fill_null(t.recovery_country).fill_null("?")).agg(
        traces=t.count(), ttc_mean=t.ttc.mean())
    out = engine.run(expr)
    return _ints(out.sort_values(["traces", "purchase_state", "recovery_state"], ascending=[False, True, True]), "traces")


def shared_corridors(engine: Engine, flows: pd.DataFrame) -> pd.DataFrame:
    """Drug corridors whose two ends match a gun flow: guns bought in the drug destination's state and
    recovered in the drug origin's state (the same road, both directions); plus people linked to both
    a traced gun and a seizure."""
    guns = state_flows(engine)
    guns = guns[guns["recovery_country"] == "MX"]
    drugs = flows.copy()
    drugs["origin_state"] = drugs["origin"].str.split(", ").str[-1]
    drugs["destination_state"] = drugs["destination"].str.split(", ").str[-1]
    states = _us_state_names()
    guns = guns.assign(purchase_state_name=guns["purchase_state"].map(lambda s: states.get(s, s)))
    drugs = drugs.groupby(["origin", "crossing", "destination", "origin_state", "destination_state"],
                          as_index=False)[["loads", "kg"]].sum()
    out = drugs.merge(guns, left_on=["destination_state", "origin_state"],
                      right_on=["purchase_state_name", "recovery_state"])
    both = _people_on_both(engine)
    out["shared_people"] = len(both)
    cols = ["origin", "crossing", "destination", "loads", "kg", "purchase_state", "recovery_state", "traces"]
    return out[cols + ["shared_people"]].sort_values(["traces", "loads"], ascending=False).reset_index(drop=True)


def _people_on_both(engine: Engine) -> pd.DataFrame:
    guns = entity_links(engine, "firearm_trace")
    drugs = entity_links(engine, "seizure")
    expr = guns.select(entity=guns.entity).distinct().join(drugs.select(e2=drugs.entity).distinct(),
                                                           guns.entity == drugs.entity)
    return engine.run(expr.select("entity"))


def _us_state_names() -> dict[str, str]:
    names = {"AZ": "Arizona", "TX": "Texas", "CA": "California", "NM": "New Mexico", "NV": "Nevada",
             "CO": "Colorado", "OK": "Oklahoma", "IL": "Illinois", "FL": "Florida", "GA": "Georgia",
             "UT": "Utah", "WA": "Washington", "OR": "Oregon", "NY": "New York", "TN": "Tennessee"}
    return names


def _ints(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for col in cols:
        frame[col] = frame[col].astype("int64")
    return frame.reset_index(drop=True)
