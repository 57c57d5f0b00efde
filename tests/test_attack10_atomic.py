"""Attack10 (ATOMIC): a file whose identities collide with stored records of another agency.

A record's identity is its case number (or the profile's ``identity`` fields), and a changed row with a stored
identity is an *update* (a correction). Two agencies number their cases on their own: CBP's ``C-1`` and DEA's
``C-1`` are two seizures. Before, DEA's file replaced CBP's fentanyl seizure with its own methamphetamine one
(``updated 1``): CBP's record was gone from the store, nothing in quarantine. Now a row that would replace the
stored record of another named agency is quarantined with the reason (the stored record's agency, file and row),
on the row path and on the columnar path, DuckDB and PostgreSQL; a correction from the same agency (any case, any
spacing) still updates, and a record or row without an agency is not told apart (documented).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node

HEADER = "case_id,date,place,agency,drug,quantity,unit"


def _file(path: Path, agency: str, drug: str, ids: range, pad: int = 0, day: int = 2) -> Path:
    note = "x" * pad
    lines = [HEADER + (",notes" if pad else "")]
    lines += [f'C-{i},01/{day:02d}/2024,"Nogales, AZ",{agency},{drug},{1 + i % 40},kg' + (f",{note}" if pad else "")
              for i in ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ingest(node: Node, path: Path) -> Any:
    with node.open_store() as store:
        return ingest_file(node, store, path, get_profile("seizure-us", None))


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest, make_node: Any) -> Node:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    return make_node("us-a10", "US", url)


@pytest.mark.parametrize("path", ["row", "columnar"])
def test_another_agencys_case_numbers_do_not_replace_its_records(target: Node, tmp_path: Path, path: str) -> None:
    pad = 0 if path == "row" else 400  # ~ 2.3 MB: the columnar path (columnar_min_bytes 2 MB)
    rows = 40 if path == "row" else 5000
    first = _ingest(target, _file(tmp_path / "cbp.csv", "CBP", "fentanyl", range(rows), pad))
    assert first.stored == rows
    # DEA's file: half its case numbers are CBP's, half new
    dea = _file(tmp_path / "dea.csv", "DEA", "methamphetamine", range(rows // 2, rows + rows // 2), pad, day=9)
    assert (dea.stat().st_size >= 2_000_000) == (path == "columnar")
    report = _ingest(target, dea)
    assert report.balanced
    assert (report.stored, report.updated, report.quarantined) == (rows // 2, 0, rows // 2)
    with target.open_store() as store:
        cbp = store.query("SELECT COUNT(*), MIN(drug), MAX(drug) FROM seizure WHERE source_agency = 'CBP'")[0]
        assert tuple(cbp) == (rows, "fentanyl", "fentanyl")  # every CBP record as CBP stored it
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE source_agency = 'DEA'") == rows // 2
        reasons = store.query("SELECT reason_key, reason_en, reason_es, raw FROM quarantine ORDER BY source_row")
    assert len(reasons) == rows // 2
    key, en, es, raw = reasons[0]
    assert key == "identity_other_agency"
    assert "CBP" in en and "cbp.csv" in en and "another agency" in en
    assert "otra dependencia" in es
    assert raw.startswith(f"C-{rows // 2},")
    # re-ingest of DEA's file adds nothing, and quarantines nothing twice
    again = _ingest(target, dea)
    assert (again.stored, again.updated) == (0, 0) and again.balanced
    with target.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == rows // 2
        assert store.scalar("SELECT COUNT(*) FROM seizure") == rows + rows // 2


def test_a_correction_from_the_same_agency_still_updates(target: Node, tmp_path: Path) -> None:
    _ingest(target, _file(tmp_path / "cbp.csv", "CBP", "fentanyl", range(10)))
    report = _ingest(target, _file(tmp_path / "cbp-fix.csv", " cbp ", "fentanyl", range(5), day=3))
    assert (report.stored, report.updated, report.quarantined) == (0, 5, 0)
    with target.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE date = DATE '2024-01-03'") == 5
