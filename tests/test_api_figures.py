"""The map's figures equal the export's (issue 16 item 1): the map draws at most the newest 5,000
seizures, so its record count and kilograms come from the server-side aggregate over every match;
that aggregate must agree with a CSV export of the same filters, for every filter and scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from api_seed import bearer, build_env

from puente.analyze.shifts import SHIFT_WINDOW
from puente.api.app import web_dir

PURPOSE = "Corridor analysis for case 2024-117"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    client, tokens, us, _mx = build_env(tmp_path_factory.mktemp("figures"))
    with client:
        yield client, tokens, us


FILTERS: list[dict[str, str]] = [
    {}, {"drug": "fentanyl"}, {"country": "MX"}, {"country": "US"},
    {"date_from": "2023-01-01", "date_to": "2023-12-31"},
]


@pytest.mark.parametrize("purpose", [None, PURPOSE])
@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_map_figures_equal_the_export(env, flt: dict[str, str], purpose: str | None) -> None:  # type: ignore[no-untyped-def]
    client, tokens, us = env
    h = bearer(tokens["analyst"])
    scope = {"purpose": purpose} if purpose else {}
    stats = client.get("/api/v1/stats/monthly", params={"kind": "seizure", **flt, **scope}, headers=h)
    assert stats.status_code == 200, stats.text
    export = client.get("/api/v1/records/seizure", params={"format": "csv", **flt, **scope}, headers=h)
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    records = sum(r["records"] for r in stats.json())
    kg = sum(r["kg"] or 0 for r in stats.json())
    partner = sum(r["records"] for r in stats.json() if r["owner"] != us.name)
    assert records == len(rows)
    assert kg == pytest.approx(sum(float(r["quantity_kg"] or 0) for r in rows), abs=1e-6)
    assert partner == sum(1 for r in rows if r["owner_node"] != us.name)
    if purpose and not flt:
        assert partner > 0  # the partner's records are in both figures
    # the map draws a page (here: 2 features) but its total is every match, like the export
    page = client.get("/api/v1/records/seizure", params={"format": "geojson", "per_page": 2, **flt, **scope}, headers=h)
    assert page.json()["total"] == len(rows)
    assert len(page.json()["features"]) == min(2, len(rows))


SUMMARY_FILTERS: list[dict[str, str]] = [
    *FILTERS, {"owner": "own"}, {"owner": "partner"}, {"q": "tijuana"}, {"admin1": "MX-02"},
    {"drug": "methamphetamine", "owner": "partner", "date_from": "2023-01-01"},
]


@pytest.mark.parametrize("purpose", [None, PURPOSE])
@pytest.mark.parametrize("flt", SUMMARY_FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_map_summary_equals_the_export(env, flt: dict[str, str], purpose: str | None) -> None:  # type: ignore[no-untyped-def]
    """/map/summary (the map's totals and H3 cells) counts every match of every filter the list takes, text
    search and owner included: records, kilograms and partner records equal the CSV export's."""
    client, tokens, us = env
    h = bearer(tokens["analyst"])
    scope = {"purpose": purpose} if purpose else {}
    export = client.get("/api/v1/records/seizure", params={"format": "csv", **flt, **scope}, headers=h)
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    res = client.get("/api/v1/map/summary", params={"bin": "always", "resolution": 3, **flt, **scope}, headers=h)
    assert res.status_code == 200, res.text
    body = res.json()
    totals = body["totals"]
    assert totals["records"] == len(rows)
    assert (totals["kg"] or 0) == pytest.approx(sum(float(r["quantity_kg"] or 0) for r in rows), abs=1e-6)
    assert totals["partner_records"] == sum(1 for r in rows if r["owner_node"] != us.name)
    located = [r for r in rows if r["place_lat"] and r["place_lon"]]
    assert totals["located"] == len(located)
    # the cells hold every located match once, each at the H3 cell of its coordinates
    assert body["binned"] and body["resolution"] == 3
    assert sum(c["records"] for c in body["cells"]) == len(located)
    assert sum(c["kg"] or 0 for c in body["cells"]) == pytest.approx(
        sum(float(r["quantity_kg"] or 0) for r in located), abs=1e-6)
    import h3

    want: dict[str, int] = {}
    for r in located:
        cell = h3.latlng_to_cell(float(r["place_lat"]), float(r["place_lon"]), 3)
        want[cell] = want.get(cell, 0) + 1
    assert {c["h3"]: c["records"] for c in body["cells"]} == want
    if flt.get("owner") == "partner" and purpose:
        assert totals["partner_records"] == totals["records"] > 0


def test_map_summary_counts_the_visible_box_and_bins_only_when_many(env) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _us = env
    h = bearer(tokens["analyst"])
    box = "-118,31,-108,34"  # Baja California, Sonora, Arizona's south
    body = client.get("/api/v1/map/summary", params={"bbox": box, "purpose": PURPOSE}, headers=h).json()
    listed = client.get("/api/v1/records/seizure", params={"bbox": box, "per_page": 1, "purpose": PURPOSE},
                        headers=h).json()["total"]
    assert body["totals"]["in_view"] == listed > 0
    assert body["totals"]["in_view"] < body["totals"]["records"]
    # few records: drawn one by one (no cells, no resolution); ``bin=always`` forces the cells
    assert body["binned"] is False and body["cells"] == [] and body["totals"]["records"] <= body["points_max"]
    coarse = client.get("/api/v1/map/summary", params={"bin": "always", "resolution": 2}, headers=h).json()
    fine = client.get("/api/v1/map/summary", params={"bin": "always", "resolution": 6}, headers=h).json()
    assert len(coarse["cells"]) < len(fine["cells"])  # the resolution follows the zoom
    assert all(len(c["boundary"]) >= 5 for c in fine["cells"])
    # ``within`` keeps the cells whose centre is in the box (the map's view and a margin); the totals stay whole
    near = client.get("/api/v1/map/summary", params={"bin": "always", "resolution": 6, "within": box}, headers=h).json()
    assert 0 < len(near["cells"]) < len(fine["cells"]) and near["totals"] == fine["totals"]
    assert all(-118 <= c["lon"] <= -108 and 31 <= c["lat"] <= 34 for c in near["cells"])
    assert {c["h3"] for c in near["cells"]} == {c["h3"] for c in fine["cells"] if -118 <= c["lon"] <= -108 and 31 <= c["lat"] <= 34}
    bad = client.get("/api/v1/map/summary", params={"bbox": "-200,1,2,3"}, headers=h)
    assert bad.status_code == 400 and "\n" not in bad.text


def test_the_map_takes_its_figures_from_the_aggregate() -> None:
    """The map page reads its totals and cells from /map/summary, with the binned note in English and Spanish
    (the browser test tests/test_web_map_scale.py checks the figures on screen)."""
    js = (web_dir() / "static" / "js" / "map.js").read_text(encoding="utf-8")
    assert '"/api/v1/map/summary"' in js and "map_binned" in js and "/api/v1/stats/monthly\", {kind: \"seizure\", drug" not in js
    strings = (web_dir() / "static" / "js" / "i18n.js").read_text(encoding="utf-8")
    assert strings.count("map_binned:") == 2 and strings.count("map_unlocated:") == 2  # English and Spanish


def test_the_hotspot_layer_asks_only_for_hot_cells(env) -> None:  # type: ignore[no-untyped-def]
    """``hot_only`` keeps the features the analysis calls hot, and no other (the map's hotspot layer)."""
    client, tokens, _us = env
    h = bearer(tokens["analyst"])
    full = client.get("/api/v1/analytics/hotspots", params={"limit": 1, "purpose": PURPOSE}, headers=h).json()
    hot = client.get("/api/v1/analytics/hotspots", params={"limit": 1, "purpose": PURPOSE, "hot_only": "true"},
                     headers=h).json()
    every = full["geojson"]["cells"]["features"]
    assert every, "the seeded nodes have hotspot cells"
    want = [f for f in every if f["properties"]["hotspot"] == "hot"]
    assert hot["geojson"]["cells"]["features"] == want
    assert len(want) < len(every)
    assert hot["tables"] == full["tables"]


def test_every_corridor_flow_drills_down_to_its_seizures(env) -> None:  # type: ignore[no-untyped-def]
    """``/analytics/corridors/flow`` (the dashboard's drill-down) finds, for every row of the flows, as many
    seizures as the row counts, whose kilograms add up to the row's; every seizure is behind exactly one flow;
    without a purpose it refuses."""
    client, tokens, _us = env
    h = bearer(tokens["analyst"])
    flows = client.get("/api/v1/analytics/corridors", params={"purpose": PURPOSE}, headers=h).json()["tables"]["flows"]
    assert flows["rows"] and flows["total"] == len(flows["rows"])
    seen: set[str] = set()
    for row in flows["rows"]:
        got = client.get("/api/v1/analytics/corridors/flow", headers=h, params={
            "purpose": PURPOSE, "at": row["period"], **{k: row[k] for k in ("origin", "crossing", "destination")}}).json()
        assert got["total"] == got["visible"] == len(got["items"]) == row["events"], row
        assert abs(sum(x["quantity_kg"] or 0 for x in got["items"]) - row["kg"]) < 1e-6
        ids = {x["id"] for x in got["items"]}
        assert not ids & seen  # a seizure is behind one flow only
        seen |= ids
    everything = client.get("/api/v1/records/seizure", params={"purpose": PURPOSE, "per_page": 1}, headers=h).json()
    assert len(seen) == everything["total"]
    assert client.get("/api/v1/analytics/corridors/flow", headers=h).status_code == 403
    # a route shift counts its monitor's window: ``shift`` matches SHIFT_WINDOW periods ending at ``at``
    keys = ("origin", "crossing", "destination")
    row = max(flows["rows"], key=lambda r: sum(1 for o in flows["rows"] if all(o[k] == r[k] for k in keys)))
    same = sorted((o for o in flows["rows"] if all(o[k] == row[k] for k in keys)), key=lambda o: o["period"])
    last = same[-1]
    periods = sorted({o["period"] for o in flows["rows"] if o["period"] <= last["period"]})[-SHIFT_WINDOW:]
    got = client.get("/api/v1/analytics/corridors/flow", headers=h, params={
        "purpose": PURPOSE, "at": last["period"], "shift": True, **{k: row[k] for k in keys}}).json()
    assert got["total"] == sum(o["events"] for o in same if o["period"] in periods)


def test_every_category_label_is_one_english_and_one_spanish_string() -> None:
    """The analysis tables' category labels (analyze/categories.yaml, shown on the analysis pages and exported
    as <col>_en/<col>_es): a comma inside an unquoted label once cut it in two ("Declaration cited at the lab
    (drum label")."""
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("puente.analyze").joinpath("categories.yaml").read_text("utf-8"))
    bad = {code: v for code, v in raw.items() if set(v) != {"en", "es"} or not all(isinstance(x, str) and x for x in v.values())}
    assert bad == {}
    assert raw["document"]["en"].endswith("(drum label, papers)")


def test_an_analysis_is_reused_until_the_data_version_changes(env) -> None:  # type: ignore[no-untyped-def]
    """Cached per data version (puente/store/versions.py): the same request reuses it; any committed change to
    the records (ingest, import, revocation, purge: each bumps the version) makes the next request run again."""
    from puente.store import versions

    client, tokens, _us = env
    h = bearer(tokens["analyst"])
    cache = client.app.state.ctx.extras.setdefault("analytics", {})
    ask = lambda: client.get("/api/v1/analytics/hotspots", params={"limit": 1, "purpose": PURPOSE}, headers=h)
    assert ask().status_code == 200
    before = {key for key in cache if key[0] == "hotspots"}
    assert ask().status_code == 200 and {key for key in cache if key[0] == "hotspots"} == before
    pool = client.app.state.ctx.pool  # the server's own connections (a second DuckDB handle would conflict)
    store = pool.acquire()
    try:
        with store.transaction():
            versions.bump(store, "test: a change to the records")
    finally:
        pool.release(store)
    assert ask().status_code == 200
    assert len({key for key in cache if key[0] == "hotspots"} - before) == 1
