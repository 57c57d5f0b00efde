"""Entity resolution never ends in an internal error on a kind with few records or empty columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from puente.cli import main
from puente.link import runs


@pytest.mark.parametrize("names", [["Acme SA de CV", "ACME S.A. DE C.V.", "Transportes del Norte", "Logistica Rio"],
                                   ["Acme"]])
def test_organizations_without_tax_ids_resolve(make_node, names, capsys):
    """A newcomer's organizations: names only, no tax id or country (all-empty columns used to reach
    DuckDB as INTEGER and fail inside Splink)."""
    node = make_node("us-test", "US")
    rows = [{"id": f"us-test:organization:{i}", "owner_node": "us-test", "name": n} for i, n in enumerate(names)]
    with node.open_store() as store:
        store.insert_arrow("organization", pa.Table.from_pylist(rows))
        report = runs.run(store, "organization")
        assert report.records == len(names)
        if len(names) > 1:  # the two spellings of Acme are one company, the others are not
            assert runs.cluster_of(store, "organization", rows[0]["id"]) == \
                runs.cluster_of(store, "organization", rows[1]["id"])
            assert report.clusters == 3
    # every kind from the CLI: the kinds without records are named as skipped, with the reason
    assert main(["--home", str(node.home), "link", "run"]) == 0
    out = capsys.readouterr().out
    assert "organization:" in out and "person: skipped (there are no person records to resolve)" in out


def test_export_entity_gives_entity_ids_with_members(make_node, tmp_path):
    import csv

    node = make_node("us-test", "US")
    names = ["Acme SA de CV", "ACME S.A. DE C.V.", "Transportes del Norte"]
    rows = [{"id": f"us-test:organization:{i}", "owner_node": "us-test", "name": n} for i, n in enumerate(names)]
    with node.open_store() as store:
        store.insert_arrow("organization", pa.Table.from_pylist(rows))
        runs.run(store, "organization")
    out = tmp_path / "entities.csv"
    assert main(["--home", str(node.home), "export", "entity", "--out", str(out)]) == 0
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["record_id"] for r in exported} == {r["id"] for r in rows}
    by_record = {r["record_id"]: r for r in exported}
    acme = by_record[rows[0]["id"]]
    assert acme["entity_id"] == by_record[rows[1]["id"]]["entity_id"] and acme["members"] == "2"
    assert by_record[rows[2]["id"]]["members"] == "1" and acme["kind"] == "organization"
