"""The analytics scored by the strict truth harness (bench/analytics_truth.py) on one small seed.

The harness reads only what `puente analyze all` writes. Big-scale, never-tuned seeds are in
bench/results/analytics.md; here seed 7 at scale 20,000 checks that the written tables carry what an
analyst and the harness need, and that the product still beats the naive baselines.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.analytics_truth import Run, alarm_episodes, build, port_codes, score_all, truth, written
from puente.analyze import supply
from puente.analyze.shifts import SHIFT_LEVELS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return build(tmp_path_factory.mktemp("truth"), seed=7, scale=20_000)


@pytest.fixture(scope="module")
def scores(run: Run) -> dict[str, Any]:
    return score_all(run)


def test_alarm_episodes_count_every_run_of_flagged_months() -> None:
    months = pd.to_datetime(["2021-01-01", "2021-02-01", "2021-04-01", "2021-05-01"])
    frame = pd.DataFrame({"level": "port", "crossing": "Lukeville", "destination": None, "period": months,
                          "shift": [True, True, True, False], "first": [True, False, False, False]})
    # the product may call 2021-04 a continuation of its January episode; the harness counts a new one
    episodes = alarm_episodes(frame)
    assert list(episodes["months"]) == [2, 1]


def test_only_ports_of_entry_are_crossings(run: Run) -> None:
    poe = set(port_codes())
    for name in ("corridors_flows", "corridors_top", "corridors_shifts", "corridors_ports"):
        frame = written(run, name)
        col = "port" if name == "corridors_ports" else "crossing"
        names = set(frame[col].dropna()) - {"?"}
        assert names and names <= poe, (name, names - poe)
    shifts = written(run, "corridors_shifts")
    # the new-route level writes rows only where a pair has no load in a year and then enough to test
    assert {"port", "destination", "port_destination"} <= set(shifts["level"]) <= set(SHIFT_LEVELS)


def test_corridors_and_shifts_beat_the_naive_baselines(run: Run, scores: dict[str, Any]) -> None:
    c, s = scores["corridors"], scores["shifts"]
    assert c["recall"] >= 0.8 and c["recall"] >= c["baseline"]
    # the planted port shifts (the world's, from its truth) are found within the bar's 2 months (the
    # two-month monitor may take +1); a new corridor may have too few loads at this scale
    planted = truth(run, "route_shifts.csv")
    port_shifts = planted.loc[planted["type"] == "port", "shift_id"]
    assert len(port_shifts)
    delays = {k: s["product"]["delays"][k] for k in port_shifts}
    assert all(d is not None and d <= 2 for d in delays.values()), delays
    assert s["product"]["false_per_year"] <= 1.0 < s["baseline"]["false_per_year"]


def test_hotspot_cells_are_one_country_with_events_and_consistent_statistics(run: Run) -> None:
    from scipy.stats import norm

    cells = written(run, "hotspots_cells")
    assert not cells.duplicated(["resolution", "cell", "country"]).any()
    assert set(cells["country"]) == {"MX", "US"}
    assert (cells["events"] > 0).all() and cells["place"].notna().all()
    assert np.allclose(cells["p_value"], norm.sf(cells["gi_z"].abs()), atol=1e-9)
    hot = cells[cells["hotspot"] == "hot"]
    assert (hot["gi_z"] > 1.64).all() and (hot["p_value"] < 0.05).all()
    # a border cell holds each side's events in its own row: San Ysidro and Tijuana are not blended
    both = cells.groupby(["resolution", "cell"])["country"].nunique()
    assert (both == 2).any()
    assert set(cells["hotspot_es"]) <= {"Punto caliente", "Punto frío", "No significativo"}


def test_firearms_count_each_gun_once_and_multiple_sales_are_at_one_dealer(run: Run,
                                                                            scores: dict[str, Any]) -> None:
    p = scores["purchasers"]
    # 6,798 traces for 4,000 guns when both nodes' records of a gun counted; each gun once now
    assert p["traces_written"] == p["guns_traced"]
    assert p["unknown_state_share"] < 0.2  # 48% when both nodes' records of a gun were counted
    sales = written(run, "firearms_multiple_sales")
    assert len(sales) and sales["dealer_ffl"].notna().all() and (sales["guns"] >= 2).all()


def test_outputs_are_bilingual_and_name_their_years(run: Run) -> None:
    risk = written(run, "precursors_risk")
    assert "Anhídrido propiónico" in set(risk["chemical_es"])
    share = written(run, "cbp_fentanyl_share")
    assert not (share["fiscal_year"] == 0).any() and "FY2019–FY2022" in set(share["years"])


def test_key_players(scores: dict[str, Any]) -> None:
    kp = scores["players"]["product"]
    assert kp["all_leaders_top"], kp["leaders"]
    assert kp["legit_top50"] < scores["players"]["baseline"]["legit_top50"]


def test_diversion_beats_the_bar_and_the_naive_baseline_does_not(scores: dict[str, Any]) -> None:
    dv = scores["diversion"]
    assert dv["auc"] >= 0.9 > dv["baseline"], dv
    # no single feature carries it: the score holds the bar with any one of them taken out
    assert min(dv["without"].values()) >= 0.9, dv["without"]


def test_lab_regions_are_scored_against_hidden_labs(scores: dict[str, Any], run: Run) -> None:
    labs = scores["labs"]
    regions = written(run, "precursors_lab_regions")
    assert labs["hidden"] > 0 and labs["product"]["regions"] == len(regions)
    assert labs["baseline"]["regions"] > 0
    # issue 13's bars; the quiet places (no lab ever dismantled) are found from inland seizures
    assert labs["product"]["hidden_within"] >= 0.6 and labs["product"]["regions_near_lab"] >= 0.7, labs
    assert labs["product"]["hidden_within"] > labs["baseline"]["hidden_within"], labs
    assert "inland_seizures" in set(regions["basis"]) and set(regions["basis_es"]) >= {
        "Aseguramientos tierra adentro con marcas de lote concentradas"}



def test_players_purchasers_and_chains_are_resolved_entities(run: Run, scores: dict[str, Any]) -> None:
    # `analyze all` ran entity resolution first: players and purchasers are entities of several records
    players = written(run, "networks_players")
    assert (players["records"].str.count("[|]") > 0).any()
    chains = written(run, "precursors_chains")
    assert len(chains) and (chains["lab_date"] >= chains["arrival_date"]).all() and chains["confident"].all()
    assert {"document", "same_company", "owner_arrested"} <= set(chains["hop"])
    # an owner detained at a lab is a chain only where the lab kept no papers and lists what the company sent
    owned = chains[~chains["documented"]]
    assert len(owned) and not owned["lab_papers"].any() and (owned["coverage"] >= supply.MIN_COVERAGE).all()
    leads = written(run, "precursors_chain_leads")
    assert set(leads["hop"]) <= {"owner_arrested", "direct"} and not leads["confident"].any()
    assert set(leads["person_rule"].dropna()) <= {"same_record", "entity_resolution", "transitive"}
    assert (leads["person_rule"] != "same_record").any()  # the owner and the detainee are two records
    # reading separators and slips and following the company finds more than a verbatim text search
    assert scores["chains"]["product"]["found"] > scores["chains"]["baseline"]["found"]


def test_chains_meet_the_bar_on_the_small_seed(scores: dict[str, Any]) -> None:
    # issue 13: >= 0.7 of the diverted shipments that fed a dismantled lab linked to it, precision >= 0.8
    # (seed 7 was tuned on; the untuned seeds are in bench/results/analytics.md)
    ch = scores["chains"]
    assert ch["product"]["recall"] >= 0.7 and ch["product"]["precision"] >= 0.8, ch
    assert ch["product"]["recall"] > ch["baseline"]["recall"]


def test_top_purchasers_are_one_true_person(scores: dict[str, Any]) -> None:
    # 0.90 before: two straw purchasers named Carlos Johnson (birth dates 13 years apart) were one entity
    assert scores["purchasers"]["one_person"] >= 0.95, scores["purchasers"]
