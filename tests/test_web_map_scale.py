"""The map at scale, in a real browser (issue 16 item 1): with 100,000 seizures and no time limit, the
totals on screen equal the API's and a CSV export's of the same filters (no undercount), the drawing is H3
cells with a visible note, the cells follow the zoom, and "records in view" counts the visible box exactly."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from api_seed import PASSWORD, bearer, serve
from web_support import axe, chromium, enter, go, ready, watched_page

pytestmark = pytest.mark.slow
ROWS = 100_000
UNLOCATED = 700


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Iterator[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """A node holding 100,000 seizures (700 without a location), served over HTTP: (url, token, node name)."""
    from bench.api import seizure_table
    from puente.api.app import create_app
    from puente.api.auth import add_user, issue_token
    from puente.node import Node

    home = Path(tmp_path_factory.mktemp("mapscale")) / "us-big"
    node = Node.init(home, "us-big", "US")
    table = seizure_table(ROWS, node.name)
    gone = pa.array([i < UNLOCATED for i in range(ROWS)])
    for col in ("place_lat", "place_lon"):
        idx = table.schema.get_field_index(col)
        table = table.set_column(idx, col, pc.if_else(gone, pa.nulls(ROWS, pa.float64()), table.column(col)))
    with node.open_store() as store:
        with store.transaction():
            store.insert_arrow("seizure", table)
        add_user(store, "analyst", "analyst", PASSWORD)
        token = issue_token(store, "analyst")
    srv, thread, url = serve(create_app(node, rate_limit=0))
    try:
        yield url + "/", token, node.name
    finally:
        srv.should_exit = True
        thread.join(10)


def _get(url: str, token: str, path: str, **params: Any) -> Any:
    import httpx

    r = httpx.get(url.rstrip("/") + path, params=params, headers=bearer(token), timeout=120)
    assert r.status_code == 200, r.text
    return r


def _shown(pg: Any, selector: str) -> float:
    return float(re.sub(r"[^\d.]", "", pg.inner_text(selector)) or "nan")


@pytest.mark.parametrize("flt", [{}, {"drug": "fentanyl", "from": "2021-01", "to": "2023-06"}],
                         ids=["all-time", "fentanyl-2021-2023"])
def test_map_totals_equal_the_api_and_the_export_at_100k(big, flt: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    url, token, _name = big
    params: dict[str, str] = {}
    if "drug" in flt:
        params["drug"] = flt["drug"]
    if "from" in flt:
        params |= {"date_from": flt["from"] + "-01", "date_to": flt["to"] + "-30"}
    export = list(csv.DictReader(io.StringIO(_get(url, token, "/api/v1/records/seizure", format="csv", **params).text)))
    export_kg = sum(float(r["quantity_kg"] or 0) for r in export)
    stats = _get(url, token, "/api/v1/stats/monthly", kind="seizure", **params).json()
    summary = _get(url, token, "/api/v1/map/summary", resolution=3, **params).json()  # the map's zoom 5
    assert summary["totals"]["records"] == sum(r["records"] for r in stats) == len(export)
    assert summary["totals"]["kg"] == pytest.approx(export_kg, rel=1e-9)
    if not flt:
        assert len(export) == ROWS  # "all time" is every record, not the newest 5,000
    query = "?" + "&".join(f"{k}={v}" for k, v in flt.items()) if flt else ""
    with chromium() as browser, watched_page(browser, url, console_errors=True) as pg:
        enter(pg)
        if flt:
            go(pg, "#/map" + query)
        pg.wait_for_selector("#map-records")
        assert _shown(pg, "#map-records") == len(export)
        assert _shown(pg, "#map-kg") == round(export_kg)  # shown to the kilogram
        note = pg.inner_text("#map-summary")
        assert "H3 cells" in note
        if not flt:
            assert f"{UNLOCATED} records have no location" in note
        cells = pg.evaluate("() => { let n = 0; P.mapView().eachLayer((l) => { if (l instanceof L.Polygon && l.getTooltip()) n++; }); return n; }")
        assert cells == len(summary["cells"]) > 0
        assert axe(pg) == []


def test_cells_follow_the_zoom_and_the_view_is_counted_exactly(big) -> None:  # type: ignore[no-untyped-def]
    url, token, _name = big
    with chromium() as browser, watched_page(browser, url, console_errors=True) as pg:
        enter(pg)
        pg.wait_for_selector("#map-records")
        before = pg.inner_text("#map-summary")
        assert "resolution 3" in before
        drawn = pg.get_attribute("#map", "data-drawn")
        pg.evaluate("() => { P.mapView().setView([29.1, -110.9], 8); }")  # Hermosillo, Sonora
        pg.wait_for_function("(d) => document.getElementById('map').dataset.drawn !== d", arg=drawn, timeout=60_000)
        pg.wait_for_function("() => /resolution 5/.test(document.getElementById('map-summary').innerText)")
        box = pg.evaluate("""() => { const b = P.mapView().getBounds();
            return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(4)).join(','); }""")
        want = _get(url, token, "/api/v1/records/seizure", bbox=box, per_page=1).json()["total"]
        pg.wait_for_function("(w) => document.getElementById('in-view-count').innerText.replace(/\\D/g, '') === String(w)",
                             arg=want, timeout=60_000)
        assert 0 < want < ROWS
        listed = pg.locator("#map-list a.rec").count()
        assert listed == min(200, want)
        # Spanish: the same figures with the locale's separators, the note in Spanish
        pg.click("#app [data-lang=es]")
        ready(pg)
        pg.wait_for_selector("#map-records")
        assert "celdas H3" in pg.inner_text("#map-summary")
        assert axe(pg) == []
