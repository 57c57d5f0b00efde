"""Published statistics (kind ``statistic``) and ``melt`` in profiles (issue 12).

The two built-in example profiles read files made in the shapes of two real CBP downloads
(tests/fixtures/statistics/): CBP encounters by state (long, eleven columns) and USBP monthly
apprehensions by sector (pipe-separated, wide: one column per sector, melted to one row per sector).
For each: every row is accounted for, the values are stored, and rows that differ only in a dimension
are distinct records (the identity names the dimensions), never conflicts.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from _puente_cli import invoke

from puente.ingest.melt import MeltSpec, melt_values, melted_headers
from puente.ingest.pipeline import IngestReport, ingest_file
from puente.ingest.profile import Profile, get_profile, load_all
from puente.model import load_model
from puente.model.types import CleanContext, Invalid, clean_map, clean_period, clean_year, period_bounds
from puente.node import Node
from puente.store.base import Store

DATA = Path(__file__).resolve().parent / "fixtures" / "statistics"
ENCOUNTERS = DATA / "cbp-encounters-state.csv"
SECTORS = DATA / "usbp-sector-apprehensions.psv"


def _account(report: IngestReport) -> tuple[int, ...]:
    assert report.balanced, report.summary()
    return (report.rows_read, report.stored, report.updated, report.conflicts, report.quarantined,
            report.duplicates)


# -- value types -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "period", "grain", "start", "end"), [
    ("FY2023", "FY2023", "fiscal_year", dt.date(2022, 10, 1), dt.date(2023, 9, 30)),
    ("FY 23", "FY2023", "fiscal_year", dt.date(2022, 10, 1), dt.date(2023, 9, 30)),
    ("2023 (FYTD)", "FY2023", "fiscal_year", dt.date(2022, 10, 1), dt.date(2023, 9, 30)),
    ("2023", "2023", "year", dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
    (2021, "2021", "year", dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
    ("Q1 2024", "2024-Q1", "quarter", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
    ("2023-T4", "2023-Q4", "quarter", dt.date(2023, 10, 1), dt.date(2023, 12, 31)),
    ("Feb 2024", "2024-02", "month", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
    ("octubre de 2023", "2023-10", "month", dt.date(2023, 10, 1), dt.date(2023, 10, 31)),
    ("12/2022", "2022-12", "month", dt.date(2022, 12, 1), dt.date(2022, 12, 31)),
    ("2023-10-05", "2023-10-05", "day", dt.date(2023, 10, 5), dt.date(2023, 10, 5)),
    (dt.date(2020, 3, 1), "2020-03-01", "day", dt.date(2020, 3, 1), dt.date(2020, 3, 1)),
])
def test_a_period_is_read_in_many_spellings_and_bounded(raw: object, period: str, grain: str, start: dt.date,
                                                        end: dt.date) -> None:
    assert clean_period(raw, CleanContext()) == period
    assert period_bounds(period) == (grain, start, end)


@pytest.mark.parametrize("raw", ["2023-13", "2023-02-30", "FY1776", "whenever", "Q5 2023", ""])
def test_what_is_not_a_period_is_invalid(raw: str) -> None:
    with pytest.raises(Invalid) as err:
        clean_period(raw, CleanContext())
    assert err.value.key == "bad_stat_period"


def test_years_and_dimension_maps() -> None:
    ctx = CleanContext()
    assert [clean_year(v, ctx) for v in ("2021", "FY2022", "FY23", "2023 (FYTD)", 2020)] == [2021, 2022, 2023, 2023,
                                                                                          2020]
    with pytest.raises(Invalid):
        clean_year("2023-10", ctx)
    # keys sorted, blanks dropped, the same map whatever the spelling
    assert clean_map("sector=Tucson; citizenship = MEXICO ;blank=", ctx) == '{"citizenship":"MEXICO","sector":"Tucson"}'
    assert clean_map('{"sector": "Tucson", "citizenship": "MEXICO"}', ctx) == clean_map(
        {"citizenship": "MEXICO", "sector": "Tucson"}, ctx)
    with pytest.raises(Invalid):
        clean_map("no pairs here", ctx)


# -- melt, the pure function -------------------------------------------------------------------------------
def test_melt_turns_one_row_into_one_row_per_column_before_mapping() -> None:
    spec = MeltSpec(columns={"Big Bend": "Big Bend Sector", "Yuma": "Yuma Sector"}, into=("sector", "value"))
    headers = ["Fiscal Year", "Big Bend", "Month", "Yuma", "Total"]
    assert melted_headers(headers, spec) == ["Fiscal Year", "Month", "Total", "sector", "value"]
    row = {"Fiscal Year": "2021", "Big Bend": "35", "Month": "OCT", "Yuma": "7", "Total": "42"}
    assert melt_values(row, spec) == [
        ("Big Bend", {"Fiscal Year": "2021", "Month": "OCT", "Total": "42", "sector": "Big Bend Sector", "value": "35"}),
        ("Yuma", {"Fiscal Year": "2021", "Month": "OCT", "Total": "42", "sector": "Yuma Sector", "value": "7"}),
    ]
    # an empty cell gives no row, unless asked for
    assert [c for c, _ in melt_values({**row, "Yuma": " "}, spec)] == ["Big Bend"]
    keep = MeltSpec(columns=spec.columns, into=spec.into, keep_empty=True)
    assert [c for c, _ in melt_values({**row, "Yuma": ""}, keep)] == ["Big Bend", "Yuma"]


# -- the built-in example profiles -------------------------------------------------------------------------
def test_cbp_encounters_by_state_every_row_accounted_and_no_silent_collision(node: Node, store: Store) -> None:
    profile = get_profile("cbp-encounters-state")
    assert "dimensions" in profile.identity
    report = ingest_file(node, store, ENCOUNTERS, profile)
    # 15 rows: 12 stored, a later copy of row 3 is a duplicate, a changed copy of row 4 a conflict, 'n/a' rejected
    assert _account(report) == (15, 12, 0, 1, 1, 1)
    with ENCOUNTERS.open(encoding="utf-8") as handle:
        source = list(csv.DictReader(handle))
    stored = store.query("SELECT source_row, value FROM statistic ORDER BY source_row")
    assert [(row, value) for row, value in stored] == [
        (i + 2, float(r["Encounter Count"].replace(",", ""))) for i, r in enumerate(source) if i + 2 in dict(stored)]
    assert {row for row, _ in stored} == {2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14}
    # the two El Paso rows differ only in the state: two records, not a conflict or an overwrite
    rows = store.query("SELECT value, dimensions FROM statistic WHERE place_id = 'AOR-EL_PASO_SECTOR' ORDER BY value")
    assert [(v, json.loads(d)["state"]) for v, d in rows] == [(410.0, "NM"), (2290.0, "TX")]
    # fiscal month -> calendar month; "2023 (FYTD)" is fiscal year 2023
    assert store.query(
        "SELECT period, period_grain, period_start, period_end, fiscal_year, month FROM statistic WHERE source_row = 2") == [
        ("2019-10", "month", dt.date(2019, 10, 1), dt.date(2019, 10, 31), 2020, 10)]
    assert store.scalar("SELECT period FROM statistic WHERE source_row = 13") == "2023-01"
    assert store.scalar("SELECT COUNT(DISTINCT measure || unit) FROM statistic") == 1
    dims = json.loads(store.scalar("SELECT dimensions FROM statistic WHERE source_row = 11"))
    assert dims == {"aor_abbv": "Buffalo", "citizenship": "CHINA, PEOPLES REPUBLIC OF", "demographic": "Single Adults",
                    "encounter_type": "Inadmissibles", "land_border_region": "Northern Land Border", "state": "NY",
                    "title_of_authority": "Title 8"}
    # places through the gazetteer: every AOR but "Other", which keeps its text (counted over the 14 rows read
    # clean, the duplicate and the conflict included)
    assert report.places_resolved == 13 and report.places_total == 14
    assert store.query("SELECT place_text, place_id FROM statistic WHERE place_id IS NULL") == [("Other", None)]
    quarantined = store.query("SELECT source_row, source_column, field, reason_key, other_row FROM quarantine "
                              "ORDER BY source_row")
    assert quarantined == [(9, "", "value", "bad_number", None), (16, "", None, "identity_conflict", 4)]
    # again: nothing changes, nothing is added to quarantine
    assert _account(ingest_file(node, store, ENCOUNTERS, profile)) == (15, 0, 0, 1, 1, 13)
    assert store.scalar("SELECT COUNT(*) FROM quarantine") == 2


def test_usbp_sectors_wide_psv_melted_every_cell_accounted(node: Node, store: Store) -> None:
    report = ingest_file(node, store, SECTORS, get_profile("usbp-sector-apprehensions"))
    # 3 month lines x 20 sectors, less one empty cell, plus one truncated line (one row, not melted)
    assert _account(report) == (60, 58, 0, 0, 2, 0) and report.empty_cells == 1
    lines = SECTORS.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("|")
    for number, line in enumerate(lines[1:4], start=2):
        cells = dict(zip(header, line.split("|")))
        stored = dict(store.query("SELECT place_text, value FROM statistic WHERE source_row = ?", [number]))
        expected = {f"{s} Sector": float(v) for s, v in cells.items() if s not in ("Fiscal Year", "Month", "Total")
                    and v.isdigit()}
        assert stored == expected
        assert sum(stored.values()) == float(cells["Total"])  # the file's own total: nothing lost
    assert store.scalar("SELECT COUNT(*) FROM statistic WHERE place_id NOT LIKE 'AOR-%_SECTOR' "
                        "OR place_id IS NULL") == 0
    assert store.query("SELECT DISTINCT period, fiscal_year, measure FROM statistic ORDER BY period") == [
        ("2020-10", 2021, "apprehensions"), ("2020-11", 2021, "apprehensions"), ("2020-12", 2021, "apprehensions")]
    # quarantine names the source line, and the melted column of a melted row
    assert store.query("SELECT source_row, source_column, field, reason_key FROM quarantine ORDER BY source_row") == [
        (3, "Ramey", "value", "bad_number"), (5, "", None, "wrong_column_count")]
    again = ingest_file(node, store, SECTORS, get_profile("usbp-sector-apprehensions"))
    assert _account(again) == (60, 0, 0, 0, 2, 58)
    assert store.scalar("SELECT COUNT(*) FROM quarantine") == 2


def test_the_quarantine_listing_names_the_melted_column(make_node) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-melt", "US")
    code, out, _err = invoke(node.home, "ingest", str(SECTORS), "-p", "usbp-sector-apprehensions")
    assert code == 0 and "rows read 60 = stored 58" in out and "empty cells of melted columns" in out
    code, out, _err = invoke(node.home, "quarantine", "--limit", "0")
    assert code == 0 and "3 (Ramey)" in out


def test_a_melt_column_missing_from_the_file_refuses_it_naming_file_profile_and_key(make_node,  # type: ignore[no-untyped-def]
                                                                                   tmp_path: Path) -> None:
    node = make_node("us-melt-miss", "US")
    path = tmp_path / "few.psv"
    path.write_text("Fiscal Year|Month|Big Bend|Del Rio\n2021|OCT|1|2\n", encoding="utf-8")
    code, _out, err = invoke(node.home, "ingest", str(path), "-p", "usbp-sector-apprehensions")
    assert code == 4 and "few.psv" in err and "usbp-sector-apprehensions" in err and "melt.columns" in err
    assert "'Yuma'" in err
    clash = tmp_path / "clash.psv"
    header = "Fiscal Year|Month|VALUE|" + "|".join(get_profile("usbp-sector-apprehensions").melt.columns)  # type: ignore[union-attr]
    clash.write_text(header + "\n" + "2021|OCT|9" + "|1" * 20 + "\n", encoding="utf-8")
    code, _out, err = invoke(node.home, "ingest", str(clash), "-p", "usbp-sector-apprehensions")
    assert code == 4 and "clash.psv" in err and "melt.into" in err and "'value'" in err
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM statistic") == 0


# -- melt and dimensions in profiles, checked when loaded ------------------------------------------------------
def test_a_node_profile_can_melt_into_dimensions(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-melt-dims", "US")
    (node.profiles_dir / "traces.yaml").write_text(
        "name: atf-mx-traces\nkind: statistic\ncountry: MX\n"
        "columns: {Estado: place, tipo: dimensions.weapon_type}\n"
        "defaults: {measure: firearm traces}\n"
        "identity: [measure, period, place, dimensions]\n"
        "melt: {columns: [Rifles, Pistols], into: [tipo, valor]}\n", encoding="utf-8")
    path = tmp_path / "traces.csv"
    path.write_text("Year,Estado,Rifles,Pistols\n2022,Sonora,120,340\n2022,Chihuahua,95,\n", encoding="utf-8")
    with node.open_store() as store:
        report = ingest_file(node, store, path, get_profile("atf-mx-traces", node.profiles_dir))
        assert _account(report) == (3, 3, 0, 0, 0, 0) and report.empty_cells == 1
        rows = store.query("SELECT place_text, place_admin1, dimensions, value, period FROM statistic ORDER BY value")
    assert [(r[0], json.loads(r[2]), r[3], r[4]) for r in rows] == [
        ("Chihuahua", {"weapon_type": "Rifles"}, 95.0, "2022"), ("Sonora", {"weapon_type": "Rifles"}, 120.0, "2022"),
        ("Sonora", {"weapon_type": "Pistols"}, 340.0, "2022")]


def test_years_as_wide_columns_melt_into_the_year(make_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """ATF's firearm traces for Mexico: one row per state, one column per year (YAML reads 2021 as a number)."""
    node = make_node("us-melt-years", "US")
    (node.profiles_dir / "atf.yaml").write_text(
        "name: atf-years\nkind: statistic\ncountry: MX\ncolumns: {State: place}\n"
        "defaults: {measure: firearms recovered and traced, unit: firearms}\nidentity: [measure, period, place]\n"
        "melt: {columns: [2021, 2022], into: [year, value]}\n", encoding="utf-8")
    path = tmp_path / "atf.csv"
    path.write_text("State,2021,2022\nSonora,1530,1422\nJalisco,1011,\n", encoding="utf-8")
    with node.open_store() as store:
        report = ingest_file(node, store, path, get_profile("atf-years", node.profiles_dir))
        assert _account(report) == (3, 3, 0, 0, 0, 0) and report.empty_cells == 1
        rows = store.query("SELECT place_text, period, period_grain, value FROM statistic ORDER BY place_text, period")
    assert rows == [("Jalisco", "2021", "year", 1011.0), ("Sonora", "2021", "year", 1530.0),
                    ("Sonora", "2022", "year", 1422.0)]


@pytest.mark.parametrize(("text", "entry", "reason"), [
    ("melt: {columns: [A], into: [place, value], sort: yes}", "melt.sort", "unknown key"),
    ("melt: {columns: [A], into: [value]}", "melt.into", "two different column names"),
    ("melt: {columns: [A], into: [value, Value]}", "melt.into", "two different column names"),
    ("melt: {columns: [], into: [place, value]}", "melt.columns", "at least one column"),
    ("melt: {columns: [A, A], into: [place, value]}", "melt.columns", "named twice"),
    ("melt: {columns: [A], into: [sector, value]}", "melt.into", "'sector' matches no field of statistic"),
    ("columns: {Citizenship: dimension.citizenship}", "columns.Citizenship", "not a field of statistic"),
])
def test_a_bad_melt_is_a_profile_error_naming_file_profile_and_key(make_node, text: str, entry: str,  # type: ignore[no-untyped-def]
                                                                   reason: str) -> None:
    node = make_node("us-melt-bad", "US")
    (node.profiles_dir / "wide.yaml").write_text(f"name: p\nkind: statistic\n{text}\n", encoding="utf-8")
    (error,) = load_all(node.profiles_dir).errors
    message = str(error)
    assert f"profile 'p' in {node.profiles_dir / 'wide.yaml'}: {entry}:" in message and reason in message, message


def test_dimensions_are_only_for_a_kind_with_a_map_field_and_extends_keeps_melt(make_node) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-melt-ext", "US")
    (node.profiles_dir / "p.yaml").write_text(
        "profiles:\n"
        "  - {name: bad, kind: seizure, columns: {Tipo: dimensions.kind}}\n"
        "  - {name: north, extends: usbp-sector-apprehensions, defaults: {measure: northern apprehensions}}\n",
        encoding="utf-8")
    loaded = load_all(node.profiles_dir)
    (error,) = loaded.errors
    assert "columns.Tipo" in str(error) and "not a field of seizure" in str(error)
    north = loaded.profiles["north"]
    assert north.melt == loaded.profiles["usbp-sector-apprehensions"].melt and north.defaults["unit"] == "count"


# -- item 8: one broken profile file does not break the others ------------------------------------------------
def test_an_unparseable_profile_file_is_named_and_the_others_still_list(make_node) -> None:  # type: ignore[no-untyped-def]
    node = make_node("us-broken-file", "US")
    (node.profiles_dir / "broken.yaml").write_text("name: broken\nkind: [seizure\n", encoding="utf-8")
    (node.profiles_dir / "latin.yaml").write_bytes(b"name: lat\xedn\nkind: seizure\n")
    (node.profiles_dir / "fine.yaml").write_text("name: fine\nextends: seizure-us\n", encoding="utf-8")
    code, out, err = invoke(node.home, "profiles")
    assert code == 3
    assert "fine" in out and "usbp-sector-apprehensions" in out and "cbp-encounters-state" in out
    assert "broken.yaml" in err and "latin.yaml" in err and "Traceback" not in err
    code, _out, _err = invoke(node.home, "ingest", str(ENCOUNTERS), "-p", "cbp-encounters-state")
    assert code == 0


# -- the model -------------------------------------------------------------------------------------------------
def test_the_statistic_kind_is_not_an_event_kind() -> None:
    model = load_model()
    kind = model.kind("statistic")
    assert "statistic" not in model.event_kinds
    assert {"measure", "value", "unit", "period", "place", "dimensions"} <= set(kind.fields)
    assert kind.fields["dimensions"].type == "map" and kind.fields["period"].type == "period"
    assert set(kind.require_any) == {"period", "fiscal_year", "year"}


# -- drug analytics ignore statistics --------------------------------------------------------------------------
def _all_analyses(node: Node) -> dict[str, object]:
    from puente.analyze.suite import ANALYSES, run_analysis, tables
    from puente.engine import open_engine

    out: dict[str, object] = {}
    with open_engine("duckdb", node.store_url) as engine:
        for name in ANALYSES:
            for table, frame in tables(run_analysis(name, engine)).items():
                out[f"{name}.{table}"] = frame
    return out


@pytest.mark.slow
def test_a_statistic_never_appears_in_drug_analytics(tmp_path: Path) -> None:
    """Every table of every analysis is the same before and after statistics are stored, even statistics
    that look like drug data (a fentanyl measure in pounds at a port, in the analysed months)."""
    from analyze_cases import assert_same
    from analyze_world import build

    from puente.demo import cbp_file

    node = Node.init(tmp_path / "node", "t", "US")
    with node.open_store() as store:
        build(store)
        ingest_file(node, store, cbp_file(), get_profile("cbp-seizure-stats"))
    before = _all_analyses(node)
    lookalike = tmp_path / "lookalike.csv"
    lookalike.write_text(
        "measure,value,unit,period,place,dimensions\n"
        + "".join(f"fentanyl seizures,{900 + m},lb,2021-{m:02d},Nogales POE,drug=fentanyl;port=Nogales\n"
                  for m in range(1, 13))
        + "".join(f"seizures,{50 + m},events,FY2021,{city},drug=fentanyl\n" for m, city in
                  enumerate(["Culiacán, Sin.", "Phoenix, AZ", "El Paso POE", "Denver"])), encoding="utf-8")
    with node.open_store() as store:
        generic = Profile(name="generic-statistic", kind="statistic", country="US")
        for path, profile in ((ENCOUNTERS, get_profile("cbp-encounters-state")),
                              (SECTORS, get_profile("usbp-sector-apprehensions")), (lookalike, generic)):
            assert ingest_file(node, store, path, profile).stored > 0
        assert store.scalar("SELECT COUNT(*) FROM statistic WHERE measure LIKE '%fentanyl%'") == 12
    after = _all_analyses(node)
    assert before.keys() == after.keys() and before
    for name, frame in before.items():
        assert_same(frame, after[name], name)  # type: ignore[arg-type]


def test_cbp_drug_statistics_are_unchanged_by_stored_statistics(tmp_path: Path) -> None:
    """The fast twin of the test above: the aggregate drug analytics (CBP trends and fentanyl share) read
    seizure statistics only, not the statistic kind stored beside them."""
    from analyze_cases import assert_same

    from puente.analyze.suite import run_analysis, tables
    from puente.demo import cbp_file
    from puente.engine import open_engine

    node = Node.init(tmp_path / "node", "t", "US")

    def cbp_tables() -> dict[str, object]:
        with open_engine("duckdb", node.store_url) as engine:
            return dict(tables(run_analysis("cbp", engine)))

    with node.open_store() as store:
        ingest_file(node, store, cbp_file(), get_profile("cbp-seizure-stats"))
    before = cbp_tables()
    with node.open_store() as store:
        for path, name in ((ENCOUNTERS, "cbp-encounters-state"), (SECTORS, "usbp-sector-apprehensions")):
            ingest_file(node, store, path, get_profile(name))
        assert store.scalar("SELECT COUNT(*) FROM statistic") == 70
    after = cbp_tables()
    assert before.keys() == after.keys() and before
    for name, frame in before.items():
        assert_same(frame, after[name], name)  # type: ignore[arg-type]
