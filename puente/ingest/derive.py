"""Derived fields, declared per kind in ``schema.yaml`` (kind key ``derive: [name, ...]``).

Each derivation is a small function over one record (a dict of its cleaned values) that sets the
kind's derived fields and may correct an input field (a pill count fills ``form``). It reads only
the columns in ``reads`` and writes only those in ``writes``, so the columnar pipeline runs it once
per *distinct* combination of the columns it reads (plus the row's country and the raw text named
in ``raw``), and the row pipeline runs it on the whole record: the same function, the same result.

A derivation raises :class:`~puente.model.types.Invalid` to reject the row (a fractional pill
count), or appends to ``ctx.issues`` to null an optional value with its reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from puente.model.types import Invalid, period_bounds

_LB = 0.45359237


@dataclass
class DeriveContext:
    """What a derivation may use besides the record itself."""

    country: str | None  # the row's country (its country column, else the profile's)
    units: dict[str, Any]  # the units vocabulary's terms
    place: Callable[[str, Any, str | None], dict[str, Any]]  # (place field, text, country) -> its columns
    record_id: Callable[[str, str], str]  # (kind, source reference) -> the record id it would have
    raw: Callable[[str], Any]  # a field's value as read (for an issue's raw text)
    issues: list[Any] = field(default_factory=list)  # Rejection objects (optional values set to NULL)


@dataclass(frozen=True)
class Derivation:
    name: str
    fn: Callable[[dict[str, Any], DeriveContext], None]
    reads: tuple[str, ...]  # record columns read (those the kind has)
    writes: tuple[str, ...]  # record columns written (those the kind has)
    raw: tuple[str, ...] = ()  # fields whose raw text the function may need
    country: bool = False  # reads the row's country
    identity: tuple[str, ...] = ()  # a kind using this derivation is identified by these fields
    identity_label: str = ""  # ...named so in an identity conflict


REGISTRY: dict[str, Derivation] = {}


def derivation(name: str, reads: tuple[str, ...], writes: tuple[str, ...], **more: Any) -> Callable[
        [Callable[[dict[str, Any], DeriveContext], None]], Callable[[dict[str, Any], DeriveContext], None]]:
    def register(fn: Callable[[dict[str, Any], DeriveContext], None]) -> Callable[[dict[str, Any], DeriveContext], None]:
        REGISTRY[name] = Derivation(name, fn, reads, writes, **more)
        return fn
    return register


def derivations(names: tuple[str, ...]) -> list[Derivation]:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"schema.yaml: unknown derivation(s) {', '.join(unknown)} (known: {', '.join(REGISTRY)})")
    return [REGISTRY[n] for n in names]


_MAX_PILLS = 2**63


@derivation("unit_quantity", reads=("unit", "quantity", "form", "pill_count"),
            writes=("quantity_kg", "pill_count", "form"))
def unit_quantity(r: dict[str, Any], ctx: DeriveContext) -> None:
    """``quantity_kg`` from quantity and unit; for pills also ``pill_count`` (whole) and form."""
    if r.get("unit") and r.get("quantity") is not None:
        unit = ctx.units[r["unit"]].extra
        if "pill_kg" in unit:
            if r["quantity"] != int(r["quantity"]):
                raise Invalid("bad_pill_count", value=r["quantity"])
            if not 0 <= r["quantity"] < _MAX_PILLS:  # a count must fit the BIGINT column, and be no negative number
                raise Invalid("pill_count_out_of_range", value=r["quantity"])
            if "pill_count" in r:
                r["pill_count"] = int(r["quantity"])
            if "form" in r and r["form"] is None:
                r["form"] = "pills"
            r["quantity_kg"] = round(r["quantity"] * unit["pill_kg"], 9)
        else:
            r["quantity_kg"] = round(r["quantity"] * unit["kg"], 9)


@derivation("country_from_place", reads=("country", "place_country"), writes=("country",), country=True)
def country_from_place(r: dict[str, Any], ctx: DeriveContext) -> None:
    """An empty country is the place's country, else the row's (or the profile's)."""
    if r.get("country") is None:
        r["country"] = r.get("place_country") or ctx.country


_AOR_PLACE = tuple(f"aor_place_{s}" for s in ("text", "id", "name", "admin1", "country", "lat", "lon", "h3"))


@derivation("aggregate_period", reads=("fiscal_year", "month", "pounds", "aor"),
            writes=("period", "quantity_kg", *_AOR_PLACE))
def aggregate_period(r: dict[str, Any], ctx: DeriveContext) -> None:
    """A fiscal year's month as a calendar month, pounds as kg, the AOR's headquarters as a place."""
    fy, month = r["fiscal_year"], r["month"]
    r["period"] = dt.date(fy - 1 if month >= 10 else fy, month, 1)
    r["quantity_kg"] = r["pounds"] * _LB
    r.update(ctx.place("aor_place", r["aor"], "US"))
    r["aor_place_text"] = r["aor"]


@derivation("time_to_crime", reads=("purchase_date", "recovery_date", "recovery_country", "recovery_place_country"),
            writes=("time_to_crime_days", "purchase_date", "recovery_country"), raw=("purchase_date",), country=True)
def time_to_crime(r: dict[str, Any], ctx: DeriveContext) -> None:
    """Days from purchase to recovery; a recovery before the purchase nulls the purchase date (an issue)."""
    from puente.ingest.clean import Rejection

    bought, found = r.get("purchase_date"), r.get("recovery_date")
    r["time_to_crime_days"] = (found - bought).days if bought and found else None
    if r["time_to_crime_days"] is not None and r["time_to_crime_days"] < 0:
        raw = ctx.raw("purchase_date")
        ctx.issues.append(Rejection("purchase_date", "recovery_before_purchase", {}, raw or str(bought)))
        r["purchase_date"] = r["time_to_crime_days"] = None
    if r.get("recovery_country") is None:
        r["recovery_country"] = r.get("recovery_place_country") or ctx.country


@derivation("link_ids", reads=("from_kind", "from_ref", "to_kind", "to_ref"), writes=("from_id", "to_id"),
            identity=("from_id", "to_id", "role"), identity_label="from_kind, from_ref, to_kind, to_ref, role")
def link_ids(r: dict[str, Any], ctx: DeriveContext) -> None:
    """The ids the two linked records have (or will have) on this node."""
    r["from_id"] = ctx.record_id(r["from_kind"], r["from_ref"])
    r["to_id"] = ctx.record_id(r["to_kind"], r["to_ref"])


@derivation("statistic_period", reads=("period", "fiscal_year", "year", "month"),
            writes=("period", "period_grain", "period_start", "period_end", "fiscal_year", "year", "month"))
def statistic_period(r: dict[str, Any], ctx: DeriveContext) -> None:
    """A statistic's period: its period column, else its fiscal year or year; a month narrows a
    year or fiscal year to that calendar month (October of FY2023 is 2022-10). Then its grain
    and bounds; the fiscal year, year and month are filled when the period lies within one."""
    period, fy, year, month = r.get("period"), r.get("fiscal_year"), r.get("year"), r.get("month")
    if period is not None and month is not None and (period.startswith("FY") or period.isdigit()):
        fy, year = (int(period[2:]), None) if period.startswith("FY") else (None, int(period))
        period = None
    if period is None:
        if fy is not None:
            period = f"{fy - 1 if month >= 10 else fy}-{month:02d}" if month is not None else f"FY{fy}"
        else:
            period = f"{year}-{month:02d}" if month is not None else str(year)
    grain, start, end = period_bounds(period)
    r.update(period=period, period_grain=grain, period_start=start, period_end=end)
    fiscal_start, fiscal_end = start.year + (start.month >= 10), end.year + (end.month >= 10)
    if r.get("fiscal_year") is None and fiscal_start == fiscal_end:
        r["fiscal_year"] = fiscal_start
    if r.get("year") is None and start.year == end.year:
        r["year"] = start.year
    if r.get("month") is None and grain in ("month", "day"):
        r["month"] = start.month
