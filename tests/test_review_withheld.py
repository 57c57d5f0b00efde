"""An outside reviewer's attacks on WITHHELD (review7): what a partner can learn about records and fields the
agreement does not share, through the kinds it does share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from puente.node import Node
from puente.share.export import export_bundle
from puente.share.receive import import_bundle
from tests.share_support import agreement_doc, ingest, install

API = Path(__file__).parent / "data" / "api"


@pytest.fixture
def pair(make_node: Any) -> tuple[Node, Node]:
    us, mx = make_node("us-hsi", "US"), make_node("mx-fgr", "MX")
    for name, profile in (("us_seizures.csv", "seizure-us"), ("us_persons.csv", "person-us"),
                          ("us_orgs.csv", "organization-us"), ("us_vehicles.csv", "vehicle-us"),
                          ("us_links.csv", "link-us")):
        ingest(us, API / name, profile)
    return us, mx


LINKS_KEPT = {"fields": {f: "keep" for f in ("from_kind", "from_ref", "to_kind", "to_ref", "role", "from_id", "to_id")}}


def _share_links(us: Node, mx: Node) -> tuple[set[str], list[tuple[Any, ...]], set[str]]:
    """Seizures: fentanyl only, case numbers pseudonymized; organizations: not shared; links: every field kept.
    A link whose end is a record the partner does not receive (a methamphetamine seizure, an organization)
    tells it that the record exists, its case number in clear, and who is tied to it; and a link to a shared
    seizure undoes the seizure's pseudonym (to_ref is the raw case number beside to_id)."""
    kinds = {"seizure": {"records": [{"field": "drug", "in": ["fentanyl"]}],
                         "fields": {"drug": "keep", "source_id": "pseudonymize"}},
             "person": {"fields": {"nationality": "keep"}},
             "vehicle": {"fields": {"make": "keep"}},
             "link": LINKS_KEPT}
    install(us, mx, agreement_doc(us, mx, kinds))
    with us.open_store() as store:
        data = export_bundle(us, store, mx.name, actor="test")
    with mx.open_store() as store:
        import_bundle(mx, store, data, actor="test")
        shared = {r[0] for k in ("seizure", "person", "vehicle")
                  for r in store.query(f"SELECT id FROM {k} WHERE owner_node = 'us-hsi'")}
        links = store.query("SELECT from_id, to_id, from_ref, to_ref FROM link WHERE owner_node = 'us-hsi'")
        refs = {r[0] for r in store.query("SELECT source_id FROM seizure WHERE owner_node = 'us-hsi'")}
    return shared, links, refs


OPEN = ("open hole (review7): a shared link kind carries its ends' ids and case numbers whatever the agreement "
        "decides for the records at those ends; the fix (filter links by their ends' grants, give from_ref/to_ref "
        "the rule of the end kind's source_id, in bundles and the partner's API view) is a share-design decision")



def test_links_do_not_reveal_records_the_agreement_withholds(pair: tuple[Node, Node]) -> None:
    shared, links, _ = _share_links(*pair)
    assert shared and links
    dangling = [(f, t) for f, t, _, _ in links if f not in shared or t not in shared]
    assert not dangling, f"links to records the agreement withholds: {dangling}"



def test_links_do_not_undo_a_pseudonymized_case_number(pair: tuple[Node, Node]) -> None:
    _, links, refs = _share_links(*pair)
    assert refs and all(r.startswith("ps:") for r in refs)  # the seizures themselves: pseudonyms
    raw_case_numbers = {r for _, _, fr, tr in links for r in (fr, tr) if r and r.startswith("US-S-")}
    assert not raw_case_numbers, f"case numbers the agreement pseudonymizes, in clear: {raw_case_numbers}"



def test_the_partners_api_view_of_links_has_the_same_hole(pair: tuple[Node, Node]) -> None:
    """The same agreement read over the API by the partner's account: links to a methamphetamine seizure and to
    an organization, neither of which the partner may read, with their case numbers."""
    from fastapi.testclient import TestClient

    from puente.api import auth
    from puente.api.app import create_app

    us, mx = pair
    kinds = {"seizure": {"records": [{"field": "drug", "in": ["fentanyl"]}], "fields": {"drug": "keep"}},
             "person": {"fields": {"nationality": "keep"}}, "link": LINKS_KEPT}
    install(us, mx, agreement_doc(us, mx, kinds))
    with us.open_store() as store:
        auth.add_user(store, "mx", "partner-node", None, partner=mx.name)
        token = auth.issue_token(store, "mx")
        every_link = store.scalar("SELECT COUNT(*) FROM link")
    with TestClient(create_app(us, rate_limit=0)) as client:
        head = {"Authorization": f"Bearer {token}"}
        readable = {r["id"] for kind in ("seizure", "person")
                    for r in client.get(f"/api/v1/records/{kind}?per_page=100", headers=head).json()["items"]}
        links = client.get("/api/v1/records/link?per_page=100", headers=head).json()["items"]
    assert readable and links and len(links) < every_link  # person-seizure links only (the fixture has 6 links)
    unseen = [ln for ln in links for end in ("from", "to") if ln[f"{end}_id"] not in readable]
    assert not unseen, f"links to records this partner may not read: {unseen}"


def test_a_dropped_field_cannot_be_recomputed_from_the_fields_derived_from_it(make_node: Any) -> None:
    """firearm_trace: recovery_date and time_to_crime_days kept, purchase_date not listed (so dropped). The
    agreement is accepted, and the partner recomputes every purchase date exactly."""
    import datetime as dt

    mx, us = make_node("mx-fgr", "MX"), make_node("us-hsi", "US")
    ingest(mx, API / "mx_traces.csv", "firearm_trace-mx")
    kinds = {"firearm_trace": {"fields": {"make": "keep", "recovery_date": "keep", "time_to_crime_days": "keep"}}}
    install(mx, us, agreement_doc(mx, us, kinds))  # accepted: nothing ties the derived field to its sources
    with mx.open_store() as store:
        truth = dict(store.query("SELECT id, purchase_date FROM firearm_trace WHERE purchase_date IS NOT NULL"))
        data = export_bundle(mx, store, us.name, actor="test")
    with us.open_store() as store:
        import_bundle(us, store, data, actor="test")
        got = store.query("SELECT id, recovery_date, time_to_crime_days FROM firearm_trace WHERE owner_node = 'mx-fgr'")
    recomputed = {i: r - dt.timedelta(days=int(d)) for i, r, d in got if d is not None}
    assert truth, "the fixture has purchase dates"
    assert not any(recomputed.get(i) == p for i, p in truth.items()), "purchase dates recomputed by the partner"


def test_corridor_flows_over_partner_records_are_logged(tmp_path: Path) -> None:
    """Every read of partner records with a purpose is in the access log and the audit log — /stats/monthly and
    /map/summary log their aggregates, but /map/flows (kilograms of partner seizures by port and place) did not."""
    from tests.api_seed import bearer, build_env

    client, tokens, us, _ = build_env(tmp_path)
    h = bearer(tokens["analyst"])
    with client:
        own = client.get("/api/v1/map/flows", headers=h).json()
        both = client.get("/api/v1/map/flows", headers=h, params={"purpose": "corridor review"}).json()
        assert sum(f["records"] for f in both) > sum(f["records"] for f in own)  # partner seizures are in it
        log = client.get("/api/v1/access-log", headers=h).json()
    assert [(e["action"], e["purpose"]) for e in log] == [("aggregate", "corridor review")]
    with us.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM audit_log WHERE reason LIKE 'api aggregate%'") == 1


def test_a_partner_nodes_aggregates_are_logged_like_its_record_reads(tmp_path: Path) -> None:
    """A partner node reading this node's records over the API is logged (`partner-pull`), but its monthly
    statistics, map summary and corridor flows of the same records were not: counts and kilograms by month,
    state and port left the node with no entry in the access log or the audit log."""
    from tests.api_seed import bearer, build_env

    client, tokens, _us, _ = build_env(tmp_path)
    h = bearer(tokens["partner-node"])
    with client:
        for route in ("/api/v1/stats/monthly", "/api/v1/stats/by-place", "/api/v1/map/summary", "/api/v1/map/flows"):
            answer = client.get(route, headers=h)
            assert answer.status_code == 200 and answer.json(), route
        log = client.get("/api/v1/access-log", headers=bearer(tokens["steward"])).json()
    assert [(e["username"], e["action"]) for e in log] == [("partner", "aggregate")] * 4


def test_a_coarsened_derived_field_beside_its_kept_sources_is_refused(make_node: Any) -> None:
    """quantity_kg rounded while quantity and unit are kept: the partner would compute the exact kg, so the
    agreement is refused with one line naming the field; rounding kg with the raw quantity withheld (the
    usual terms) is accepted."""
    from puente.errors import ConfigError
    from puente.share.agreement import Agreement

    mx, us = make_node("mx-fgr", "MX"), make_node("us-hsi", "US")
    broken = {"seizure": {"fields": {"quantity": "keep", "unit": "keep",
                                     "quantity_kg": {"transform": "round", "step": 1}}}}
    with pytest.raises(ConfigError, match=r"quantity_kg is round, but it is computed from quantity, unit"):
        Agreement(agreement_doc(mx, us, broken))
    usual = {"seizure": {"fields": {"drug": "keep", "quantity_kg": {"transform": "round", "step": 1}}}}
    assert Agreement(agreement_doc(mx, us, usual)).field_rule("seizure", "quantity_kg").transform == "round"
