"""The real CBP statistics reproduce CBP's published fentanyl totals, on both stores."""

from __future__ import annotations

from puente.demo import cbp_file
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile


def test_cbp_fentanyl_totals_by_fiscal_year(node, store):  # type: ignore[no-untyped-def]
    report = ingest_file(node, store, cbp_file(), get_profile("cbp-seizure-stats"))
    assert report.rows_read == 10092 and report.stored == 10092 and report.balanced
    rows = store.query(
        "SELECT fiscal_year, SUM(pounds) FROM seizure_aggregate WHERE drug = 'fentanyl' "
        "GROUP BY fiscal_year ORDER BY fiscal_year"
    )
    assert [(int(fy), round(float(lbs))) for fy, lbs in rows] == [
        (2019, 2804), (2020, 4791), (2021, 11201), (2022, 14700)
    ]
    # every area of responsibility resolves to its headquarters
    assert store.scalar("SELECT COUNT(*) FROM seizure_aggregate WHERE aor_place_id IS NULL") == 0


def test_reingest_changes_nothing(node, store):  # type: ignore[no-untyped-def]
    profile = get_profile("cbp-seizure-stats")
    ingest_file(node, store, cbp_file(), profile)
    before = store.query("SELECT id, content_hash FROM seizure_aggregate ORDER BY id")
    again = ingest_file(node, store, cbp_file(), profile)
    assert again.duplicates == 10092 and again.stored == 0 and again.updated == 0
    assert store.query("SELECT id, content_hash FROM seizure_aggregate ORDER BY id") == before
