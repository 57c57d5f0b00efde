"""Pieces every analytic shares: periods, the event union, H3 coarsening, distances."""

from __future__ import annotations

import math
from collections.abc import Iterable

import h3
import ibis
import ibis.expr.types as ir
import pandas as pd

from puente.engine import Engine
from puente.errors import UsageError

PERIODS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}

# The place field and date field of each event kind, and what it weighs.
EVENT_KINDS = {
    "seizure": ("place", "date"),
    "lab_site": ("place", "date_found"),
    "precursor_shipment": ("port", "arrival_date"),
    "firearm_trace": ("recovery_place", "recovery_date"),
}


def period_unit(period: str) -> str:
    if period not in PERIODS:
        raise UsageError("bad_period", period=period, periods=", ".join(PERIODS))
    return PERIODS[period]


def period_of(column: ir.Value, period: str) -> ir.Value:
    """The first day of the period containing a date (engine-independent)."""
    return column.cast("date").truncate(period_unit(period)).cast("date")


def events(engine: Engine, kinds: Iterable[str] = ("seizure", "lab_site")) -> ir.Table:
    """One row per dated, placed event of the given kinds, with common columns."""
    parts = []
    for kind in kinds:
        if not engine.has_table(kind):
            continue
        place, date = EVENT_KINDS[kind]
        t = engine.table(kind)
        kg = t.quantity_kg.cast("float64") if kind in ("seizure", "precursor_shipment") else ibis.literal(0.0)
        pills = t.pill_count.cast("int64") if kind == "seizure" else ibis.literal(0).cast("int64")
        parts.append(
            t.select(
                kind=ibis.literal(kind),
                id=t.id,
                date=t[date].cast("date"),
                place_id=t[f"{place}_id"],
                place_name=t[f"{place}_name"],
                admin1=t[f"{place}_admin1"],
                country=t[f"{place}_country"],
                lat=t[f"{place}_lat"].cast("float64"),
                lon=t[f"{place}_lon"].cast("float64"),
                h3=t[f"{place}_h3"],
                kg=kg.fill_null(0.0),
                pills=pills.fill_null(0),
            )
        )
    if not parts:
        raise UsageError("no_events")
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out.filter(out.date.notnull())


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where a condition holds, else 0 (PostgreSQL cannot cast booleans to integers)."""
    return condition.ifelse(1, 0).cast("int64")


def coarsen(frame: pd.DataFrame, column: str, resolution: int) -> pd.Series:
    """Parent H3 cell of each res-8 cell at a coarser resolution."""
    cache: dict[str, str] = {}

    def parent(cell: str) -> str | None:
        if not isinstance(cell, str) or not cell:
            return None
        if cell not in cache:
            res = h3.get_resolution(cell)
            cache[cell] = cell if res <= resolution else h3.cell_to_parent(cell, resolution)
        return cache[cell]

    return frame[column].map(parent)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, a)))


def benjamini_hochberg(pvalues: pd.Series) -> pd.Series:
    """BH-adjusted p-values (false discovery rate control across many tests)."""
    from scipy.stats import false_discovery_control

    if pvalues.empty:
        return pvalues.astype(float)
    return pd.Series(false_discovery_control(pvalues.to_numpy(dtype=float), method="bh"), index=pvalues.index)
