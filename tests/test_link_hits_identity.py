"""The per-identity budget of hit/no-hit (hits.max_per_identity, puente/link/identity.py): one known name under
many guessed birth dates is refused before matching, split over queries or with typos, and counted per day;
honest queries with namesakes pass."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from share_support import agreement_doc, install
from test_attack_hits import _encode, _target
from test_link_hits import PERSON_MATCH_ONLY, SECRET, _reseal, _two_nodes

from puente.errors import ConfigError
from puente.link import clk, hits, identity
from puente.link.audit_hook import entries
from puente.share.agreement_spec import HITS_DEFAULTS

BUDGET = 16
FIELDS = ["given_names", "surnames", "birth_date"]


def _dates(born: Any, n: int, skip: int = 0) -> list[dt.date]:
    """``n`` guessed dates, far from the true one (``skip`` days further)."""
    born = born if isinstance(born, dt.date) else dt.date.fromisoformat(str(born))
    start = dt.date(born.year - 20, 1, 1) + dt.timedelta(days=skip)
    return [start + dt.timedelta(days=d) for d in range(n)]


def _ask(sa: Any, sb: Any, us: Any, mx: Any, records: list[dict[str, Any]], query_id: str) -> dict[str, Any]:
    query = hits.make_query(sa, us, "mx-test", SECRET)
    return hits.answer_query(sb, mx, SECRET, _reseal(query, query_id=query_id, count=len(records),
                                                     encodings=_encode(us, query["fields"], records)))


def _signatures(records: list[dict[str, Any]]) -> list[set[int]]:
    key = hits.matching_key(SECRET, "us-test-mx-test", 1, "us-test", "mx-test")
    enc = clk.Encoder(key, "person", FIELDS)
    rows, sigs = identity.signatures(enc.encode(pd.DataFrame(records)), enc.layout, key)
    return [set(sigs[rows == i].tolist()) for i in range(len(records))]


def _variants(word: str) -> list[str]:
    """Every one-letter change (a letter replaced, or one added) of a word, a few letters each."""
    out = []
    for i in range(len(word)):
        out += [word[:i] + c + word[i + 1:] for c in "aeo" if c != word[i].lower()]
        out.append(word[:i + 1] + "x" + word[i + 1:])
    return out


def test_signatures_see_one_identity_through_typos_and_swaps_not_across_people() -> None:
    base = {"given_names": "Guadalupe", "surname1": "Hernández", "surname2": "García", "birth_date": "1980-03-02"}
    dates = [f"{1950 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}" for n in range(60)]
    typos = ([{**base, "given_names": v} for v in _variants("Guadalupe")]
             + [{**base, "surname1": v} for v in _variants("Hernández")])
    typos = [{**t, "birth_date": dates[n % 60]} for n, t in enumerate(typos)]
    strangers = [{"given_names": g, "surname1": s1, "surname2": "Salas", "birth_date": "1980-03-02"}
                 for g in ("Roberto", "Lucía", "Ramón", "Ana") for s1 in ("Quintero", "Hernández", "Garza")]
    swapped = {"given_names": "Hernández", "surname1": "Guadalupe", "surname2": None, "birth_date": "1990-01-01"}
    single = {**base, "surname2": None, "birth_date": "1971-07-07"}
    sigs = _signatures([base, {**base, "birth_date": "1975-11-20"}, swapped, single, *typos, *strangers])
    assert sigs[0] and len(sigs[0]) == 3 * identity.BANDS  # 3 pairs of fields, 4 bands each
    assert sigs[0] & sigs[1]  # the same name under another date: the names' bands repeat
    assert sigs[2] & sigs[3]  # a given name and a surname swapped between the two fields: the same bands
    # a name written with one letter changed or added: many of the variants share the base's name bands
    shared = sum(bool(sigs[0] & s) for s in sigs[4:4 + len(typos)])
    assert shared >= len(typos) // 4, f"{shared} of {len(typos)}"
    # other people (the same surname or birth date included) share none
    assert not any(sigs[0] & s for s in sigs[4 + len(typos):])


def test_the_enumeration_split_over_many_queries_is_refused_and_flagged(make_node: Any) -> None:
    us, mx, _, _ = _two_nodes(make_node, hits={"max_per_identity": BUDGET})
    who = _target(mx)
    with us.open_store() as sa, mx.open_store() as sb:
        statuses = []
        for q in range(6):
            chunk = [{**who, "birth_date": d} for d in _dates(who["birth_date"], 6, skip=6 * q)]
            answer = _ask(sa, sb, us, mx, chunk, f"q-part-{q}")
            statuses.append(answer["reason_key"] if answer["status"] == "rejected" else "answered")
        # 6 + 6 = 12 distinct encodings of one name pass; the third part (18 > 16) is refused, then all are flagged
        assert statuses == ["answered", "answered", "hits_rej_identity"] + ["hits_rej_flagged"] * 3
        flagged = entries(sb, "hits.query.flagged")
        assert "describe one identity" in flagged[0]["reason"] and flagged[0]["clause"] == "us-test-mx-test@v1:hits"
        # the refused part's signatures were dropped; only the answered parts' remain, as 64-bit hashes
        assert sb.scalar("SELECT COUNT(DISTINCT encoding) FROM hits_identity") == 12
        assert {c for c, in sb.query("SELECT data_type FROM information_schema.columns "
                                     "WHERE table_name = 'hits_identity'")} <= {"BIGINT", "DATE", "VARCHAR"}


def test_a_new_typo_per_guess_still_counts_against_the_budget(make_node: Any) -> None:
    us, mx, _, _ = _two_nodes(make_node, hits={"max_per_identity": BUDGET})
    who = _target(mx)
    given, surname = str(who["given_names"]).split()[0], str(who["surname1"])
    letters = "abcdefghijklmnoprstuvz"
    guesses = []
    for n, d in enumerate(_dates(who["birth_date"], 200)):
        i = n % len(given)
        changed = given[:i] + letters[n % len(letters)] + given[i + 1:] if n % 2 else given + letters[n % len(letters)]
        extra = {"surname1": surname[:-1] + letters[(n // 3) % len(letters)]} if n % 3 == 0 else {}
        guesses.append({**who, "given_names": changed, **extra, "birth_date": d})
    assert len({(g["given_names"], g.get("surname1")) for g in guesses}) > 100  # a name written a new way each time
    with us.open_store() as sa, mx.open_store() as sb:
        answer = _ask(sa, sb, us, mx, guesses, "q-typos")
    assert (answer["status"], answer["reason_key"], answer["hits"]) == ("rejected", "hits_rej_identity", [])


def test_the_budget_resets_the_next_day(make_node: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    us, mx, _, _ = _two_nodes(make_node, hits={"max_per_identity": BUDGET})
    who = _target(mx)
    today = hits._now()
    with us.open_store() as sa, mx.open_store() as sb:
        first = _ask(sa, sb, us, mx, [{**who, "birth_date": d} for d in _dates(who["birth_date"], 12)], "q-day1")
        assert first["status"] == "answered"
        second = _ask(sa, sb, us, mx, [{**who, "birth_date": d} for d in _dates(who["birth_date"], 12, 12)], "q-day1b")
        assert second["reason_key"] == "hits_rej_identity"
        monkeypatch.setattr(hits, "_now", lambda: today + dt.timedelta(days=1))
        third = _ask(sa, sb, us, mx, [{**who, "birth_date": d} for d in _dates(who["birth_date"], 12, 12)], "q-day2")
        assert third["status"] == "answered"
        # yesterday's signatures are gone: only today's twelve encodings are stored
        assert sb.scalar("SELECT COUNT(DISTINCT encoding) FROM hits_identity") == 12
        assert sb.scalar("SELECT MIN(day) FROM hits_identity") == (today + dt.timedelta(days=1)).date()


def test_the_same_query_sent_again_is_not_counted_twice(make_node: Any) -> None:
    us, mx, _, _ = _two_nodes(make_node, hits={"max_per_identity": BUDGET})
    who = _target(mx)
    guesses = [{**who, "birth_date": d} for d in _dates(who["birth_date"], 12)]
    with us.open_store() as sa, mx.open_store() as sb:
        assert [_ask(sa, sb, us, mx, guesses, f"q-retry-{n}")["status"] for n in range(3)] == ["answered"] * 3


def test_an_honest_query_with_many_namesakes_is_answered(make_node: Any) -> None:
    """Forty people named Juan Hernández García (different people: other dates, some with a second given name or
    the accents dropped) among the partner's own: the default budget answers, and finds the one that is ours."""
    us, mx, people, _ = _two_nodes(make_node)
    who = _target(mx)
    namesakes = [{"given_names": "Juan" if n % 3 else "Juan Carlos", "surname1": "Hernández" if n % 2 else "Hernandez",
                  "surname2": "García", "birth_date": d} for n, d in enumerate(_dates("1990-01-01", 40 * 97)[::97])]
    ours = people[people.owner_node == "us-test"].to_dict("records")
    records = namesakes + ours + [who]
    with us.open_store() as sa, mx.open_store() as sb:
        answer = _ask(sa, sb, us, mx, records, "q-honest")
        assert answer["status"] == "answered" and any(h["i"] == len(records) - 1 for h in answer["hits"])
        assert hits.Terms(sb, "us-test", "person").max_per_identity == HITS_DEFAULTS["max_per_identity"] > 40
        biggest = sb.scalar("SELECT MAX(n) FROM (SELECT signature, COUNT(DISTINCT encoding) AS n FROM hits_identity "
                            "GROUP BY signature) AS t")
        assert 40 <= biggest < HITS_DEFAULTS["max_per_identity"]  # the namesakes were counted as one identity, and stayed within the budget


def test_an_agreement_without_the_term_gets_the_default_and_a_zero_budget_is_refused(make_node: Any) -> None:
    us, mx = make_node("us-test", "US"), make_node("mx-test", "MX")
    install(us, mx, agreement_doc(us, mx, PERSON_MATCH_ONLY))
    with mx.open_store() as sb:
        assert hits.Terms(sb, "us-test", "person").max_per_identity == HITS_DEFAULTS["max_per_identity"] == 64
    with pytest.raises(ConfigError, match="max_per_identity"):
        install(us, mx, agreement_doc(us, mx, PERSON_MATCH_ONLY, version=2, hits={"max_per_identity": 0}))


def test_the_count_on_both_stores(store_url: str) -> None:
    """Counted per partner and day over distinct encodings, a refused batch forgotten, earlier days deleted."""
    from puente.store.base import open_store

    key = hits.matching_key(SECRET, "us-test-mx-test", 1, "us-test", "mx-test")
    enc = clk.Encoder(key, "person", FIELDS)
    base = {"given_names": "Juan", "surname1": "Hernández", "surname2": "García"}
    packed = enc.encode(pd.DataFrame([{**base, "birth_date": d} for d in _dates("1980-01-01", 10)]))
    day = dt.date(2026, 12, 1)
    with open_store(store_url) as store:
        with store.transaction():
            assert identity.count(store, "us-test", "q1", packed, enc.layout, key, day)[0] == 10
        with store.transaction():  # the same ten again: copies count once; another partner counts apart
            assert identity.count(store, "us-test", "q2", packed[:5], enc.layout, key, day)[0] == 10
            assert identity.count(store, "other", "q3", packed[:3], enc.layout, key, day)[0] == 3
        with store.transaction():
            more, batch = identity.count(store, "us-test", "q4", packed[:1] ^ 1, enc.layout, key, day)
            assert more >= 1
            identity.forget(store, batch)
        assert store.scalar("SELECT COUNT(DISTINCT encoding) FROM hits_identity WHERE partner = 'us-test'") == 10
        with store.transaction():
            assert identity.count(store, "us-test", "q5", packed[:2], enc.layout, key, day + dt.timedelta(days=1))[0] == 2
        assert store.scalar("SELECT COUNT(*) FROM hits_identity WHERE day < ?", [day + dt.timedelta(days=1)]) == 0
