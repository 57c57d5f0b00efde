"""The analyses by name: each takes an engine and returns named tables (pandas) and GeoJSON.

These are the plain Python entry points the CLI and the API share:
``run_analysis("corridors", engine)`` → ``{"flows": DataFrame, "top": DataFrame, ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from puente.analyze import alerts, cbp, corridors, firearms, hotspots, networks, precursors, shifts, supply
from puente.engine import Engine
from puente.errors import UsageError

Result = dict[str, Any]  # name -> DataFrame, or a GeoJSON dict for names ending in ".geojson"


def _assigned(engine: Engine) -> pd.DataFrame:
    """The seizures' chain corridors, computed once per engine (flows and their members share them)."""
    cache: dict[str, pd.DataFrame] = engine.__dict__.setdefault("_flows_cache", {})
    if "assigned" not in cache:
        cache["assigned"] = corridors.chain_corridors(engine)
    return cache["assigned"]


def _flows(engine: Engine, period: str) -> pd.DataFrame:
    """Corridor flows, computed once per engine and period (firearms reuses them)."""
    cache: dict[str, pd.DataFrame] = engine.__dict__.setdefault("_flows_cache", {})
    if period not in cache:
        cache[period] = corridors.corridor_flows(engine, period, assigned=_assigned(engine))
    return cache[period]


def corridor_members(engine: Engine, period: str = "month") -> pd.DataFrame:
    """The seizure behind each corridor flow (:func:`puente.analyze.corridors.corridor_members`), reusing the
    chains this engine already assigned."""
    return corridors.corridor_members(engine, period, assigned=_assigned(engine))


def _corridors(engine: Engine, period: str = "month", **_: Any) -> Result:
    flows = _flows(engine, period)
    return {
        "flows": flows,
        "top": corridors.port_destinations(flows, 10),
        "top_kg": corridors.top_corridors(flows, 10),
        "ports": corridors.port_shares(engine, period),
        "shifts": shifts.shift_monitors(flows),
    }


def _hotspots(engine: Engine, period: str = "month", **_: Any) -> Result:
    cells = hotspots.hotspots(engine, kinds=("seizure", "lab_site"))
    return {"cells": cells, "series": hotspots.cell_series(engine, 6, period, ("seizure", "lab_site")),
            "cells.geojson": hotspots.to_geojson(cells[cells["events"] > 0])}


def _alerts(engine: Engine, period: str = "month", **_: Any) -> Result:
    found = alerts.spike_alerts(engine, ("seizure", "lab_site"))
    return dict(found)


def _precursors(engine: Engine, period: str = "month", **_: Any) -> Result:
    regions = precursors.lab_regions(engine)
    chains = supply.precursor_lab_chains(engine)
    confident = chains["confident"].astype(bool)
    risk, weights = precursors.diversion(engine)
    return {"risk": risk, "weights": weights, "lab_regions": regions,
            "chains": chains[confident].reset_index(drop=True),
            "chain_leads": chains[~confident].reset_index(drop=True),
            "lab_regions.geojson": hotspots.to_geojson(regions)}


def _firearms(engine: Engine, period: str = "month", **_: Any) -> Result:
    return {"source_states": firearms.source_states(engine), "dealers": firearms.dealers(engine),
            "purchasers": firearms.purchasers(engine),
            "purchaser_names": firearms.purchaser_names(engine), "time_to_crime": firearms.time_to_crime(engine),
            "multiple_sales": firearms.multiple_sales(engine), "state_flows": firearms.state_flows(engine),
            "shared_corridors": firearms.shared_corridors(engine, _flows(engine, period))}


def _networks(engine: Engine, period: str = "month", betweenness_k: int = 1000, **_: Any) -> Result:
    net = networks.build_network(engine, betweenness_k=betweenness_k)
    return {"players": net.nodes, "edges": net.edges}


def _cbp(engine: Engine, period: str = "month", **_: Any) -> Result:
    return {"trends": cbp.monthly_trends(engine, period=period), "fentanyl_share": cbp.fentanyl_share(engine)}


ANALYSES: dict[str, tuple[str, Callable[..., Result]]] = {
    "corridors": ("seizure", _corridors),
    "hotspots": ("seizure", _hotspots),
    "alerts": ("seizure", _alerts),
    "precursors": ("precursor_shipment", _precursors),
    "firearms": ("firearm_trace", _firearms),
    "networks": ("link", _networks),
    "cbp": ("seizure_aggregate", _cbp),
}


# The analyses that read resolved entities (people, organisations): `puente analyze` brings the resolution
# up to date before them (analyze/resolution.py).
ENTITY_ANALYSES = ("precursors", "firearms", "networks")


# Every table each analysis reads (the partner records among them are audited, and digested).
READS: dict[str, tuple[str, ...]] = {
    "corridors": ("seizure", "link", "person", "organization", "vehicle"),
    "hotspots": ("seizure", "lab_site"),
    "alerts": ("seizure", "lab_site"),
    "precursors": ("precursor_shipment", "lab_site", "seizure", "firearm_trace", "link", "person", "organization"),
    "firearms": ("firearm_trace", "seizure", "link", "person", "organization", "vehicle"),
    "networks": ("seizure", "lab_site", "precursor_shipment", "firearm_trace", "link", "person", "organization",
                 "vehicle"),
    "cbp": ("seizure_aggregate",),
}


def has_rows(engine: Engine, table: str) -> bool:
    if not engine.has_table(table):
        return False
    t = engine.table(table)
    return bool(engine.run(t.limit(1).count().as_table()).iloc[0, 0])


def run_analysis(name: str, engine: Engine, period: str = "month", **options: Any) -> Result:
    if name not in ANALYSES:
        raise UsageError("unknown_analysis", name=name, names=", ".join([*ANALYSES, "all", "joint"]))
    needs, fn = ANALYSES[name]
    if not has_rows(engine, needs):
        raise UsageError("analysis_needs", name=name, kind=needs)
    return fn(engine, period, **options)


def tables(result: Result) -> dict[str, pd.DataFrame]:
    return {k: v for k, v in result.items() if isinstance(v, pd.DataFrame)}
