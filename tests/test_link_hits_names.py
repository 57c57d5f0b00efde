"""The hit/no-hit name floor (clkmatch.NAME_FLOOR): a hit needs the names to agree; a birth date adds and vetoes but
never outweighs a given name or surnames that disagree, and an identifier that agrees may carry them."""

from __future__ import annotations

from typing import Any

import numpy as np

from puente.link import clk, hits, minimum
from puente.link.clkmatch import NAME_FLOOR, best, match_all_pairs, score_pairs

KEY = hits.matching_key(bytes.fromhex("11" * 32), "test", 1, "us-test", "mx-test")
NAMES = ["given_names", "surnames", "birth_date"]
ROSA = {"given_names": "Rosa María", "surname1": "Hernández", "surname2": "Villalobos", "birth_date": "1984-06-17",
        "id_number": "48213377"}


def _hit(query: dict[str, Any], fields: list[str] = NAMES, floor: float | None = NAME_FLOOR) -> bool:
    enc = clk.Encoder(KEY, "person", fields)
    found = best(match_all_pairs(enc.encode([query]), enc.encode([ROSA]), enc.layout, hits.DEFAULT_THRESHOLD,
                                 name_floor=floor))
    return len(found) == 1


def _score(query: dict[str, Any], fields: list[str] = NAMES) -> float:
    enc = clk.Encoder(KEY, "person", fields)
    return float(score_pairs(enc.encode([query]), enc.encode([ROSA]), np.array([[0, 0]]), enc.layout)[0])


def test_a_birth_date_does_not_carry_a_given_name_or_surnames_that_disagree() -> None:
    for other in ({**ROSA, "given_names": "Qwkzvbt"}, {**ROSA, "given_names": "Ignacio"},
                  {**ROSA, "surname1": "Quintero", "surname2": "Zúñiga"}):
        # the date (+6) and the other name reach the threshold: without the floor, this is a hit
        assert _score(other) >= hits.DEFAULT_THRESHOLD
        assert _hit(other, floor=None)
        assert not _hit(other), other


def test_names_that_agree_still_hit_straight_crosswise_and_with_variants() -> None:
    assert _hit(ROSA)
    assert _hit({**ROSA, "given_names": "Rosa Maria", "surname2": None})  # the second surname dropped
    assert _hit({**ROSA, "given_names": "Rossa"})  # a typo
    assert _hit({**ROSA, "surname1": "Hernandes"})
    assert _hit({**ROSA, "given_names": "Hernández", "surname1": "Rosa"})  # given and family names swapped
    assert _hit({**ROSA, "birth_date": None})  # names alone, no date
    assert not _hit({**ROSA, "birth_date": "1979-02-03"})  # a namesake: the date still vetoes


def test_an_identifier_that_agrees_carries_names_that_disagree() -> None:
    fields = [*NAMES, "id_number"]
    other = {**ROSA, "given_names": "Ignacio"}
    assert _hit(other, fields)
    assert not _hit({**other, "id_number": "90551264"}, fields)  # an identifier that disagrees carries nothing


def _answer(query: dict[str, Any], answering: dict[str, Any], fields: list[str] = NAMES,
            min_fields: list[list[str]] | None = None) -> bool:
    """Whether the answer's matching (minimum.match: blocked, names that agree, more than the names shared) hits."""
    enc = clk.Encoder(KEY, "person", fields)
    found = minimum.match(enc.encode([query]), enc.encode([answering]), enc.layout, KEY,
                          clk.MIN_FIELDS["person"] if min_fields is None else min_fields, hits.DEFAULT_THRESHOLD)
    return len(found) == 1


def test_a_record_without_a_birth_date_answers_no_name_alone() -> None:
    """The agreement's minimum (names with a date or an identifier) binds the evidence of a hit, not only the
    question: an answering record without a date or an identifier shares only the names with a query, and a query
    with any date would otherwise hit it on the names (+9 bits), a census of the names the node holds without one."""
    undated = {**ROSA, "birth_date": None, "id_number": None}
    assert _score(ROSA | {"birth_date": "1961-01-01"}) < hits.DEFAULT_THRESHOLD  # with its date, it would veto
    enc = clk.Encoder(KEY, "person", NAMES)
    assert float(score_pairs(enc.encode([ROSA]), enc.encode([undated]), np.array([[0, 0]]),
                             enc.layout)[0]) >= hits.DEFAULT_THRESHOLD  # names alone reach the threshold
    for guess in ("1961-01-01", "1984-06-17", "2001-12-31"):
        assert not _answer({**ROSA, "birth_date": guess}, undated), guess
    assert _answer(ROSA, ROSA)  # both carry names and the date: a hit
    # an agreement whose minimum is the names alone answers them (the minimum decides, not a fixed rule)
    assert _answer({**ROSA, "birth_date": "1961-01-01"}, undated, min_fields=[["given_names", "surnames"]])


def test_an_identifier_only_one_side_carries_adds_nothing_to_the_names() -> None:
    fields = [*NAMES, "id_number"]
    by_number = {**ROSA, "birth_date": None}  # the answering record: names and an id number
    assert not _answer({**ROSA, "id_number": None, "birth_date": "1950-03-03"}, by_number, fields)
    assert _answer({**ROSA, "birth_date": "1950-03-03"}, by_number, fields)  # the id number on both sides
    assert _answer({**ROSA, "id_number": None}, ROSA, fields)  # names and date on both sides
    # a given name missing on one side: the surnames, the date and the id number still hit (FEBRL4 has many)
    assert _answer({**ROSA, "given_names": None}, ROSA, fields)
