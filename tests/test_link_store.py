"""Resolution against a node's store (DuckDB and PostgreSQL): runs, stable ids, decisions that survive re-runs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from bench import synth
from puente.errors import UsageError
from puente.link import runs
from puente.link.resolve import pair_scores


def load_people(store, entities: int = 150, seed: int = 13):
    people, truth = synth.spanish_people(entities, seed=seed)
    base = dt.datetime(2026, 1, 1)
    people["ingested_at"] = [base + dt.timedelta(minutes=i) for i in range(len(people))]
    cols = ["id", "owner_node", "source_id", "given_names", "surname1", "surname2", "birth_date", "curp",
            "ingested_at"]
    store.insert_arrow("person", pa.Table.from_pandas(people[cols], preserve_index=False))
    return people, truth


def clusters(store) -> dict[str, str]:
    return dict(store.query("SELECT record_id, cluster_id FROM link_entities WHERE kind = 'person'"))


def test_run_rerun_and_decisions(store):
    people, truth = load_people(store)
    report = runs.run(store, "person")
    assert report.records == len(people) and report.cross_node_clusters > 0
    first = clusters(store)
    assert pair_scores(truth, first)["f1"] >= 0.95
    # stable: a re-run gives the same cluster ids
    runs.run(store, "person")
    assert clusters(store) == first
    # pick a matched pair and split it; pick two different people and confirm them
    matched = runs.review_list(store, "person", low=0.9, limit=1000)
    pair = next(m for m in matched if m["same_cluster"])
    a, b = pair["record_l"], pair["record_r"]
    assert pair["evidence"] and pair["match_probability"] >= 0.9
    runs.decide(store, "person", a, b, "split", "analyst-1", "different people: checked the file")
    after_split = clusters(store)
    assert after_split[a] != after_split[b]
    c, d = sorted({r for r in first if first[r] != first[a]})[:1][0], a
    runs.decide(store, "person", c, d, "confirm", "analyst-1", "same person per informant")
    assert clusters(store)[c] == clusters(store)[d]
    # both decisions survive a full re-run (re-training included)
    runs.run(store, "person")
    final = clusters(store)
    assert final[a] != final[b] and final[c] == final[d]
    listed = {(m["record_l"], m["record_r"]): m["decision"] for m in runs.review_list(store, "person", low=0.0,
                                                                                       limit=10_000)}
    assert listed[tuple(sorted((a, b)))] == "split"


def test_bad_decisions_are_refused(store):
    load_people(store, entities=40)
    runs.run(store, "person")
    some = store.scalar("SELECT id FROM person LIMIT 1")
    with pytest.raises(UsageError):
        runs.decide(store, "person", some, "nope:person:1", "split", "a")
    with pytest.raises(UsageError):
        runs.decide(store, "person", some, some, "confirm", "a")
    with pytest.raises(UsageError):
        runs.decide(store, "person", some, some + "x", "merge", "a")


def test_nothing_to_resolve(store):
    with pytest.raises(UsageError) as err:
        runs.run(store, "vehicle")
    assert "no vehicle records" in str(err.value)
