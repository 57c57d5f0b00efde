"""Linking scored against the simulator's truth: the issue's targets (ER F1 >= 0.97, hit/no-hit F1 >= 0.95)."""

from __future__ import annotations

import pytest

from bench import simeval
from puente.link import clk

# a simulated world and two trained models: the full tier (make test-all)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    return simeval.build(tmp_path_factory.mktemp("linksim"), scale=3000, seed=11)


def test_entity_resolution_on_simulated_people(simulated):
    nodes, sim = simulated
    scores = simeval.er_scores(nodes, sim)
    assert scores["records"] > 500 and scores["true_pairs"] > 100
    assert scores["f1"] >= 0.97, scores


def test_hit_no_hit_on_simulated_people(simulated):
    nodes, sim = simulated
    # issue 14's bar on the simulator's people is F1 >= 0.95. Scored since session 15 as the nodes do it: a record
    # is asked about only if it carries a minimum field set, and a hit's two sides share more than the names
    # (minimum.match). Under an agreement whose minimum admits names alone, nothing is kept home: the bar holds
    # (seed 11: 496 hits, 473 right, precision 0.954, recall 0.979, F1 0.966; the guard on precision is 0.94 as
    # before, see bench/results/linking.md for its history).
    names = [["given_names", "surnames"], *clk.MIN_FIELDS["person"]]
    scores = simeval.hits_scores(nodes, sim, bytes.fromhex("5a" * 32), min_fields=names)
    assert scores["with_mate"] > 100  # U.S. people the Mexican node also holds; one bit each
    assert scores["f1"] >= 0.95 and scores["precision"] >= 0.94, scores
    # Under the default minimum (names with a date or an identifier) the people the records know by name only --
    # front men, 140 of 1,146 U.S. records here, 76 of them with a Mexican mate -- are never asked about, and
    # Mexican records known by name only answer nothing: precision 1.0 (380 of 380), recall 0.787, F1 0.881. The
    # bar is not met under the default terms; what it costs is the name census the minimum forbids.
    default = simeval.hits_scores(nodes, sim, bytes.fromhex("5a" * 32))
    assert default["sent"] < default["a"] and default["precision"] >= 0.99, default
    assert default["recall"] >= 0.75, default
