"""A gun recorded by both nodes is one gun; a purchaser is one person (issue 13: firearms).

Known answers on tiny tables: the two agencies' records of one gun (serial misread, typo, an incomplete
trace) are counted once, and two namesakes who buy in different states, or whose birth dates conflict, are
two purchasers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from puente.analyze import firearms
from puente.engine import Engine, open_engine
from puente.link.resolve import births_conflict, cluster

TRACES = [  # id, serial, make, model, recovery day, trace status, purchase state, purchaser
    ("atf-1", "AB12345", "Glock", "19", "2021-03-01", "Completed", "AZ", "Carlos Johnson"),
    ("fgr-1", "A812345", "Glock", "19", "2021-03-01", None, None, None),  # B read as 8
    ("atf-2", "XK55901", "Colt", "M4", "2021-04-02", "Pending", None, None),  # no purchase known
    ("fgr-2", "XK5901", "Colt", "M4", "2021-04-02", None, None, None),  # a digit dropped
    ("atf-3", "ZZ10001", "Colt", "M4", "2021-04-02", "Completed", "TX", "CARLOS JOHNSON"),
    ("fgr-3", "QQ77777", "Colt", "M4", "2021-04-02", None, None, None),  # another gun, same day and model
    ("atf-4", "PP00001", "Glock", "17", "2021-05-01", "Completed", "AZ", "Carlos Johnson"),
    ("atf-5", "PP00002", "Glock", "17", "2021-05-01", "Completed", "TX", "Carlos Jonhson"),
    ("atf-6", "WJ611729", "S&W", "M&P9", "2021-03-04", "Completed", "NV", None),  # 2 and 7 swapped
    ("fgr-6", "WJ6611279", "S&W", "M&P9", "2021-03-04", None, None, None),  # a 6 doubled
    ("atf-7", "LE815221", "Colt", "M4", "2022-08-17", "Completed", "AZ", None),
    ("atf-8", "LE815221", "Colt", "Super", "2021-05-01", "Completed", "TX", None),  # the serial, on another gun
    ("atf-7x", "LE815221", "Colt", "M4", "2022-08-17", "Completed", "AZ", None),  # atf-7's trace sent twice
    ("atf-9", "GX40001", "Glock", "19", "2021-06-01", "Completed", "AZ", None),
    ("fgr-9", "GX4001", "Glock", "19", "2021-06-01", None, None, None),  # gun 9, a digit dropped
    ("atf-10", "GX40010", "Glock", "19", "2022-02-02", "Completed", "TX", None),  # gun 10: its serial is gun 9's,
    ("fgr-10", "GX40001", "Glock", "19", "2022-02-02", None, None, None),  # ATF's copy has two digits swapped
    ("atf-11", "LE378123", "Colt", "M4", "2022-09-30", "Completed", "TX", None),
    ("atf-12", "LE79523", "Colt", "M4", "2022-09-30", "Completed", "TX", None),
    ("fgr-10x", "LE379523", "Colt", "M4", "2022-09-30", None, None, None),  # gun 12 (a 3 added), 2 from atf-11
    ("fgr-11", "LE37823", "Colt", "M4", "2022-09-30", None, None, None),  # gun 11, a digit dropped
]


def _write_traces(path: Path) -> None:
    con = duckdb.connect(str(path))
    frame = pd.DataFrame(TRACES, columns=["id", "serial", "make", "model", "recovery_date", "trace_status",
                                          "purchase_state", "purchaser"])
    frame["recovery_date"] = pd.to_datetime(frame["recovery_date"])
    frame["purchase_date"] = pd.to_datetime(frame["purchase_state"].map(lambda s: "2020-01-01" if s else None))
    con.execute("CREATE TABLE firearm_trace AS SELECT * FROM frame")
    con.close()


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "store.duckdb"
    _write_traces(path)
    with open_engine("duckdb", f"duckdb://{path}") as e:
        yield e


def test_each_gun_is_counted_once_across_the_two_agencies(engine: Engine) -> None:
    dups = set(firearms.same_guns(engine)["dup_id"])
    # FGR's copies of guns 1, 2 and 6 repeat ATF's traces (gun 2's trace has no purchase; gun 6 has a slip in
    # each copy: two edits when a swap counts one); fgr-3 is another gun
    # two traces with one serial are two guns unless model and recovery day agree too (atf-7x repeats atf-7)
    # a recovery record is the gun of the trace recovered that day before any trace of its serial on another
    # day: fgr-10 (gun 9's serial) is gun 10's, so fgr-9's slip still finds gun 9 (found at 200,000); the
    # closest slips pair first: fgr-10x (read first) is one edit from atf-12, so it leaves atf-11 to fgr-11
    assert dups == {"fgr-1", "fgr-2", "fgr-6", "atf-7x", "fgr-9", "fgr-10", "fgr-10x", "fgr-11"}


def test_unlinked_purchaser_names_stay_apart_by_state(engine: Engine) -> None:
    keys = dict(zip(*firearms.purchaser_keys(engine).to_dict("list").values()))
    # without a linked person record, one name bought in two states is two purchasers
    assert keys["atf-1"] == keys["atf-4"] == "name:Carlos Johnson, AZ"
    assert keys["atf-3"] == "name:CARLOS JOHNSON, TX" and keys["atf-5"] == "name:Carlos Jonhson, TX"


def test_two_full_birth_dates_are_two_people_unless_one_slip_apart() -> None:
    assert births_conflict("1969-12-26", "1982-02-11")
    assert not births_conflict("1969-12-26", "1969-12-27")  # one digit
    assert not births_conflict("1965-03-01", "1956-03-01")  # two digits swapped
    assert births_conflict("1969-12-26", "1970-06-01")  # under two years apart, several digits: two people


def test_namesakes_are_not_chained_through_a_record_without_a_birth_date() -> None:
    # a (1969) – x (no date) – b (1982): x could be either namesake, so it is neither's; a2 is a's
    pairs = pd.DataFrame({"unique_id_l": ["a", "x", "a"], "unique_id_r": ["x", "b", "a2"],
                          "match_probability": [0.99, 0.98, 0.97]})
    births = {"a": "1969-12-26", "b": "1982-02-11"}
    clusters = cluster(["a", "b", "x", "a2"], pairs, 0.9, births=births)
    assert clusters["a"] == clusters["a2"] and len({clusters["a"], clusters["b"], clusters["x"]}) == 3
    assert len(set(cluster(["a", "b", "x", "a2"], pairs, 0.9).values())) == 1  # without the dates: one person
    # an analyst's confirm joins regardless
    confirmed = cluster(["a", "b", "x", "a2"], pairs, 0.9, confirms=[("a", "b")], births=births)
    assert len(set(confirmed.values())) == 1


def test_a_purchaser_row_is_a_person_and_a_bare_name_is_a_lead(tmp_path: Path) -> None:
    # atf-1 and atf-4 link person records that resolution made one person; atf-3/atf-5 name a purchaser only.
    # Issue 13 (fresh world 2203 at 60,000): "José Baker, AZ" grouped two straw purchasers and a stranger; the
    # name-only groups were the 2 of the top 20 purchasers that were not one person.
    path = tmp_path / "store.duckdb"
    _write_traces(path)
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE firearm_trace ADD COLUMN time_to_crime_days BIGINT")
    con.execute("ALTER TABLE firearm_trace ADD COLUMN dealer_ffl VARCHAR")
    con.execute("INSERT INTO firearm_trace (id, serial, make, model, recovery_date, trace_status, purchase_state, "
                "purchaser, purchase_date) VALUES ('atf-13', 'ZZ20002', 'Colt', 'M4', '2021-07-01', 'Completed', "
                "'TX', 'CARLOS JOHNSON', '2020-01-01')")  # a second gun bought under the name in TX
    con.execute("CREATE TABLE link (from_kind VARCHAR, from_id VARCHAR, to_kind VARCHAR, to_id VARCHAR, "
                "role VARCHAR)")
    con.execute("INSERT INTO link VALUES ('firearm_trace', 'atf-1', 'person', 'p-1', 'purchaser'), "
                "('firearm_trace', 'atf-4', 'person', 'p-2', 'purchaser')")
    con.execute("CREATE TABLE link_entities (kind VARCHAR, record_id VARCHAR, cluster_id VARCHAR)")
    con.execute("INSERT INTO link_entities VALUES ('person', 'p-1', 'E-1'), ('person', 'p-2', 'E-1')")
    con.close()
    with open_engine("duckdb", f"duckdb://{path}") as engine:
        people = firearms.purchasers(engine)
        names = firearms.purchaser_names(engine)
    assert people[["entity", "traces", "records"]].to_dict("records") == [
        {"entity": "E-1", "traces": 2, "records": "atf-1|atf-4"}]
    assert names[["entity", "traces", "records"]].to_dict("records") == [
        {"entity": "name:CARLOS JOHNSON, TX", "traces": 2, "records": "atf-13|atf-3"}]
