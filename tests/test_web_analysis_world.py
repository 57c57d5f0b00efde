"""The analysis pages over a simulated world that has what the hand-made fixtures lack: corridors through
ports of entry, spike alerts and precursor → lab chains (issue 16 items 8 and 13). In English and Spanish,
each view shows its rows; the figures on screen equal the API's and the tables `puente analyze all` exported
for the same world; a row drills down to the records behind it (as many as the row counts) and a record opens
its entity page; axe finds no critical or serious violation with the drill-down open.

With PUENTE_SCREENSHOTS=1 it writes docs/screenshots/analysis-<view>[-es].png from this world."""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import PURPOSE, axe, chromium, enter, go, ready, state_purpose, watched_page, world_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[str, Path]]:
    with world_server() as found:
        yield found


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def _api(pg: Any, path: str, params: dict[str, Any] | None = None) -> Any:
    return pg.evaluate("""async ([p, q]) => { const r = await fetch(p + '?' + new URLSearchParams(q),
        {headers: {Authorization: 'Bearer ' + P.token}}); return r.json(); }""", [path, {"purpose": PURPOSE, **(params or {})}])


def _exported(out: Path, name: str) -> list[dict[str, str]]:
    with (out / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _cells(pg: Any, table: str, rows: int | None = None) -> list[list[str]]:
    """The cells of a table's rows; with ``rows``, once the page shows that many (it renders after the section)."""
    if rows is not None:
        pg.wait_for_function("([t, n]) => document.querySelectorAll(`section[aria-labelledby='h-${t}'] tbody tr`).length === n",
                             arg=[table, rows], timeout=60_000)
    return list(pg.evaluate("""(t) => [...document.querySelectorAll(`section[aria-labelledby='h-${t}'] tbody tr`)]
        .map((tr) => [...tr.cells].map((td) => td.innerText.trim()))""", table))


def _shown_columns(columns: list[str]) -> list[str]:
    """The columns a table shows: without the map boundary and the _en/_es twins of a coded column."""
    return [c for c in columns if c != "boundary" and not (c[-3:] in ("_en", "_es") and c[:-3] in columns)]


def _num(pg: Any, value: Any, digits: int = 0) -> str:
    return str(pg.evaluate("([v, d]) => P.num(v, d)", [value, digits]))


def _key(value: Any) -> str:
    """A Sankey node's key as the page makes it (``String(v ?? "?")``)."""
    return "?" if value is None else str(value)


def _drill(pg: Any, table: str, index: int = 0) -> int:
    """Select a row by keyboard (focus, Enter) and wait for the records behind it; how many are listed."""
    pg.evaluate("() => { const d = document.getElementById('an-drill'); d.dataset.n = d.querySelectorAll('a.rec').length; "
                "d.querySelectorAll('a.rec').forEach((a) => a.remove()); }")
    row = pg.locator(f"section[aria-labelledby='h-{table}'] tbody tr").nth(index)
    row.focus()
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#an-drill a.rec", timeout=60_000)
    return int(pg.locator("#an-drill a.rec").count())


def _shoot(pg: Any, name: str, es: bool) -> None:
    if os.environ.get("PUENTE_SCREENSHOTS") == "1":
        SHOTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(SHOTS / f"analysis-{name}{'-es' if es else ''}.png"))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_alerts_chains_and_flows_on_screen_equal_the_api_and_the_export(browser, world, lang: str) -> None:  # type: ignore[no-untyped-def]
    server, out = world
    es = lang == "es"
    with watched_page(browser, server, console_errors=True) as pg:
        enter(pg, "analyst", lang)
        state_purpose(pg, PURPOSE)

        # spike alerts: every alert a row, its figures those of the API and the export; its evidence listed
        go(pg, "#/analysis/alerts")
        pg.wait_for_selector("section[aria-labelledby='h-alerts']", timeout=180_000)
        res = _api(pg, "/api/v1/analytics/alerts")["tables"]
        alerts, evidence = res["alerts"], res["evidence"]["rows"]
        exported = {r["alert_id"]: r for r in _exported(out, "alerts_alerts")}
        assert alerts["total"] == len(exported) == len(alerts["rows"]) > 0
        cols = _shown_columns(alerts["columns"])
        screen = _cells(pg, "alerts", min(200, alerts["total"]))
        assert len(screen) == min(200, alerts["total"])
        for row, cells in zip(alerts["rows"], screen):
            ex = exported[row["alert_id"]]
            assert cells[cols.index("count")] == _num(pg, row["count"]) == _num(pg, int(ex["count"]))
            assert cells[cols.index("expected")] == _num(pg, row["expected"], 1) == _num(pg, float(ex["expected"]), 1)
            assert cells[cols.index("name")] == row["name"] == ex["name"]
        first = alerts["rows"][0]
        behind = [e for e in evidence if e["alert_id"] == first["alert_id"]]
        assert len(behind) == first["count"] == sum(1 for e in _exported(out, "alerts_evidence") if e["alert_id"] == first["alert_id"])
        assert _drill(pg, "alerts") == len(behind)
        assert {a.split("/entity/")[1] for a in pg.eval_on_selector_all("#an-drill a.rec", "els => els.map((a) => decodeURIComponent(a.getAttribute('href')))")} == {e["id"] for e in behind}
        # the evidence's kind in the reader's language, as the export labels it (kind_en / kind_es)
        ev_cols, ev_export = _shown_columns(res["evidence"]["columns"]), _exported(out, "alerts_evidence")
        for row, ex, cells in zip(evidence, ev_export, _cells(pg, "evidence")):
            assert row["id"] == ex["id"] and cells[ev_cols.index("kind")] == ex["kind_es" if es else "kind_en"]
        assert axe(pg) == []
        _shoot(pg, "alerts", es)
        pg.locator("#an-drill a.rec").first.click()  # a record opens its entity page
        pg.wait_for_function("(ids) => ids.includes(decodeURIComponent(location.hash).slice('#/entity/'.length))",
                             arg=[e["id"] for e in behind])
        ready(pg)

        # precursor → lab chains: every documented chain a row and a band, the chemical in the reader's language
        go(pg, "#/analysis/chains")
        pg.wait_for_selector("section[aria-labelledby='h-chains']", timeout=180_000)
        chains = _api(pg, "/api/v1/analytics/precursors")["tables"]["chains"]
        exported_chains = _exported(out, "precursors_chains")
        assert chains["total"] == len(exported_chains) == len(chains["rows"]) > 0
        assert [r["shipment"] for r in chains["rows"]] == [r["shipment"] for r in exported_chains]
        path = ["chemical", "company_label", "person_label", "lab_ref"]
        pairs = {(i, _key(r[a]), _key(r[b])) for r in chains["rows"] for i, (a, b) in enumerate(itertools.pairwise(path))}
        screen = _cells(pg, "chains", len(chains["rows"]))
        assert pg.locator("svg.sankey path").count() == len(pairs)
        cols = _shown_columns(chains["columns"])
        assert len(screen) == len(chains["rows"])
        for row, ex, cells in zip(chains["rows"], exported_chains, screen):
            assert cells[cols.index("chemical")] == ex["chemical_es" if es else "chemical_en"]
            assert cells[cols.index("days")] == _num(pg, row["days"])
        assert axe(pg) == []
        _shoot(pg, "chains", es)
        row = pg.locator("section[aria-labelledby='h-chains'] tbody tr").first
        row.focus()
        pg.keyboard.press("Enter")  # the first record behind the chain (its shipment) opens
        pg.wait_for_function("(id) => decodeURIComponent(location.hash) === '#/entity/' + id", arg=chains["rows"][0]["shipment"])
        ready(pg)
        assert str(chains["rows"][0]["arrival_date"])[:10] in pg.inner_text("#page")  # the shipment's page

        # corridor flows: a flow's row lists its seizures, as many as it counts; a top corridor's add up to its kg
        go(pg, "#/analysis/corridors")
        pg.wait_for_selector("section[aria-labelledby='h-flows']", timeout=180_000)
        res = _api(pg, "/api/v1/analytics/corridors")["tables"]
        flows, top = res["flows"], res["top_kg"]["rows"]
        exported_flows = _exported(out, "corridors_flows")
        assert flows["total"] == len(exported_flows) > 200
        cols = _shown_columns(flows["columns"])
        screen = _cells(pg, "flows", 200)
        assert len(screen) == 200
        for row, ex, cells in zip(flows["rows"], exported_flows, screen):
            assert cells[cols.index("events")] == _num(pg, row["events"]) == _num(pg, int(ex["events"]))
            assert cells[cols.index("kg")] == _num(pg, row["kg"], 1) == _num(pg, float(ex["kg"]), 1)
        # a flow with a known crossing: the records behind it
        at = next(i for i, r in enumerate(flows["rows"][:200]) if r["crossing"] != "?" and r["events"] > 1)
        assert _drill(pg, "flows", at) == flows["rows"][at]["events"]
        assert _num(pg, flows["rows"][at]["events"]) in pg.inner_text("#an-drill h2")
        assert flows["rows"][at]["crossing"] in pg.inner_text("#an-drill h2")
        listed = _drill(pg, "top_kg", 0)
        assert listed == top[0]["events"] == int(_exported(out, "corridors_top_kg")[0]["events"])
        got = _api(pg, "/api/v1/analytics/corridors/flow", {k: top[0][k] for k in ("origin", "crossing", "destination")})
        assert got["total"] == len(got["items"]) == listed
        assert abs(sum(x["quantity_kg"] or 0 for x in got["items"]) - top[0]["kg"]) < 1e-6
        if res["shifts"]["rows"]:
            shift = res["shifts"]["rows"][0]
            assert _drill(pg, "shifts", 0) >= shift["count"]  # loads counted, the seizures of those loads listed
            assert _shown_columns(res["shifts"]["columns"]).count("level") == 1
            level = _exported(out, "corridors_shifts")[0]["level_es" if es else "level_en"]
            assert _cells(pg, "shifts")[0][_shown_columns(res["shifts"]["columns"]).index("level")] == level
        assert axe(pg) == []
        _shoot(pg, "corridors", es)
        # the other views with this world's data: drawn, axe-clean (and photographed)
        for view, table in (("hotspots", "cells"), ("firearms", "state_flows"), ("players", "players")):
            go(pg, f"#/analysis/{view}")
            pg.wait_for_selector(f"section[aria-labelledby='h-{table}'] tbody tr", timeout=180_000)
            assert axe(pg) == []
            _shoot(pg, view, es)
