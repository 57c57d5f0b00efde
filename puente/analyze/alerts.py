"""Spike alerts (as ODMAP does for overdoses): events in a sliding window above an area's baseline.

The engine counts events per area (municipality/county, or an H3 cell) and day; numpy slides the
windows. An alert fires for area a, window w (days) ending on day d when the count c in the window
is at least ``min_count``, at least ``ratio`` times the expected count λ from the ``baseline_days``
before the window, and Poisson P(X ≥ c | λ) < ``alpha``. Consecutive alerting days are one episode
(the peak day is reported). Each alert carries its evidence (the event ids, count, baseline, p) and
raises a neighbour alert for areas across the border within ``neighbour_km``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from puente.analyze.common import coarsen, events
from puente.engine import Engine
from puente.geo.gazetteer import load_gazetteer

# Neighbouring states across the border (for the neighbour alert's reason).
BORDER_STATES = {
    "Baja California": ["California", "Arizona"], "Sonora": ["Arizona", "New Mexico"],
    "Chihuahua": ["New Mexico", "Texas"], "Coahuila de Zaragoza": ["Texas"], "Nuevo León": ["Texas"],
    "Tamaulipas": ["Texas"],
}
for _mx, _us in list(BORDER_STATES.items()):
    for _state in _us:
        BORDER_STATES.setdefault(_state, []).append(_mx)


@dataclass(frozen=True)
class AlertRules:
    windows: Sequence[int] = (1, 7)
    baseline_days: int = 90
    ratio: float = 3.0
    min_count: int = 3
    alpha: float = 0.01
    floor_per_day: float = 0.02  # expected events/day never below this (an area with no history)
    neighbour_km: float = 150.0


def area_days(engine: Engine, kinds: Iterable[str], level: str = "municipality", resolution: int = 6) -> pd.DataFrame:
    """Events per area and day (engine), with the area's label and mean position."""
    ev = events(engine, kinds)
    key = ev.place_id if level == "municipality" else ev.h3
    ev = ev.filter(key.notnull())
    expr = ev.group_by(area=key, day=ev.date).agg(
        events=ev.count(), kg=ev.kg.sum(), name=ev.place_name.max(), admin1=ev.admin1.max(),
        country=ev.country.max(), lat=ev.lat.mean(), lon=ev.lon.mean())
    out = engine.run(expr)
    if level != "municipality" and not out.empty:
        out["area"] = coarsen(out, "area", resolution)
        out = out.groupby(["area", "day"], as_index=False).agg(
            events=("events", "sum"), kg=("kg", "sum"), name=("area", "first"), admin1=("admin1", "max"),
            country=("country", "max"), lat=("lat", "mean"), lon=("lon", "mean"))
    out["events"] = out["events"].astype("int64")
    return out.sort_values(["area", "day"]).reset_index(drop=True)


def spikes(daily: pd.DataFrame, rules: AlertRules) -> pd.DataFrame:
    """Alert episodes from per-area daily counts."""
    from scipy.stats import poisson

    cols = ["alert_id", "area", "name", "admin1", "country", "lat", "lon", "window_days", "start", "end", "count",
            "expected", "ratio", "p_value"]
    if daily.empty:
        return pd.DataFrame(columns=cols)
    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    matrix = daily.pivot_table(index="area", columns="day", values="events", aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(columns=days, fill_value=0)
    counts = matrix.to_numpy(dtype=float)
    cum = np.concatenate([np.zeros((counts.shape[0], 1)), counts.cumsum(axis=1)], axis=1)
    info = daily.groupby("area").agg(name=("name", "first"), admin1=("admin1", "first"), country=("country", "first"),
                                     lat=("lat", "mean"), lon=("lon", "mean"))
    rows = []
    for w in rules.windows:
        end = np.arange(w, len(days) + 1)  # window covers days [end - w, end)
        window = cum[:, end] - cum[:, end - w]
        b_start = np.maximum(end - w - rules.baseline_days, 0)
        span = (end - w - b_start).astype(float)
        base = cum[:, end - w] - cum[:, b_start]
        rate = np.where(span > 0, base / np.maximum(span, 1), 0.0)
        expected = np.maximum(rate, rules.floor_per_day) * w
        p = poisson.sf(window - 1, expected)
        hit = (window >= rules.min_count) & (window >= rules.ratio * expected) & (p < rules.alpha)
        for a, area in enumerate(matrix.index):
            idx = np.flatnonzero(hit[a])
            if not len(idx):
                continue
            episodes = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
            for ep in episodes:
                peak = ep[np.argmax(window[a, ep])]
                last_day = days[end[peak] - 1]
                first_day = days[end[peak] - w]
                meta = info.loc[area]
                rows.append({
                    "alert_id": hashlib.sha256(f"{area}|{w}|{last_day.date()}".encode()).hexdigest()[:16],
                    "area": area, "name": meta["name"], "admin1": meta["admin1"], "country": meta["country"],
                    "lat": meta["lat"], "lon": meta["lon"], "window_days": w, "start": first_day, "end": last_day,
                    "count": int(window[a, peak]), "expected": float(expected[a, peak]),
                    "ratio": float(window[a, peak] / expected[a, peak]), "p_value": float(p[a, peak])})
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["end", "area", "window_days"]).reset_index(drop=True)


def neighbours(alerts: pd.DataFrame, rules: AlertRules) -> pd.DataFrame:
    """Areas across the border within ``neighbour_km`` of each alert (municipalities/counties of the gazetteer)."""
    cols = ["alert_id", "area", "name", "admin1", "country", "distance_km", "reason"]
    g = load_gazetteer()
    places = [p for p in g.places.values() if p.kind in ("municipality", "county") and p.lat is not None]
    if alerts.empty or not places:
        return pd.DataFrame(columns=cols)
    lat = np.radians([p.lat for p in places])
    lon = np.radians([p.lon for p in places])
    country = np.array([p.country for p in places])
    rows = []
    for alert in alerts.itertuples():
        if pd.isna(alert.lat) or alert.country not in ("US", "MX"):
            continue
        a_lat, a_lon = np.radians(alert.lat), np.radians(alert.lon)
        h = np.sin((lat - a_lat) / 2) ** 2 + np.cos(a_lat) * np.cos(lat) * np.sin((lon - a_lon) / 2) ** 2
        dist = 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
        near = np.flatnonzero((dist <= rules.neighbour_km) & (country != alert.country))
        for i in near[np.argsort(dist[near])]:
            p = places[i]
            rows.append({"alert_id": alert.alert_id, "area": p.id, "name": p.name, "admin1": p.admin1,
                         "country": p.country, "distance_km": round(float(dist[i]), 1),
                         "reason": f"{alert.count} events in {alert.window_days} d at {alert.name}, {alert.admin1} "
                                   f"({alert.country}), {dist[i]:.0f} km away across the border"})
        for state in BORDER_STATES.get(alert.admin1, []):
            rows.append({"alert_id": alert.alert_id, "area": state, "name": state, "admin1": state,
                         "country": "MX" if alert.country == "US" else "US", "distance_km": None,
                         "reason": f"{alert.count} events in {alert.window_days} d at {alert.name}, {alert.admin1} "
                                   f"({alert.country}), a neighbouring state across the border"})
    return pd.DataFrame(rows, columns=cols)


def evidence(engine: Engine, alerts: pd.DataFrame, kinds: Iterable[str], level: str = "municipality",
             resolution: int = 6) -> pd.DataFrame:
    """(alert_id, kind, id, date) of the events inside each alert's window."""
    cols = ["alert_id", "kind", "id", "date", "kg"]
    if alerts.empty:
        return pd.DataFrame(columns=cols)
    ev = events(engine, kinds)
    ev = ev.filter((ev.date >= alerts["start"].min().date()) & (ev.date <= alerts["end"].max().date()))
    if level == "municipality":
        ev = ev.filter(ev.place_id.isin(sorted(set(alerts["area"]))))
        found = engine.run(ev.select("kind", "id", "date", "kg", area=ev.place_id))
    else:
        found = engine.run(ev.filter(ev.h3.notnull()).select("kind", "id", "date", "kg", "h3"))
        found["area"] = coarsen(found, "h3", resolution)
    merged = alerts[["alert_id", "area", "start", "end"]].merge(found, on="area")
    merged = merged[(merged["date"] >= merged["start"]) & (merged["date"] <= merged["end"])]
    return merged[cols].sort_values(["alert_id", "date", "id"]).reset_index(drop=True)


def spike_alerts(engine: Engine, kinds: Iterable[str] = ("seizure", "lab_site"), level: str = "municipality",
                 resolution: int = 6, rules: AlertRules | None = None) -> dict[str, pd.DataFrame]:
    """Alerts, their evidence and the cross-border neighbour alerts."""
    rules = rules or AlertRules()
    kinds = tuple(kinds)
    found = spikes(area_days(engine, kinds, level, resolution), rules)
    return {"alerts": found, "evidence": evidence(engine, found, kinds, level, resolution),
            "neighbours": neighbours(found, rules)}
