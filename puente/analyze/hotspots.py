"""Hotspots: H3 aggregation at several resolutions, Getis-Ord Gi* (esda), per-cell time series.

The engine aggregates events to their resolution-8 cell (the store's ``X_h3`` columns);
coarser resolutions are sums over ``h3.cell_to_parent`` (counts and kilograms are additive),
so the heavy pass over the events runs once, on any engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import h3
import numpy as np
import pandas as pd

from puente.analyze.common import coarsen, events, period_of
from puente.engine import Engine

HOT, COLD, NONE = "hot", "cold", "not_significant"


def cell_counts(engine: Engine, kinds: Iterable[str] = ("seizure",), period: str | None = None,
                places: bool = False) -> pd.DataFrame:
    """Events, kg and pills per resolution-8 cell and country (and period when given; and place name and
    state when ``places``). A cell on the border holds each country's events in its own row."""
    ev = events(engine, kinds)
    ev = ev.filter(ev.h3.notnull())
    keys = {"h3": ev.h3, "country": ev.country.fill_null("?")}
    if period:
        keys["period"] = period_of(ev.date, period)
    if places:
        keys["place"] = ev.place_name.fill_null("?")
        keys["admin1"] = ev.admin1.fill_null("")
    expr = ev.group_by(**keys).agg(events=ev.count(), kg=ev.kg.sum(), pills=ev.pills.sum())
    out = engine.run(expr.order_by(list(keys)))
    out["events"] = out["events"].astype("int64")
    out["pills"] = out["pills"].astype("int64")
    return out


def by_resolution(cells: pd.DataFrame, resolution: int, extra_keys: Sequence[str] = ()) -> pd.DataFrame:
    """Re-aggregate res-8 cell counts at a coarser resolution (per country)."""
    frame = cells.assign(cell=coarsen(cells, "h3", resolution))
    keys = ["cell", "country", *extra_keys]
    out = frame.groupby(keys, as_index=False)[["events", "kg", "pills"]].sum()
    out.insert(0, "resolution", resolution)
    return out.sort_values(keys).reset_index(drop=True)


def cell_places(cells: pd.DataFrame, resolution: int) -> pd.DataFrame:
    """(cell, country) → the place with most events in it ("Tijuana, Baja California"), for readers."""
    frame = cells.assign(cell=coarsen(cells, "h3", resolution))
    per = frame.groupby(["cell", "country", "place", "admin1"], as_index=False)["events"].sum()
    per = per.sort_values(["cell", "country", "events", "place"], ascending=[True, True, False, True])
    per = per.drop_duplicates(["cell", "country"])
    per["place"] = [p if not a or a == p else f"{p}, {a}" for p, a in zip(per["place"], per["admin1"])]
    return per[["cell", "country", "place"]]


def gi_star(cells: pd.DataFrame, measure: str = "events", permutations: int = 999, seed: int = 0,
            alpha: float = 0.05, ring: int = 1) -> pd.DataFrame:
    """Getis-Ord Gi* over one resolution's cells. The study area is the observed cells plus their
    ``ring`` neighbours (zero), weights are binary H3 adjacency, significance from esda's permutation
    test. ``gi_z`` is Gi*'s z-score and ``p_value`` its one-sided normal tail P(Z > |z|), so z and p always
    agree (|z| = 1.645 ⇔ p = 0.05). esda's conditional-permutation pseudo p-value is not used: with the
    cell's own value held fixed it tests the neighbours alone, and it gave p = 0.005 beside z = -0.8 for a
    busy cell among empty ones. ``permutations`` is kept for callers and ignored."""
    from esda.getisord import G_Local
    from libpysal.weights import W

    observed = dict(zip(cells["cell"], cells[measure].astype(float)))
    area = set(observed)
    for cell in list(observed):
        area.update(h3.grid_disk(cell, ring))
    ids = sorted(area)
    index = {c: i for i, c in enumerate(ids)}
    neighbours = {c: [n for n in h3.grid_disk(c, 1) if n != c and n in index] for c in ids}
    islands = [c for c, n in neighbours.items() if not n]
    y = np.array([observed.get(c, 0.0) for c in ids])
    out = pd.DataFrame({"cell": ids, measure: y})
    if len(ids) - len(islands) < 3 or y.std() == 0:
        return out.assign(gi_z=0.0, p_value=0.5, hotspot=NONE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not fully connected": separate clusters are expected
        w = W(neighbours, silence_warnings=True)
        w.transform = "B"
        g = G_Local(y, w, transform="B", permutations=0, star=True, seed=seed, n_jobs=1)
    from scipy.stats import norm

    z = np.nan_to_num(np.asarray(g.Zs, dtype=float))
    out["gi_z"] = z.round(9)
    out["p_value"] = norm.sf(np.abs(z)).round(12)
    p = out["p_value"]
    out["hotspot"] = np.where((p < alpha) & (z > 0), HOT, np.where((p < alpha) & (z < 0), COLD, NONE))
    return out


def hotspots(engine: Engine, resolutions: Sequence[int] = (5, 6, 7), kinds: Iterable[str] = ("seizure",),
             measure: str = "events", permutations: int = 999, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Cells with events, their totals, place and Gi* class at each resolution. Gi* runs per country (each
    side of the border is its own study area), so no row mixes the two countries' events; the zero cells
    around the observed ones shape the statistic but are not listed (a cell without events is never hot)."""
    cells = cell_counts(engine, kinds, places=True)
    parts = []
    for res in resolutions:
        agg = by_resolution(cells, res)
        for country, part in agg.groupby("country", sort=True):
            gi = gi_star(part, measure, permutations, seed, alpha)
            merged = part.drop(columns=["resolution", "country"]).merge(gi.drop(columns=[measure]), on="cell")
            merged.insert(0, "country", country)
            merged.insert(0, "resolution", res)
            parts.append(merged.merge(cell_places(cells, res), on=["cell", "country"], how="left"))
    if not parts:
        return pd.DataFrame(columns=["resolution", "country", "cell", "events", "kg", "pills", "gi_z", "p_value",
                                     "hotspot", "place", "lat", "lon"])
    out = pd.concat(parts, ignore_index=True)
    out = out[out["events"] > 0].sort_values(["resolution", "country", "cell"]).reset_index(drop=True)
    latlon = [h3.cell_to_latlng(c) for c in out["cell"]]
    out["lat"] = [p[0] for p in latlon]
    out["lon"] = [p[1] for p in latlon]
    return out


def cell_series(engine: Engine, resolution: int = 6, period: str = "month",
                kinds: Iterable[str] = ("seizure",)) -> pd.DataFrame:
    """Per-cell time series at a resolution: events, kg, pills per period."""
    cells = cell_counts(engine, kinds, period)
    return by_resolution(cells, resolution, ["period"])


def to_geojson(frame: pd.DataFrame, cell_column: str = "cell") -> dict[str, object]:
    """H3 cells as GeoJSON polygons with every other column as properties."""
    features = []
    for row in frame.to_dict(orient="records"):
        boundary = [[lon, lat] for lat, lon in h3.cell_to_boundary(row[cell_column])]
        boundary.append(boundary[0])
        props = {k: _jsonable(v) for k, v in row.items()}
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [boundary]},
                         "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _jsonable(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value
