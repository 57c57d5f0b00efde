"""The analysis pages in a real browser (issue 16 item 8), English and Spanish: each view draws its picture
(flows, map or graph) and its tables from the analyze API, with the columns and category values in the
reader's language, and a row drills down to the records or entity behind it. Axe, console errors and
requests leaving the node are checked for every view in test_web_pages.py's all-pages loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web_support import PURPOSE, chromium, enter, go, ready, two_nodes, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with two_nodes(tmp_path_factory.mktemp("webanalysis")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def _api(pg: Any, path: str) -> Any:
    return pg.evaluate("""async (p) => { const r = await fetch(p, {headers: {Authorization: 'Bearer ' + P.token}});
        return r.json(); }""", path)


def _headers(pg: Any, table: str) -> list[str]:
    return [h.strip() for h in pg.locator(f"section[aria-labelledby='h-{table}'] th").all_inner_texts()]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_analysis_views_draw_and_drill_down(browser, server, lang: str) -> None:  # type: ignore[no-untyped-def]
    es = lang == "es"
    with watched_page(browser, server, console_errors=True) as pg:
        enter(pg, "analyst", lang)
        go(pg, "#/analysis/corridors")
        assert "propósito" in pg.inner_text("#an-status") if es else "purpose" in pg.inner_text("#an-status")
        pg.fill("#purpose", PURPOSE)
        pg.wait_for_selector("section[aria-labelledby='h-flows']", timeout=120_000)
        ready(pg)
        q = f"/api/v1/analytics/corridors?purpose={PURPOSE}"
        flows = _api(pg, q)["tables"]["flows"]
        # the Sankey: one band per (origin, crossing) and (crossing, destination) pair with kilograms
        pairs = {(r["origin"], r["crossing"]) for r in flows["rows"] if r["kg"]} | {
            (r["crossing"], r["destination"]) for r in flows["rows"] if r["kg"]}
        assert pg.locator("svg.sankey path").count() == len(pairs) > 0
        assert ("Origen" if es else "Origin") in _headers(pg, "flows")
        assert pg.locator("section[aria-labelledby='h-flows'] tbody tr").count() == min(200, flows["total"])
        # drill-down: a port's seizures in the row's month, as many as the row counts
        port = _api(pg, q)["tables"]["ports"]["rows"][0]
        row = pg.locator("section[aria-labelledby='h-ports'] tbody tr").first
        row.focus()
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#an-drill a.rec", timeout=60_000)
        assert pg.locator("#an-drill a.rec").count() == port["events"] > 0

        go(pg, "#/analysis/hotspots")
        pg.wait_for_selector("section[aria-labelledby='h-cells']", timeout=120_000)
        cells = _api(pg, f"/api/v1/analytics/hotspots?purpose={PURPOSE}")["tables"]["cells"]["rows"]
        coarsest = min(c["resolution"] for c in cells if c["events"] > 0)
        shown = sorted((c for c in cells if c["events"] > 0 and c["resolution"] == coarsest), key=lambda c: -(c["gi_z"] or 0))
        rows = pg.locator("section[aria-labelledby='h-cells'] tbody tr")
        # every cell with events at one resolution (the coarsest first, a selector for the others), hottest first
        assert rows.count() == len(shown) > 0
        assert pg.locator("#an-res option").count() == len({c["resolution"] for c in cells if c["events"] > 0})
        assert ("Lugar" if es else "Place") in _headers(pg, "cells")
        assert shown[0]["place"] in rows.first.inner_text()
        if shown[0]["hotspot"] == "not_significant":
            assert ("no significativo" if es else "not significant") in rows.first.inner_text().lower()
        # drill-down: the seizures inside the cell, each a link to its entity; as many as the API finds there
        seizure = shown[0]["cell"]
        rows.first.focus()
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#an-drill a.rec", timeout=60_000)
        assert pg.locator("#an-drill a.rec").first.get_attribute("href").startswith("#/entity/")
        assert seizure and pg.locator("#an-drill a.rec").count() >= 1

        go(pg, "#/analysis/firearms")
        pg.wait_for_selector("section[aria-labelledby='h-state_flows']", timeout=120_000)
        flows_ff = _api(pg, f"/api/v1/analytics/firearms?purpose={PURPOSE}")["tables"]["state_flows"]["rows"]
        assert pg.locator("svg.sankey path").count() == len({(r["purchase_state"], r["recovery_state"]) for r in flows_ff if r["traces"]}) > 0
        assert ("Estado de compra" if es else "Purchase state") in _headers(pg, "state_flows")
        assert pg.locator("#an-bars").count() == 1  # time to crime: the day ranges, not the quantiles
        ttc = _api(pg, f"/api/v1/analytics/firearms?purpose={PURPOSE}")["tables"]["time_to_crime"]["rows"]
        labels = pg.evaluate("() => Chart.getChart('an-bars').data.labels")
        assert labels == [r["bucket"] for r in ttc if not r["bucket"].startswith("q")] and labels
        # drill-down: the traces behind the first purchase state → recovery state row, as many as it counts
        top = flows_ff[0]
        row = pg.locator("section[aria-labelledby='h-state_flows'] tbody tr").first
        row.focus()
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#an-drill a.rec", timeout=60_000)
        assert pg.locator("#an-drill a.rec").count() == top["traces"]
        assert f"{top['purchase_state']} → {top['recovery_state']}" in pg.inner_text("#an-drill h2")

        go(pg, "#/analysis/players")
        pg.wait_for_selector("section[aria-labelledby='h-players']", timeout=120_000)
        players = _api(pg, f"/api/v1/analytics/networks?purpose={PURPOSE}")["tables"]["players"]["rows"]
        assert pg.evaluate("() => document.querySelectorAll('#an-graph canvas').length") > 0
        first = pg.locator("section[aria-labelledby='h-players'] tbody tr").first
        if players[0]["kind"] == "person":  # coded values through the model's labels
            assert ("Persona" if es else "Person") in first.inner_text()
        first.focus()
        pg.keyboard.press("Enter")  # opens the entity behind the row
        pg.wait_for_function("(id) => decodeURIComponent(location.hash) === '#/entity/' + id", arg=players[0]["entity"])
        ready(pg)

        go(pg, "#/analysis/chains")  # no precursor shipments on this node: said, not asked
        pg.wait_for_selector("#an-status:not(.hidden)")
        assert ("aún no tiene registros" if es else "holds no") in pg.inner_text("#an-status")
