"""The columnar ingest path gives what the simple row-by-row reference (tests/ingest_reference.py)
says, and what the row path writes: same stored values, ids, content hashes, row accounts,
quarantine rows with their reasons and field issues, on random CSV files (hypothesis).

Files mix good, bad and blank values, quoted cells with commas, quotes and newlines, headers the
model does not know, repeated and conflicting identities, short and long rows, and a second file
that corrects, repeats or conflicts with the first (updates and duplicates against the store).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ingest_reference import expected

from puente.errors import InputError
from puente.ingest.pipeline import IngestReport, ingest_file
from puente.ingest.profile import Profile, get_profile
from puente.model import load_model
from puente.node import Node
from puente.store.base import Store

EXAMPLES = int(os.environ.get("PUENTE_HYPOTHESIS_EXAMPLES", "6"))


@pytest.fixture(autouse=True, scope="module")
def _small_slices() -> Any:
    """Slices and batches of 4 rows, so the files here are written in several slices (1M-row files
    are written in slices of 100,000 source rows)."""
    from puente.ingest import columnar

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "_CHUNK", 4)
        yield

_COLUMNS: dict[str, dict[str, list[str]]] = {
    "seizure": {
        "case_id": ["EV-1", "EV-2", "EV-3", "", " ", "ev 4", "EV-1 "],
        "date": ["2023-01-17", "17/01/2023", "20230117", "31/02/2023", "", "no date", "12 de octubre de 2023",
                 "Oct 12, 2023", "01/13/2023"],
        "place": ["Culiacán", "culiacan sinaloa", "Tijuana, B.C.", "Maricopa County, Arizona", "Nowhere Town", "",
                  "  San  Diego ", "NOGALES"],
        "country": ["", "MX", "US", "Mexico", "xx", "usa"],
        "drug": ["fentanyl", "fentanilo", "cristal", "unknown-drug", "", "Cocaína"],
        "quantity": ["1.5", "2,5", "1,234", "-3", "abc", "", "100", "0.5", "1e3", "1e20", "0.000001", "12.75"],
        "unit": ["kg", "lb", "pills", "pastillas", "g", "parsecs", ""],
        "form": ["", "powder", "pills", "bogus"],
        "purity": ["", "50", "150", "x"],
        "port": ["", "San Ysidro", "Nogales", "nowhere port"],
        "notes": ["", "plain", "with, comma", 'a "quote"', "multi\nline", "it's", "back\\slash", "tab\there",
                  "  spaced   out  ", "ñandú", "x\u00a0y"],
        "Observación extra": ["", "x", 'q"uote', "é", "ctl\x01", "it's"],
    },
    "firearm_trace": {
        "trace_number": ["T-1", "T-2", "", "T-3"],
        "serial": ["ab-123", "XYZ 9", "", "1"],
        "recovery_date": ["2022-05-01", "2021-01-01", "", "bad"],
        "purchase_date": ["2021-06-01", "2022-06-01", "", "31/02/2020"],
        "recovery_place": ["Culiacán", "", "Zzz"],
        "recovery_country": ["", "MX", "qq"],
        "weapon_type": ["", "pistol", "rifle", "spoon"],
        "make": ["glock", "", "Colt"],
    },
    "person": {
        "given_names": ["JUAN CARLOS", "", "maría"],
        "surname1": ["DE LA CRUZ", "", "López"],
        "alias": ["", "El Chapo"],
        "curp": ["", "BADC800101HDFRRR09", "not-a-curp"],
        "birth_date": ["", "1980-01-01", "1980-13-45"],
        "nationality": ["", "MX", "Narnia"],
    },
    "link": {
        "from_kind": ["seizure", "person", "bogus", ""],
        "from_ref": ["EV-1", "P-1", ""],
        "to_kind": ["person", "vehicle", ""],
        "to_ref": ["P-1", "V-9", ""],
        "role": ["driver", "owner", "passenger", "boss"],
    },
}


@st.composite
def csv_file(draw: st.DrawFn, kind: str) -> str:
    columns = _COLUMNS[kind]
    headers = draw(st.permutations(list(columns)).map(lambda h: h[: max(2, len(h) - 1)]))
    if kind == "person" and "given_names" not in headers:
        headers = [*headers, "given_names"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(headers)
    rows = draw(st.lists(st.tuples(*(st.sampled_from(columns[h]) for h in headers)), min_size=0, max_size=25))
    for cells in rows:
        shape = draw(st.sampled_from(["ok"] * 12 + ["short", "long", "blank", "stray_quote", "trailing"]))
        if shape == "short":
            writer.writerow(cells[:-1])
        elif shape == "long":
            writer.writerow([*cells, "surplus"])
        elif shape == "blank":
            buffer.write("\n")
        elif shape == "stray_quote":
            buffer.write(",".join(cells).replace("\n", " ") + ',"oops\n')
        elif shape == "trailing":
            writer.writerow([*cells, ""])
        else:
            writer.writerow(cells)
    return buffer.getvalue()


def _profile(kind: str, variant: str) -> Profile:
    base = get_profile(f"{kind}-us" if variant != "mx" else f"{kind}-mx")
    if variant == "strict":
        return dataclasses.replace(base, strict=True)
    if variant == "identity" and kind == "seizure":
        return dataclasses.replace(base, identity=["date", "place"])
    return base


def _table(store: Store, table: str, order: str) -> list[tuple[Any, ...]]:
    skip = {"batch_id", "ingested_at", "created_at"}
    cols = [c for c in store.table_columns(table) if c not in skip]
    return store.query(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")


def _account(report: IngestReport) -> dict[str, int]:
    assert report.balanced, report.summary("en")
    return {"read": report.rows_read, "stored": report.stored, "updated": report.updated,
            "conflicts": report.conflicts, "quarantined": report.quarantined, "duplicates": report.duplicates}


def _check_against_reference(node: Node, store: Store, path: Path, profile: Profile, report: IngestReport,
                             stored_before: dict[str, str], quarantined_before: set[int]) -> None:
    ref = expected(node, path, profile, stored_before)
    assert _account(report) == ref.account
    kind = load_model().kind(profile.kind)
    cols = ["id", "content_hash", "source_row", *kind.data_columns(), "extra"]
    got = {r[0]: dict(zip(cols, r)) for r in store.query(
        f"SELECT {', '.join(cols)} FROM {kind.table} WHERE batch_id = ?", [report.batch_id])}
    assert got == {rid: {c: rec.get(c) for c in cols} for rid, rec in ref.records.items()}
    quarantine = store.query("SELECT source_row, field, reason_key, reason_en, reason_es, raw, other_row FROM quarantine "
                             "WHERE batch_id = ? ORDER BY source_row", [report.batch_id])
    assert quarantine == [q for q in ref.quarantine if q[0] not in quarantined_before]
    issues = store.query("SELECT record_id, field, source_row, reason_key, reason_en, reason_es, raw FROM field_issues "
                         "WHERE batch_id = ? ORDER BY source_row, record_id, field", [report.batch_id])
    assert issues == sorted(ref.issues, key=lambda i: (i[2], i[0], i[1]))
    assert report.field_issues == len(ref.issues)


def _run(kind: str, variant: str, first: str, second: str, again: bool) -> list[str]:
    """Both files through the columnar path (node a) and the row path (node b), each checked
    against the reference; the two stores must end equal. Returns the engines the files took."""
    engines = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nodes = []
        for name in ("a", "b"):
            node = Node.init(work / name, "us-test", "US", f"duckdb:///{work / name / 'store.duckdb'}")
            (node.home / "keys" / "id.key").write_bytes(b"fixed key for both nodes.......!")
            nodes.append(node)
        profile = _profile(kind, variant)
        files = [first, second] + ([second] if again else [])
        with nodes[0].open_store() as sa, nodes[1].open_store() as sb:
            for n, text in enumerate(files):
                path = work / f"file{min(n, 1)}.csv"
                path.write_text(text, encoding="utf-8", newline="")
                stored_before = dict(sa.query(f"SELECT id, content_hash FROM {load_model().kind(kind).table}"))
                file_hash = __import__("hashlib").sha256(path.read_bytes()).hexdigest()
                quarantined_before = {r[0] for r in sa.query("SELECT source_row FROM quarantine WHERE file_hash = ?",
                                                             [file_hash])}
                outcomes = []
                for node, store, engine in ((nodes[0], sa, "columnar"), (nodes[1], sb, "row")):
                    try:
                        outcomes.append(ingest_file(node, store, path, profile, engine=engine))
                    except InputError as exc:  # a file refused whole (a required column missing)
                        outcomes.append(str(exc))
                if isinstance(outcomes[0], str) or isinstance(outcomes[1], str):
                    assert outcomes[0] == outcomes[1]
                    engines.append("refused")
                    continue
                ra, rb = outcomes
                assert isinstance(ra, IngestReport) and isinstance(rb, IngestReport)
                engines.append(ra.engine)
                _check_against_reference(nodes[0], sa, path, profile, ra, stored_before, quarantined_before)
                assert _account(ra) == _account(rb)
                assert (ra.field_issues, ra.places_total, ra.places_resolved, ra.encoding, ra.unmatched_headers) == (
                    rb.field_issues, rb.places_total, rb.places_resolved, rb.encoding, rb.unmatched_headers)
                for table, order in ((kind, "id"), ("quarantine", "file_hash, source_row"),
                                     ("field_issues", "record_id, field")):
                    assert _table(sa, table, order) == _table(sb, table, order), table
    return engines


# no shrinking: an example takes seconds, and the failing file is printed whole
_settings = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                     phases=[Phase.explicit, Phase.reuse, Phase.generate])


@pytest.mark.slow
@_settings
@given(data=st.data(), variant=st.sampled_from(["us", "mx", "strict", "identity"]), again=st.booleans())
def test_seizures_columnar_equals_reference(data: st.DataObject, variant: str, again: bool) -> None:
    first = data.draw(csv_file("seizure"))
    second = data.draw(st.one_of(st.just(first), csv_file("seizure")))
    _run("seizure", variant, first, second, again)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["firearm_trace", "person", "link"])
@_settings
@given(data=st.data(), strict=st.booleans())
def test_other_kinds_columnar_equals_reference(kind: str, data: st.DataObject, strict: bool) -> None:
    first = data.draw(csv_file(kind))
    _run(kind, "strict" if strict else "us", first, data.draw(csv_file(kind)), False)


def test_a_file_written_in_slices_keeps_every_row_and_its_fate(tmp_path: Path) -> None:
    """Rows rejected, repeated, in conflict and good, across slices of 4 source rows (with a gap of
    rejected rows spanning a whole slice): the same table, quarantine and account as the reference."""
    head = "case_id,date,place,drug,quantity,unit\n"
    rows = [f"EV-{i},2023-01-{i % 28 + 1:02d},Culiacán,fentanyl,{i + 1}.5,kg\n" for i in range(30)]
    rows[3] = "EV-3,2023-01-04,Culiacán,fentanyl,abc,kg\n"
    rows[9:15] = ["EV-x,2023-01-04,Culiacán,no-drug,1,kg\n"] * 6  # a slice with no row to write
    rows[20] = rows[5]  # a duplicate in a later slice
    rows[25] = rows[6].replace("7.5", "8.5")  # a conflict in a later slice
    content = head + "".join(rows)
    assert _run("seizure", "us", content, content, False) == ["columnar", "columnar"]
    assert _run("seizure", "us", content, head + "".join(rows[::-1]), True)[0] == "columnar"


def test_a_clean_file_is_split_by_duckdb_and_a_broken_one_by_the_row_reader(tmp_path: Path) -> None:
    """The two producers of the columnar path are both exercised (and agree with the reference)."""
    good = "case_id,date,place,drug,quantity,unit,notes\nEV-1,2023-01-17,Culiacán,fentanyl,1.5,kg,\"a, b\"\n"
    broken = good + 'EV-2,2023-01-18,Tijuana,cocaine,2,kg,"open\nEV-3,2023-01-19,Tijuana,cocaine,2,kg,x\n'
    assert _run("seizure", "us", good, good, False) == ["columnar", "columnar"]
    assert _run("seizure", "us", broken, broken, False) == ["columnar-rows", "columnar-rows"]


@pytest.mark.slow
def test_a_fractional_pill_count_and_a_recovery_before_purchase(tmp_path: Path) -> None:
    """A derivation's rejection (no field named) and a derivation's issue (purchase date nulled)."""
    pills = ("case_id,date,drug,quantity,unit,purity\nEV-1,2023-01-17,fentanyl,1.5,pills,\n"
             "EV-2,2023-01-17,fentanyl,3,pills,\nEV-3,2023-01-17,fentanyl,0.5,pills,x\n")  # (a bad optional value too)
    assert _run("seizure", "us", pills, pills, False)[0] == "columnar"
    traces = "serial,recovery_date,purchase_date\nA1,2021-01-01,2022-01-01\nA2,2022-01-01,2021-01-01\n"
    assert _run("firearm_trace", "us", traces, traces, False)[0] == "columnar"
    assert _run("firearm_trace", "strict", traces, traces, False)[0] == "columnar"


def test_a_pill_count_beyond_bigint_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    """Found by hypothesis in CI: 1e20 pills overflowed the BIGINT pill count on both paths."""
    pills = "case_id,date,drug,quantity,unit\nEV-1,2023-01-17,fentanyl,1e20,pills\nEV-2,2023-01-17,fentanyl,3,pills\n"
    assert _run("seizure", "us", pills, pills, False)[0] == "columnar"
    with tempfile.TemporaryDirectory() as tmp:
        node = Node.init(Path(tmp) / "n", "us-test", "US", f"duckdb:///{Path(tmp) / 'n' / 'store.duckdb'}")
        path = Path(tmp) / "p.csv"
        path.write_text(pills, encoding="utf-8")
        with node.open_store() as store:
            report = ingest_file(node, store, path, get_profile("seizure-us"), engine="columnar")
            assert (report.stored, report.quarantined) == (1, 1)
            assert store.query("SELECT source_row, reason_key FROM quarantine") == [(2, "pill_count_out_of_range")]


def test_corrections_and_repeats_on_both_stores(node: Node, store: Store, tmp_path: Path) -> None:
    """On DuckDB and PostgreSQL: a second file correcting one record updates it, repeats are duplicates."""
    head = "case_id,date,place,drug,quantity,unit\n"
    rows = [f"EV-{i},2023-01-{i + 1:02d},Culiacán,fentanyl,{i + 1}.5,kg\n" for i in range(5)]
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(head + "".join(rows), encoding="utf-8")
    second.write_text(head + "".join(rows[:4]) + "EV-4,2023-01-05,Culiacán,fentanyl,9.0,kg\n", encoding="utf-8")
    profile = get_profile("seizure-us")
    report = ingest_file(node, store, first, profile, engine="columnar")
    assert (_account(report), report.engine) == ({"read": 5, "stored": 5, "updated": 0, "conflicts": 0,
                                                  "quarantined": 0, "duplicates": 0}, "columnar")
    report = ingest_file(node, store, second, profile, engine="columnar")
    assert _account(report) == {"read": 5, "stored": 0, "updated": 1, "conflicts": 0, "quarantined": 0,
                                "duplicates": 4}
    assert store.query("SELECT source_id, quantity, quantity_kg, source_file FROM seizure WHERE source_id = 'EV-4'") == [
        ("EV-4", 9.0, 9.0, "b.csv")]
    assert store.scalar("SELECT COUNT(*) FROM seizure") == 5
    assert store.scalar("SELECT id FROM seizure WHERE source_id = 'EV-0'") == node.record_id("seizure", "src\x1fEV-0")


def test_every_kind_declares_registered_derivations_over_its_own_columns() -> None:
    from puente.ingest.derive import REGISTRY, derivations

    model = load_model()
    declared = {name: kind.derive for name, kind in model.kinds.items() if kind.derive}
    assert declared["seizure"] == ("unit_quantity", "country_from_place")
    assert declared["link"] == ("link_ids",)
    for name, names in declared.items():
        columns = model.kind(name).data_columns()
        for d in derivations(names):
            assert set(d.writes) & set(columns), (name, d.name)  # it writes something the kind has
    with pytest.raises(ValueError, match="unknown derivation"):
        derivations(("no_such_rule",))
    assert set(REGISTRY) >= {"unit_quantity", "country_from_place", "aggregate_period", "time_to_crime", "link_ids"}
