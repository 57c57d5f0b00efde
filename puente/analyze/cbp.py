"""Real CBP drug seizure statistics (table seizure_aggregate): trends and fentanyl shares."""

from __future__ import annotations

import ibis
import pandas as pd

from puente.analyze.common import period_of
from puente.engine import Engine

SOUTHWEST = "Southwest Border"
LB_TO_KG = 0.45359237


def monthly_trends(engine: Engine, drug: str | None = None, period: str = "month") -> pd.DataFrame:
    """Events and pounds per period, area of responsibility and drug."""
    t = engine.table("seizure_aggregate")
    if drug:
        t = t.filter(t.drug == drug)
    expr = (
        t.group_by(period=period_of(t.period, period), component=t.component, region=t.region, aor=t.aor, drug=t.drug)
        .agg(events=t.events.cast("int64").sum(), pounds=t.pounds.cast("float64").sum())
        .order_by(["period", "aor", "drug", "component", "region"])
    )
    out = engine.run(expr)
    out["kg"] = out["pounds"] * LB_TO_KG
    return out


def fentanyl_share(engine: Engine, drug: str = "fentanyl", region: str = SOUTHWEST) -> pd.DataFrame:
    """Share of the drug's pounds and events through each field office (among OFO) and sector (among USBP)
    of a region, per fiscal year and over all years (``fiscal_year`` empty; ``years`` names the span,
    e.g. "FY2019–FY2022")."""
    t = engine.table("seizure_aggregate")
    t = t.filter((t.drug == drug) & (t.region == region))
    by_year = t.group_by(fiscal_year=t.fiscal_year.cast("int64"), component=t.component, aor=t.aor).agg(
        events=t.events.cast("int64").sum(), pounds=t.pounds.cast("float64").sum()
    )
    overall = t.group_by(component=t.component, aor=t.aor).agg(
        events=t.events.cast("int64").sum(), pounds=t.pounds.cast("float64").sum()
    ).mutate(fiscal_year=ibis.literal(0).cast("int64"))
    both = by_year.union(overall.select(by_year.columns))
    window = ibis.window(group_by=[both.fiscal_year, both.component])
    expr = both.mutate(
        pound_share=both.pounds / both.pounds.sum().over(window),
        event_share=both.events.cast("float64") / both.events.sum().over(window).cast("float64"),
        kind=ibis.cases((both.component.contains("Border Patrol"), "sector"), else_="field_office"),
    ).order_by([ibis.desc("fiscal_year"), ibis.desc("pounds"), "aor"])
    out = engine.run(expr)
    years = out.loc[out["fiscal_year"] > 0, "fiscal_year"]
    span = f"FY{years.min()}–FY{years.max()}" if len(years) else ""
    out.insert(1, "years", [f"FY{y}" if y > 0 else span for y in out["fiscal_year"]])
    out["fiscal_year"] = out["fiscal_year"].astype("Int64").where(out["fiscal_year"] > 0, pd.NA)
    return out
