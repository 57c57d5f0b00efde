"""Route shifts: which ports, destinations and port → destination pairs gain a share of the loads, month by month.

The monitors read the per-period corridor flows (:func:`puente.analyze.corridors.corridor_flows`) and are written
as ``corridors_shifts`` (:func:`shift_monitors`): a beta-binomial share test per key (:func:`route_shifts`), ports
and pairs within their CBP field office, new routes, and the quiet cities tested together
(:func:`emerging_destinations`). Why each level is shaped as it is: docs/architecture.md and
bench/results/analytics.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from puente.analyze.common import benjamini_hochberg
from puente.analyze.corridors import UNKNOWN
from puente.geo.gazetteer import port_field_offices


def _windowed(values: np.ndarray, i: int, baseline_periods: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per key: loads in the ``window`` periods ending at ``i``, and in the ``baseline_periods`` before them."""
    start = i - window + 1
    return values[:, start : i + 1].sum(axis=1), values[:, start - baseline_periods : start].sum(axis=1)


def _group_totals(x: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per key: the total of ``x`` over the keys of its group (over all keys when ``groups`` is None)."""
    if groups is None:
        return np.full(x.shape, x.sum())
    return np.asarray(np.bincount(groups, weights=x)[groups], dtype=float)


def overdispersion(values: np.ndarray, baseline_periods: int, upto: int | None = None, window: int = 1,
                   groups: np.ndarray | None = None) -> float:
    """Intra-class correlation rho of a beta-binomial for each key's count in a period given its count in
    the period plus the previous ``baseline_periods`` (method of moments over the periods before ``upto``):
    E[r^2] = 1 + (n - 1) rho for the Pearson residual r of x | n ~ Binomial(n, X / (X + B)). 0 = binomial.
    ``groups`` (a group number per key): X and B are the totals of the key's group."""
    stop = values.shape[1] if upto is None else upto
    num = den = 0.0
    for i in range(baseline_periods + window - 1, stop):
        x, b = _windowed(values, i, baseline_periods, window)
        X, B = _group_totals(x, groups), _group_totals(b, groups)
        n = x + b
        keep = (n >= 2) & (X > 0) & (B > 0)
        if not keep.any():
            continue
        p0 = X[keep] / (X[keep] + B[keep])
        r2 = (x[keep] - n[keep] * p0) ** 2 / (n[keep] * p0 * (1 - p0))
        num += float((r2 - 1).sum())
        den += float((n[keep] - 1).sum())
    return float(min(max(num / den, 0.0), 0.5)) if den > 0 else 0.0


def route_shifts(counts: pd.DataFrame, keys: list[str], measure: str = "loads", baseline_periods: int = 3,
                 alpha: float = 0.01, min_count: int = 5, min_ratio: float = 1.5,
                 family: str = "period", test: str = "betabinomial", episode_gap: int = 3,
                 window: int = 1, group: str | None = None, only_new: bool = False) -> pd.DataFrame:
    """Corridors (or ports, or destinations) whose share of traffic grows or that appear, period over period.

    Test: for key k in period t with x loads (``measure``) against b in the previous ``baseline_periods``
    periods, and totals X and B over all keys, under H0 (k's share unchanged) x | n = x + b follows a
    beta-binomial with mean p0 = X / (X + B) and intra-class correlation rho (``test="betabinomial"``):
    seizures come in bursts (a load gives several events, a month's arrests cluster), so counts vary more
    than a binomial allows. rho is estimated by the method of moments from every key's history before t
    (:func:`overdispersion`), so the monitor uses only the past; rho = 0 is the exact binomial test
    (``test="binomial"``). One-sided p = P(X >= x), then Benjamini–Hochberg across the keys of each period
    (``family="period"``, a monitor run monthly) or across all (key, period) tests (``family="all"``). A shift
    is flagged when q < alpha, x >= min_count and the share ratio >= min_ratio (or the key is new).

    Episodes: ``first`` marks a flagged period when the same key was not flagged in the previous
    ``episode_gap`` periods; a key that keeps growing, or flags again after a short pause, is one alarm.

    ``window`` > 1 tests the loads of the last ``window`` periods together (x) against the
    ``baseline_periods`` before them (b), so a lasting shift spread thin over a month adds up.

    ``group`` (a column of ``counts``, one value per key): each key's share is taken within its group (X and
    B are the group's totals, rho is estimated within groups), so a surge of the whole group is no shift.

    ``only_new``: test only the keys with no count at all in the baseline (a route that appears); the
    Benjamini–Hochberg family is then those keys.
    """
    from scipy.stats import betabinom, binom

    cols = [*keys, "period", "count", "baseline", "share", "baseline_share", "ratio", "rho", "p_value", "new",
            "q_value", "shift", "first"]
    table = counts.pivot_table(index=keys, columns="period", values=measure, aggfunc="sum", fill_value=0)
    periods = sorted(table.columns)
    values = table[periods].to_numpy(dtype=float)
    groups: np.ndarray | None = None
    if group is not None:
        of_key = counts.drop_duplicates(keys).set_index(keys)[group].reindex(table.index)
        groups = pd.factorize(of_key.astype(str))[0]
    parts = []
    for i in range(baseline_periods + window - 1, len(periods)):
        x, b = _windowed(values, i, baseline_periods, window)
        X, B = _group_totals(x, groups), _group_totals(b, groups)
        keep = (x >= min_count) & (X > 0) & (B > 0)
        if only_new:
            keep &= b == 0
        if not keep.any():
            continue
        p0 = X[keep] / (X[keep] + B[keep])
        rho = overdispersion(values, baseline_periods, i, window, groups) if test == "betabinomial" else 0.0
        xk, nk = x[keep], x[keep] + b[keep]
        if rho > 0:
            a_, b_ = p0 * (1 - rho) / rho, (1 - p0) * (1 - rho) / rho
            pv = betabinom.sf(xk - 1, nk, a_, b_)
        else:
            pv = binom.sf(xk - 1, nk, p0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(b == 0, np.inf, (x / X) / (b / B))
        frame = table.index[keep].to_frame(index=False)
        frame = frame.assign(period=periods[i], count=xk.astype(int), baseline=b[keep].astype(int),
                             share=xk / X[keep], baseline_share=b[keep] / B[keep], ratio=ratio[keep], rho=rho,
                             p_value=pv, new=b[keep] == 0)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    if family == "period":
        out["q_value"] = out.groupby("period")["p_value"].transform(benjamini_hochberg)
    else:
        out["q_value"] = benjamini_hochberg(out["p_value"])
    out["shift"] = (out["q_value"] < alpha) & (out["ratio"] >= min_ratio)
    out = out.sort_values([*keys, "period"]).reset_index(drop=True)
    position = {p: j for j, p in enumerate(periods)}
    out["first"] = False
    flagged = out[out["shift"]]
    if not flagged.empty:
        idx = flagged.assign(_pos=flagged["period"].map(position))
        gap = idx.groupby(keys)["_pos"].diff()
        out.loc[idx.index, "first"] = (gap.isna() | (gap > episode_gap)).to_numpy()
    return out[cols]


# The levels of the route-shift monitor written as `corridors_shifts` (see shift_monitors).
SHIFT_LEVELS = ("port", "destination", "port_destination", "new_route", "emerging")
# The written monitors test the last three months together against the three before them. A new corridor
# spreads its loads over several cities (the I-40 corridor: six), so no city's single month stood out
# (Columbus, seed 23 at 60k: 6 loads against 1, q = 0.013); two months found it on 60k worlds, but at 200k
# the I-10W, I-20 corridors (seeds 7, 5150) were still missed and a month's burst (Los Angeles, Omaha,
# Chicago) alarmed. Three months find them (at most 2 months late, which the bar allows) and dilute the
# bursts: bench/results/analytics.md, "Route shifts within field offices".
SHIFT_WINDOW = 3
# The levels whose keys are tested against their CBP field office's loads rather than the nation's: loads
# reach the border by field office (a field office's seizures surge as a whole: El Paso in 2020), and a port
# shift moves a port's share within its office (see docs/architecture.md, "Port shifts are tested within
# their field office").
SHIFT_WITHIN_OFFICE = ("port", "port_destination", "new_route")
# The new-route monitor (level ``new_route``): a port → destination pair with no load at all in the twelve
# months before its last three, tested within its field office like the pairs, the month's new pairs as one
# Benjamini–Hochberg family (q < NEW_ROUTE_ALPHA), and only where the destination also stands out for the
# field office as a whole (its loads from all of the office's ports, three months against the twelve before,
# q < NEW_ROUTE_OFFICE_ALPHA among the office's destinations). A new corridor's pairs get 1–3 known loads a
# month at 200k (the records name a destination for ~1 in 10 port loads), too few to stand out against a
# three-month baseline among all of the office's pairs (seed 60601's Douglas → Los Angeles: 9 loads against
# none, q = 0.06); a year with none makes them significant. The office condition drops a new pair to a city
# the office's other ports already serve (a corridor's late pairs: San Luis → Memphis months after I-40
# opened); a new route whose destination or pair is already alarmed is that alarm (``covered``, see _covered).
# bench/results/analytics.md, "New routes (shifts round 4)".
NEW_ROUTE_BASELINE = 12
NEW_ROUTE_ALPHA = 0.001
NEW_ROUTE_OFFICE_ALPHA = 0.05
# The group of a port that belongs to no field office (a Mexican port named as a crossing).
NO_OFFICE = "-"
# The emerging-destinations monitor (level ``emerging``): the cities that were quiet in the twelve months
# before the window (each under QUIET_SHARE of the known loads) tested together, three months against that
# year, one test a month (q = p < EMERGING_ALPHA). A new corridor spreads its loads over cities that saw
# almost none before (the I-40 corridor: Nashville, Louisville, Columbus, Indianapolis, 0–1 loads a month
# each at 60k), so no city stands out among the ~100 destinations, but together they rise from ~1 load a
# month to 10–25. The test is binomial: the quiet cities' own history is too short and thin to estimate an
# overdispersion (it came out 0.03–0.26 and hid every corridor); the strict alpha stands in for it. The alarm
# is led by the newest risen quiet city and keeps that lead while it lasts (one episode); ``members`` lists
# the risen cities.
# bench/results/analytics.md, "Emerging destinations (shifts round 7)".
EMERGING_BASELINE = 12
QUIET_SHARE = 0.002
EMERGING_ALPHA = 1e-4


def _office_confirms(found: pd.DataFrame, flows: pd.DataFrame, settings: dict[str, object]) -> pd.DataFrame:
    """New routes (``found``) with the test of their destination for the whole field office (``office_count``
    loads in the window against ``office_baseline`` in the baseline, ``office_q``); a new route is flagged only
    where that test gives q < ``NEW_ROUTE_OFFICE_ALPHA``. Its episodes (``first``) are marked by :func:`_covered`."""
    if found.empty:
        return found.assign(office_count=pd.Series(dtype="int64"), office_baseline=pd.Series(dtype="int64"),
                            office_q=pd.Series(dtype=float))
    options = {k: v for k, v in settings.items() if k not in ("only_new", "alpha", "group")}
    office = route_shifts(flows.assign(_office=flows["field_office"]), ["field_office", "destination"],
                          **{**options, "min_count": 1, "group": "_office"})  # type: ignore[arg-type]
    office = office[["field_office", "destination", "period", "count", "baseline", "q_value"]].rename(
        columns={"count": "office_count", "baseline": "office_baseline", "q_value": "office_q"})
    found = found.merge(flows[["crossing", "field_office"]].drop_duplicates("crossing"), on="crossing", how="left")
    out = found.merge(office, on=["field_office", "destination", "period"], how="left").drop(columns="field_office")
    out["shift"] = out["shift"].astype(bool) & (out["office_q"] < NEW_ROUTE_OFFICE_ALPHA)
    return out  # ``first`` is marked by _covered, over the new routes it leaves flagged


def _covered(out: pd.DataFrame, periods: list[object], gap: int = 3) -> pd.DataFrame:
    """New routes already covered by an open alarm: a flagged ``new_route`` row whose destination is alarmed at
    the ``destination`` level, or whose pair at the ``port_destination`` level, in the same month or the
    ``gap`` months before, is the same alarm (``covered`` True, ``shift`` False: the analyst has it already);
    ``first`` is re-marked for the new routes left."""
    pos = {p: i for i, p in enumerate(periods)}
    at = out["period"].map(pos)
    flagged = out["shift"].astype(bool)
    open_keys: set[tuple[object, ...]] = set()
    alarms = out[flagged & out["level"].isin(["destination", "port_destination"])]
    for level, cross, dest, i in zip(alarms["level"], alarms["crossing"], alarms["destination"], at[alarms.index]):
        for k in range(int(i), int(i) + gap + 1):
            open_keys.add((level, cross if level == "port_destination" else None, dest, k))
    new = out.index[(out["level"] == "new_route") & flagged]
    covered = pd.Series(False, index=out.index)
    for idx in new:
        cross, dest, i = out.at[idx, "crossing"], out.at[idx, "destination"], at[idx]
        covered[idx] = ("destination", None, dest, i) in open_keys or ("port_destination", cross, dest, i) in open_keys
    out = out.assign(covered=covered.where(out["level"] == "new_route"))
    out.loc[covered, "shift"] = False
    routes = out[(out["level"] == "new_route") & out["shift"].astype(bool)]
    out.loc[out["level"] == "new_route", "first"] = False
    if not routes.empty:
        g = routes.assign(_pos=at[routes.index]).groupby(["crossing", "destination"])["_pos"].diff()
        out.loc[routes.index, "first"] = (g.isna() | (g > gap)).to_numpy()
    return out


def emerging_destinations(flows: pd.DataFrame, baseline_periods: int = EMERGING_BASELINE,
                          window: int = SHIFT_WINDOW, quiet_share: float = QUIET_SHARE,
                          alpha: float = EMERGING_ALPHA, min_count: int = 5, min_ratio: float = 1.5,
                          episode_gap: int = 3) -> pd.DataFrame:
    """The quiet cities of each month tested together (see ``EMERGING_BASELINE``): for period t, Q = the
    destinations with at most ``quiet_share`` of the known loads in the ``baseline_periods`` before the
    ``window``; x = Q's loads in the window, b = Q's loads in the baseline, and with X, B the totals of all
    destinations, x | x + b is binomial with p = X / (X + B) (``EMERGING_BASELINE`` says why not
    beta-binomial). One row per period: ``destination`` = the lead city (the newest: the quiet
    city with the most loads against its expected loads plus one; an episode keeps its first month's lead),
    ``members`` = the quiet cities with two loads or more in the window and more than their baseline share
    gives, newest first, separated by "; "."""
    from scipy.stats import binom

    known = flows[flows["destination"] != UNKNOWN]
    table = known.pivot_table(index="destination", columns="period", values="loads", aggfunc="sum", fill_value=0)
    periods = sorted(table.columns)
    values = table[periods].to_numpy(dtype=float)
    rows: list[dict[str, object]] = []
    lead: object = None
    last_flag = -episode_gap - 1
    for i in range(baseline_periods + window - 1, len(periods)):
        x, b = _windowed(values, i, baseline_periods, window)
        X, B = float(x.sum()), float(b.sum())
        if X <= 0 or B <= 0:
            continue
        quiet = b <= quiet_share * B
        xq, bq = float(x[quiet].sum()), float(b[quiet].sum())
        p0 = X / (X + B)
        pv = float(binom.sf(xq - 1, xq + bq, p0))
        ratio = (xq / X) / (bq / B) if bq > 0 else float("inf")
        expected = b * X / B
        risen = quiet & (x > expected)
        newness = np.where(risen, x / (expected + 1.0), -np.inf)
        shift = bool(pv < alpha and xq >= min_count and ratio >= min_ratio)
        first = shift and i - last_flag > episode_gap
        here = table.index[int(np.argmax(newness))] if risen.any() else None
        if first or lead is None:
            lead = here
        if shift:
            last_flag = i
        order = np.argsort(-newness)
        members = "; ".join(str(table.index[j]) for j in order if risen[j] and x[j] >= 2)
        rows.append({"crossing": None, "destination": lead if shift else here, "period": periods[i], "count": int(xq),
                     "baseline": int(bq), "share": xq / X, "baseline_share": bq / B, "ratio": ratio, "rho": 0.0,
                     "p_value": pv, "new": False, "q_value": pv, "shift": shift, "first": first,
                     "members": members})
    return pd.DataFrame(rows, columns=["crossing", "destination", "period", "count", "baseline", "share",
                                       "baseline_share", "ratio", "rho", "p_value", "new", "q_value", "shift",
                                       "first", "members"])


def shift_monitors(flows: pd.DataFrame, within_office: tuple[str, ...] = SHIFT_WITHIN_OFFICE,
                   **options: object) -> pd.DataFrame:
    """The route-shift monitors an analyst gets, in one table: loads per port of entry (``level`` = ``port``),
    per destination (``destination``: a followed load's U.S. place, else its reported destination) and per
    port → destination pair (``port_destination``), and per port → destination pair that had no load in the
    ``NEW_ROUTE_BASELINE`` months before (``new_route``), each tested with :func:`route_shifts`; the levels in
    ``within_office`` test each key's share of its port's CBP field office (``field_office``), the others
    its share of the nation. ``crossing`` and ``destination`` name the key (``None`` where the level does not
    use it). Every row with ``shift`` is an alarm for its month; ``first`` marks the first month of each
    episode."""
    known_port = flows["crossing"] != UNKNOWN
    known_dest = flows["destination"] != UNKNOWN
    offices = port_field_offices()
    flows = flows.assign(field_office=flows["crossing"].map(offices).fillna(NO_OFFICE))
    parts = []
    pair = ["crossing", "destination"]
    for level, keys, keep in (("port", ["crossing"], known_port), ("destination", ["destination"], known_dest),
                              ("port_destination", pair, known_port & known_dest),
                              ("new_route", pair, known_port & known_dest)):
        group = "field_office" if level in within_office else None
        settings: dict[str, object] = {"window": SHIFT_WINDOW, "group": group, **options}
        if level == "new_route":
            settings.update(baseline_periods=NEW_ROUTE_BASELINE, only_new=True, alpha=NEW_ROUTE_ALPHA)
        found = route_shifts(flows[keep], keys, **settings)  # type: ignore[arg-type]
        if level == "new_route" and group is not None:
            found = _office_confirms(found, flows[keep], settings)
        if group is not None:
            found = found.merge(flows[keys + [group]].drop_duplicates(keys), on=keys, how="left")
        parts.append(found.assign(level=level))
    parts.append(emerging_destinations(flows[known_dest]).assign(level="emerging"))
    out = pd.concat([p for p in parts if not p.empty] or parts, ignore_index=True)
    for col in ("crossing", "destination", "field_office"):
        out[col] = out[col].astype(object).where(out[col].notna(), None) if col in out else None
    if "new_route" in set(out["level"]):
        out = _covered(out, sorted(flows["period"].unique()))
    front = ["level", "crossing", "destination", "field_office"]
    return out[front + [c for c in out.columns if c not in front]]
