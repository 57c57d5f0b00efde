"""The analytics against the simulator's ground truth at small scale (numbers: bench/results/analytics.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from puente.analyze.evaluate import evaluate_all, ingest_scenario
from puente.engine import open_engine
from puente.simulate.run import simulate

pytestmark = pytest.mark.slow


def _evaluate(root: Path, seed: int, scale: int) -> dict[str, Any]:
    simulate(root / "sim", seed=seed, scale=scale)
    node = ingest_scenario(root / "sim", root / "node")
    with open_engine("duckdb", node.store_url) as engine:
        return evaluate_all(engine, root / "sim")


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _evaluate(tmp_path_factory.mktemp("truth"), seed=7, scale=20_000)


def test_top_border_corridors_recovered(scores: dict[str, Any]) -> None:
    assert scores["corridors"]["border_corridor_recall"] >= 0.9


def test_port_shift_detected_within_two_periods(scores: dict[str, Any]) -> None:
    shifts = scores["shifts"]
    assert shifts["shift_delay_periods"]["SHIFT-1"] is not None and shifts["shift_delay_periods"]["SHIFT-1"] <= 2
    assert shifts["port_false_alarms"] * 12 / shifts["months"] <= 1.0


def test_all_monitors_raise_at_most_one_false_alarm_a_year(scores: dict[str, Any]) -> None:
    assert scores["shifts"]["false_alarms_per_year"] <= 1.0


def test_reported_destinations_recover_port_to_destination_corridors(scores: dict[str, Any]) -> None:
    # The issue's bar is 0.9. With reported destinations (~900 port loads at scale 20,000, beside ~110 followed)
    # seed 7 gives 0.8 and seed 11 0.9 (bench/results/analytics.md); followed loads alone give 0.5 on this
    # data, so this fails if reported destinations stop reaching the estimate. It guards the method, not the bar.
    c = scores["corridors"]
    assert c["reported_loads"] > 5 * c["followed_loads"] > 0
    assert c["destination_corridor_recall"] >= 0.8


def test_lab_regions_cover_true_labs(scores: dict[str, Any]) -> None:
    assert scores["labs"]["labs_within_km"] >= 0.8


def test_diversion_risk_separates_diverted_shipments(scores: dict[str, Any]) -> None:
    assert scores["diversion"]["auc"] >= 0.9


def test_leaders_rank_in_the_top_five_percent(scores: dict[str, Any]) -> None:
    ranks = scores["leaders"]["leader_rank_fraction"]
    assert ranks and all(r is not None and r <= 0.05 for r in ranks.values())


@pytest.fixture(scope="module")
def scores_at_scale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Scale 200,000 (seed 11): enough loads a month that the issue's own bars apply (about 3 minutes)."""
    return _evaluate(tmp_path_factory.mktemp("truth_scale"), seed=11, scale=200_000)


def test_at_scale_the_issue_bars_hold(scores_at_scale: dict[str, Any]) -> None:
    # At 20,000 the new I-40 corridor has a handful of loads a month with a known destination, spread over six
    # cities, and ranks 9-12 of the true port -> destination pairs are within 10% of each other; at 200,000
    # both are resolved (seeds 7 and 11 in bench/results/analytics.md).
    c, s = scores_at_scale["corridors"], scores_at_scale["shifts"]
    assert c["border_corridor_recall"] >= 0.9
    assert c["destination_corridor_recall"] >= 0.9
    delays = s["shift_delay_periods"]
    assert all(d is not None and d <= 2 for d in delays.values()), delays
    assert s["false_alarms_per_year"] <= 1.0
