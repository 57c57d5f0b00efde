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


def _three_organizations_resolved(make_node):  # type: ignore[no-untyped-def]
    node = make_node("us-test", "US")
    names = ["Acme SA de CV", "ACME S.A. DE C.V.", "Transportes del Norte"]
    rows = [{"id": f"us-test:organization:{i}", "owner_node": "us-test", "name": n} for i, n in enumerate(names)]
    with node.open_store() as store:
        store.insert_arrow("organization", pa.Table.from_pylist(rows))
        runs.run(store, "organization")
    return node, names, rows


def test_export_entity_gives_entity_ids_with_members(make_node, tmp_path):
    import csv

    node, _names, rows = _three_organizations_resolved(make_node)
    out = tmp_path / "entities.csv"
    assert main(["--home", str(node.home), "export", "entity", "--out", str(out)]) == 0
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["record_id"] for r in exported} == {r["id"] for r in rows}
    by_record = {r["record_id"]: r for r in exported}
    acme = by_record[rows[0]["id"]]
    assert acme["entity_id"] == by_record[rows[1]["id"]]["entity_id"] and acme["members"] == "2"
    assert by_record[rows[2]["id"]]["members"] == "1" and acme["kind"] == "organization"


def test_export_entity_as_ftm_gives_one_entity_per_cluster_with_its_referents(make_node, tmp_path):
    """FtM 4 statement entities: the resolved entity's id (its oldest record's FtM id), the other member
    records as ``referents`` (the ids `export organization --format ftm` gives them, as nomenklatura
    writes merges), every member's values, and the nodes as datasets."""
    import json

    from followthemoney import model as ftm_model

    node, names, rows = _three_organizations_resolved(make_node)
    with node.open_store() as store:
        acme_entity = runs.cluster_of(store, "organization", rows[0]["id"])
    out = tmp_path / "entities.ftm.json"
    assert main(["--home", str(node.home), "export", "entity", "--format", "ftm", "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    entities = [e for e in lines if e["schema"] != "Similar"]
    assert len(entities) == 2  # three records, two entities
    acme = next(e for e in entities if e["referents"])
    assert acme["id"] == acme_entity.replace(":", "-") == "us-test-organization-0" and acme["schema"] == "Company"
    assert acme["referents"] == ["us-test-organization-1"]
    assert sorted(acme["properties"]["name"]) == sorted(names[:2]) and acme["datasets"] == ["us_test"]
    other = next(e for e in entities if e is not acme)
    assert other["id"] == "us-test-organization-2" and other["referents"] == []
    assert other["properties"]["name"] == [names[2]]
    for entity in entities:  # valid FtM: the schema takes every property
        proxy = ftm_model.get_proxy(entity)
        assert proxy.get("name")


def test_export_entity_as_ftm_links_member_records_with_same_as(make_node, tmp_path):
    """FtM's "same as": one ``Similar`` entity per member record other than the entity's own, read back with
    followthemoney's own loader (cleaned, so an unknown schema or property would fail): the other Acme
    record is the Acme entity; the lone company has no link."""
    from followthemoney import EntityProxy
    from followthemoney.cli.util import path_entities

    node, _names, _rows = _three_organizations_resolved(make_node)
    out = tmp_path / "entities.ftm.json"
    assert main(["--home", str(node.home), "export", "entity", "--format", "ftm", "--out", str(out)]) == 0
    loaded = list(path_entities(out, EntityProxy, cleaned=False))
    same = [e for e in loaded if e.schema.name == "Similar"]
    assert len(same) == 1
    link = same[0]
    assert link.get("candidate") == ["us-test-organization-1"] and link.get("match") == ["us-test-organization-0"]
    assert link.get("matcher") == ["puente link run"] and "resolved entity" in link.first("criteria")
    ids = {e.id for e in loaded if e.schema.name != "Similar"}
    assert set(link.get("match")) <= ids  # the entity a link names is in the file
    assert len({e.id for e in loaded}) == len(loaded)  # ids unique


@pytest.mark.parametrize("people", [
    [{"given_names": "Ana", "surname1": "Ruiz"}],
    [{"given_names": "Ana", "surname1": "Ruiz"}, {"given_names": "Ana", "surname1": "Ruiz", "surname2": "Paz"}],
    [{"given_names": "Ana", "surname1": "Ruiz"}, {"given_names": "Luis", "surname1": "Soto"},
     {"given_names": "Eva", "surname1": "Paz", "curp": "PAEE800102MDFZVV01"}],
])
def test_a_newcomer_with_a_few_people_and_no_birth_dates(make_node, people, capsys):
    """A few person records without birth dates: no pair meets a deterministic rule (Splink estimated the prior as
    0) and an EM session fails part-way (leaving the model without comparisons): the run used to end in an
    internal error (exit 70). It resolves every record into an entity, and names the training steps it
    left out and why."""
    node = make_node("us-test", "US")
    rows = [{"id": f"us-test:person:{i}", "owner_node": "us-test", **p} for i, p in enumerate(people)]
    with node.open_store() as store:
        store.insert_arrow("person", pa.Table.from_pylist(rows))
    assert main(["--home", str(node.home), "link", "run", "--kind", "person"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert f"person: {len(people)} records" in out
    assert "training step skipped" in out and "prior from deterministic rules" in out
    with node.open_store() as store:
        entities = dict(store.query("SELECT record_id, cluster_id FROM link_entities WHERE kind = 'person'"))
    assert set(entities) == {r["id"] for r in rows}
