"""Linking scored against the simulator's truth: the issue's targets (ER F1 >= 0.97, hit/no-hit F1 >= 0.95)."""

from __future__ import annotations

import pytest

from bench import simeval

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
    scores = simeval.hits_scores(nodes, sim, bytes.fromhex("5a" * 32))
    assert scores["with_mate"] > 100  # U.S. people the Mexican node also holds; one bit each
    # issue 14's bar on the simulator's people is F1 >= 0.95 (precision >= 0.98 is its FEBRL4 bar, asserted in
    # the FEBRL tests). Precision here is a regression guard, not the bar: it measured 0.974-0.983 on the
    # earlier worlds; the precursor round's world adds front men known by name only (no birth date, no CURP),
    # and a name-only hit is right 82% of the time (93 right, 20 wrong on seed 11), so precision is 0.960 with
    # the CURP's birth date used where the record gives none (0.92 without). The faster candidate generation
    # (41859b7, byte-level MinHash bins) sees 5 more pairs above the threshold on this world, all namesakes with no
    # hit before: 502 -> 507 hits, the same 482 right, precision 0.960 -> 0.951. Where two references tied, the one
    # kept used to follow the row order of the nodes' random ids (0.949 on some runs, guard lowered to 0.94); ties now
    # go by content (clkmatch.best: closeness, then the encoding, then the content hash), and two fresh builds of
    # this world (other id keys) both measure 507 hits, 482 right, precision 0.9507 (hits5 round, 2026-12-01).
    # The simulator now writes birth-date typos (3% of dated people, dob6 round): 503 hits, 477 right, precision
    # 0.9483 -- five right hits lost to year-changing swaps (1965 -> 1956) that no candidate pair reaches, one more
    # wrong. The guard is back at 0.94, its value before the tie-break round; the miss is reported in
    # bench/results/linking.md, and the bar (F1 >= 0.95) is unchanged.
    assert scores["f1"] >= 0.95 and scores["precision"] >= 0.94, scores
