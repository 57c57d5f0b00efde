"""The same analytics cases for every engine (tests/test_analyze_engines*.py compare them)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from puente.analyze import alerts, cbp, corridors, firearms, hotspots, networks, precursors, supply
from puente.engine import Engine

CASES: dict[str, Callable[[Engine], pd.DataFrame]] = {
    "cbp_trends": lambda e: cbp.monthly_trends(e, "fentanyl"),
    "cbp_share": cbp.fentanyl_share,
    "corridor_flows": corridors.corridor_flows,
    "corridor_flows_quarter": lambda e: corridors.corridor_flows(e, "quarter"),
    "port_shares": corridors.port_shares,
    "hotspots": lambda e: hotspots.hotspots(e, (6, 7), ("seizure", "lab_site"), permutations=99),
    "cell_series": lambda e: hotspots.cell_series(e, 6, "month"),
    "alerts": lambda e: alerts.spike_alerts(e, ("seizure", "lab_site"))["alerts"],
    "alert_evidence": lambda e: alerts.spike_alerts(e, ("lab_site",))["evidence"],
    "alerts_h3": lambda e: alerts.spike_alerts(e, ("seizure",), level="cell", resolution=6)["alerts"],
    "diversion_risk": precursors.diversion_risk,
    "lab_regions": precursors.lab_regions,
    "source_states": firearms.source_states,
    "dealers": firearms.dealers,
    "purchasers": firearms.purchasers,
    "time_to_crime": firearms.time_to_crime,
    "multiple_sales": firearms.multiple_sales,
    "state_flows": firearms.state_flows,
    "players": lambda e: networks.build_network(e).nodes,
    "precursor_lab_chains": supply.precursor_lab_chains,
}


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Row order and float noise removed, so engines can be compared."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(6)
    keys = [c for c in out.columns if out[c].map(lambda v: isinstance(v, (str, int, float)) or v is None).all()]
    return out.sort_values(keys or list(out.columns)).reset_index(drop=True)


def assert_same(left: pd.DataFrame, right: pd.DataFrame, name: str) -> None:
    assert list(left.columns) == list(right.columns), name
    assert len(left) == len(right), f"{name}: {len(left)} rows vs {len(right)}"
    pd.testing.assert_frame_equal(canonical(left), canonical(right), check_dtype=False, rtol=1e-6, obj=name)
