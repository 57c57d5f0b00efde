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


def cell_counts(engine: Engine, kinds: Iterable[str] = ("seizure",), period: str | None = None) -> pd.DataFrame:
    """Events, kg and pills per resolution-8 cell (and period when given)."""
    ev = events(engine, kinds)
    ev = ev.filter(ev.h3.notnull())
    keys = {"h3": ev.h3}
    if period:
        keys["period"] = period_of(ev.date, period)
    expr = ev.group_by(**keys).agg(events=ev.count(), kg=ev.kg.sum(), pills=ev.pills.sum())
    out = engine.run(expr.order_by(list(keys)))
    out["events"] = out["events"].astype("int64")
    out["pills"] = out["pills"].astype("int64")
    return out


def by_resolution(cells: pd.DataFrame, resolution: int, extra_keys: Sequence[str] = ()) -> pd.DataFrame:
    """Re-aggregate res-8 cell counts at a coarser resolution."""
    frame = cells.assign(cell=coarsen(cells, "h3", resolution))
    keys = ["cell", *extra_keys]
    out = frame.groupby(keys, as_index=False)[["events", "kg", "pills"]].sum()
    out.insert(0, "resolution", resolution)
    return out.sort_values(keys).reset_index(drop=True)


def gi_star(cells: pd.DataFrame, measure: str = "events", permutations: int = 999, seed: int = 0,
            alpha: float = 0.05, ring: int = 1) -> pd.DataFrame:
    """Getis-Ord Gi* over one resolution's cells. The study area is the observed cells plus their
    ``ring`` neighbours (zero), weights are binary H3 adjacency, significance from esda's permutation
    test (``p_sim``) and the normal approximation (``p_norm``)."""
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
        return out.assign(gi_z=0.0, p_sim=1.0, p_norm=1.0, hotspot=NONE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not fully connected": separate clusters are expected
        w = W(neighbours, silence_warnings=True)
        w.transform = "B"
        g = G_Local(y, w, transform="B", permutations=permutations, star=True, seed=seed, n_jobs=1)
    out["gi_z"] = g.Zs
    out["p_sim"] = g.p_sim if permutations else np.nan
    out["p_norm"] = g.p_norm
    p = out["p_sim"] if permutations else out["p_norm"]
    out["hotspot"] = np.where((p < alpha) & (out["gi_z"] > 0), HOT, np.where((p < alpha) & (out["gi_z"] < 0), COLD, NONE))
    return out


def hotspots(engine: Engine, resolutions: Sequence[int] = (5, 6, 7), kinds: Iterable[str] = ("seizure",),
             measure: str = "events", permutations: int = 999, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Cells with their totals and Gi* class at each resolution."""
    cells = cell_counts(engine, kinds)
    parts = []
    for res in resolutions:
        agg = by_resolution(cells, res)
        gi = gi_star(agg, measure, permutations, seed, alpha)
        merged = gi.drop(columns=[measure]).merge(agg.drop(columns=["resolution"]), on="cell", how="left")
        merged[["events", "pills"]] = merged[["events", "pills"]].fillna(0).astype("int64")
        merged["kg"] = merged["kg"].fillna(0.0)
        merged.insert(0, "resolution", res)
        parts.append(merged)
    out = pd.concat(parts, ignore_index=True)
    latlon = [h3.cell_to_latlng(c) for c in out["cell"]]
    out["lat"] = [p[0] for p in latlon]
    out["lon"] = [p[1] for p in latlon]
    return out


def cell_series(engine: Engine, resolution: int = 6, period: str = "month",
                kinds: Iterable[str] = ("seizure",)) -> pd.DataFrame:
    """Per-cell time series at a resolution: events, kg, pills per period."""
    cells = cell_counts(engine, kinds, period)
    return by_resolution(cells, resolution, ["period"])


def to_geojson(frame: pd.DataFrame, cell_column: str = "cell") -> dict:
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
