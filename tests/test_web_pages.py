"""Every dashboard page in a real browser, in English and Spanish (issue 16): nothing requested outside the
node, no console errors, no critical or serious axe-core violations; the State filter, records in view,
shared URL filters applied to exports, the purpose kept for the session, withheld fields named, units,
a keyboard-only journey, a phone-width layout and the offline API reference.

Screenshots: with PUENTE_SCREENSHOTS=1 the all-pages test writes docs/screenshots/<page>[-es].png."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import (
    PAGES,
    PURPOSE,
    axe,
    chromium,
    enter,
    first_entity,
    go,
    login,
    ready,
    state_purpose,
    two_nodes,
    watched_page,
)

pytestmark = pytest.mark.browser
STATES_CSV = Path(__file__).parent / "data" / "web" / "us_seizures_states.csv"
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with two_nodes(tmp_path_factory.mktemp("webpages"), [(STATES_CSV, "seizure-us")]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    with watched_page(browser, server, console_errors=True) as pg:
        yield pg


def kpi(pg: Any) -> str:
    return str(pg.text_content("#map-records"))


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_page_passes_axe(browser, server, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Every page, as an analyst and as a steward, in English and Spanish: 0 critical and 0 serious axe
    violations, no console error, nothing requested outside the node."""
    found: dict[str, list[dict[str, Any]]] = {}
    for user in ("analyst", "steward"):
        with watched_page(browser, server, console_errors=True) as pg:
            if lang != "en":
                pg.click(f"#login-view [data-lang={lang}]")
            found[f"{user} login"] = axe(pg)
            if os.environ.get("PUENTE_SCREENSHOTS") == "1" and user == "analyst":
                SHOTS.mkdir(exist_ok=True)
                pg.screenshot(path=str(SHOTS / ("login" + ("-es" if lang == "es" else "") + ".png")))
            enter(pg, user, lang)
            state_purpose(pg, PURPOSE)
            for name in [*PAGES, "entity/" + first_entity(pg)]:
                go(pg, f"#/{name}")
                pg.wait_for_timeout(300)  # charts and the network settle
                found[f"{user} {name}"] = axe(pg)
                if os.environ.get("PUENTE_SCREENSHOTS") == "1" and user == ("steward" if name in ("audit", "sharing") else "analyst"):
                    SHOTS.mkdir(exist_ok=True)
                    base = "entity" if name.startswith("entity/") else name.replace("/", "-")
                    # the users page is an admin's (see the steward and admin test); the analysis views are
                    # photographed with a simulated world's data (test_web_analysis_world.py)
                    if name not in ("entity", "users") and not name.startswith("analysis/"):
                        pg.screenshot(path=str(SHOTS / (base + ("-es" if lang == "es" else "") + ".png")))
    bad = {k: v for k, v in found.items() if v}
    assert bad == {}, bad
    assert len(found) == 2 * (len(PAGES) + 2)


@pytest.mark.slow
def test_state_filter_uses_the_gazetteer_place_id(page) -> None:  # type: ignore[no-untyped-def]
    """Michoacán's records are stored as "Michoacán de Ocampo": the State list gives the place id, and the
    map's totals equal the API's for that id."""
    enter(page)
    page.select_option("#f-admin1", "MX-16")
    page.click("#f-apply")
    page.wait_for_function("() => location.hash.includes('admin1=MX-16')")
    ready(page)
    page.wait_for_function("() => document.getElementById('map-records').textContent === '3'")
    assert page.text_content("#map-kg") == "44"  # 30 + 12 + 2 kg
    for state, count in (("MX-05", "2"), ("MX-09", "2")):
        page.select_option("#f-admin1", state)
        page.click("#f-apply")
        page.wait_for_function("(n) => document.getElementById('map-records').textContent === n", arg=count)
    labels = page.locator("#f-admin1 option").all_text_contents()
    assert "Michoacán de Ocampo" in labels and "Ciudad de México" in labels and "Distrito Federal" not in labels


@pytest.mark.slow
def test_records_in_view_follow_pan_and_zoom(page) -> None:  # type: ignore[no-untyped-def]
    enter(page)
    everything = int(kpi(page).replace(",", ""))
    page.evaluate("() => { P.mapView().setView([30, -100], 3); }")  # the whole area: every record is in view
    page.wait_for_function("(n) => document.getElementById('in-view-count').textContent === String(n)", arg=everything)
    # zoom onto central Mexico (Michoacán, Ciudad de México): fewer records in view, the total is unchanged
    page.evaluate("() => { P.mapView().setView([19.5, -100.5], 7); }")
    page.wait_for_function("(n) => { const t = document.getElementById('in-view-count').textContent; "
                           "return /\\d/.test(t) && +t.replace(/,/g, '') < n; }", arg=everything)
    zoomed = int(page.text_content("#in-view-count").replace(",", ""))
    assert 0 < zoomed < everything
    listed = page.locator("#map-list .rec").all_text_contents()
    assert len(listed) == zoomed and not any("San Diego" in x or "Tijuana" in x for x in listed)
    assert int(kpi(page).replace(",", "")) == everything
    # ports carry their names once zoomed in far enough to read them, not at country scale
    page.evaluate("() => { P.mapView().setView([27.5, -104], 5); }")
    page.wait_for_function("() => !document.getElementById('map').classList.contains('labels-on')")
    assert page.locator(".place-label").count() > 0 and page.locator(".place-label:visible").count() == 0
    page.evaluate("() => { P.mapView().setView([32.55, -117.0], 9); }")
    page.wait_for_selector(".place-label:visible >> text=San Ysidro")
    assert "Circle area: kilograms seized." in page.text_content(".legend")  # the legend explains size, not colour only


@pytest.mark.slow
def test_filters_live_in_the_url_and_follow_to_records_and_export(page, server) -> None:  # type: ignore[no-untyped-def]
    enter(page)
    page.select_option("#f-drug", "methamphetamine")
    page.fill("#f-from", "2024-03")
    page.click("#f-apply")
    page.wait_for_function("() => location.hash.includes('drug=methamphetamine') && location.hash.includes('from=2024-03')")
    ready(page)
    if os.environ.get("PUENTE_SCREENSHOTS") == "1":
        page.wait_for_selector("#map-list .rec")
        page.screenshot(path=str(SHOTS / "map-filtered.png"))
    shared = page.url
    page.click("a[data-page=records]")  # the sidebar keeps the filters
    ready(page)
    assert "drug=methamphetamine" in page.url
    page.wait_for_selector("#r-table tbody tr")
    column = page.locator("#r-table thead th").all_text_contents().index("Drug") + 1
    drugs = {t.strip() for t in page.locator(f"#r-table tbody td:nth-child({column})").all_text_contents()}
    with page.expect_download() as download:
        page.click("#x-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows and {r["drug"] for r in rows} == {"methamphetamine"} and min(r["date"] for r in rows) >= "2024-03-01"
    assert int(page.text_content("#r-meta b").replace(",", "")) == len(rows)
    assert drugs == {"Methamphetamine"}
    # the same URL opened in another tab shows the same view once logged in (a shared link)
    fresh = page.context.new_page()
    fresh.goto(shared)
    login(fresh)
    fresh.wait_for_selector("#app:not(.hidden)")
    fresh.wait_for_selector("#page[data-ready='1']", state="attached")
    assert fresh.input_value("#f-drug") == "methamphetamine" and fresh.input_value("#f-from") == "2024-03"
    fresh.close()


@pytest.mark.slow
def test_purpose_survives_a_reload_and_partner_fields_say_withheld(page) -> None:  # type: ignore[no-untyped-def]
    enter(page)
    page.fill("#purpose", PURPOSE)
    page.wait_for_function("() => document.getElementById('map-list').textContent.includes('mx-test')")
    page.reload()
    page.wait_for_selector("#app:not(.hidden)")
    ready(page)
    assert page.input_value("#purpose") == PURPOSE
    page.wait_for_function("() => document.getElementById('map-list').textContent.includes('mx-test')")
    go(page, "#/records")
    page.select_option("#r-kind", "person")
    page.wait_for_function("() => document.getElementById('r-table').textContent.includes('withheld by the agreement')")
    partner_rows = page.locator("#r-table tbody tr", has_text="mx-test")
    assert partner_rows.count() > 0
    assert "withheld by the agreement" in partner_rows.first.text_content()
    page.click(".topbar [data-lang=es]")
    ready(page)
    page.select_option("#r-kind", "person")
    page.wait_for_function("() => document.getElementById('r-table').textContent.includes('retenido por el acuerdo')")


@pytest.mark.slow
def test_units_and_charts(page) -> None:  # type: ignore[no-untyped-def]
    enter(page)
    go(page, "#/records")
    table = page.text_content("#r-table")
    assert "10,000 pills" in table and "88 pounds" in table and "39.92 kg" in table  # each quantity with its unit
    go(page, "#/trends")
    labels = page.evaluate("() => Chart.getChart('c-drug').data.datasets.map((d) => d.label)")
    assert set(labels) == {"Fentanyl", "Methamphetamine", "Cocaine"}  # no flat line for a drug not in the data
    assert "Heroin" in page.text_content("#c-drug-note")
    units = page.evaluate("() => ['c-owner', 'c-drug', 'c-state'].map((id) => { const s = Chart.getChart(id).options.scales;"
                          " return (s.y.title.display && s.y.title.text) || (s.x.title && s.x.title.text); })")
    assert units == ["kg", "Events", "kg"]
    # each chart has a text alternative with its figures and unit (issue 16 item 15)
    alts = page.evaluate("() => ['c-owner', 'c-drug', 'c-state'].map((id) => { const c = document.getElementById(id);"
                         " return [c.getAttribute('role'), c.getAttribute('aria-label')]; })")
    assert all(role == "img" and alt and any(ch.isdigit() for ch in alt) for role, alt in alts), alts
    assert "Fentanyl" in alts[1][1] and "kg" in alts[0][1]
    # no CBP statistics in these data: the chart says so instead of drawing empty axes
    cbp = page.locator(".card", has=page.locator("h2", has_text="CBP"))
    assert "kg" in cbp.locator("h2").text_content() and "No records match." in cbp.text_content()
    assert "lb" not in page.text_content("#page").replace("lb,", "")
    state_purpose(page, PURPOSE)  # partner counts (the records received) need a purpose, as every partner read
    go(page, "#/scorecard")
    months = page.evaluate("() => Chart.getChart('s-shared').data.labels")
    assert len(months) > 1 and months == sorted(months) and months[0].startswith("2024-")  # the data's months


@pytest.mark.slow
def test_spanish_server_strings_and_numbers(page) -> None:  # type: ignore[no-untyped-def]
    enter(page, "steward", "es")
    state_purpose(page, PURPOSE)
    go(page, "#/records")
    assert "registros propios + del socio" in page.text_content("#r-meta")
    go(page, "#/audit")
    page.wait_for_selector("#a-table tbody tr")
    audit = page.text_content("#a-table")
    assert "listado" in audit and "custodio de datos" in audit and "UTC" in audit
    page.wait_for_selector("#m-table tbody tr")
    assert "registros de" in page.text_content("#m-table") and "lectura" in page.text_content("#m-table")
    go(page, "#/records")
    page.select_option("#r-kind", "seizure")
    page.wait_for_function("() => document.getElementById('r-table').textContent.includes('10,000 pastillas')")


@pytest.mark.slow
def test_keyboard_only_from_login_to_an_entity(page) -> None:  # type: ignore[no-untyped-def]
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "login-user"
    page.keyboard.type("analyst")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    page.wait_for_selector("#app:not(.hidden)")
    ready(page)
    assert page.evaluate("() => document.activeElement.id") == "page"  # the keyboard continues in the page
    for _ in range(80):  # tab to the first record listed in view
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('rec')"):
            break
    else:
        pytest.fail("no record in the map's list takes the focus")
    page.keyboard.press("Enter")
    page.wait_for_selector("#e-title")
    assert "#/entity/" in page.url
    # and a table row opens its entity with Enter too
    go(page, "#/records")
    page.focus("#r-table tbody tr")
    page.keyboard.press("Enter")
    page.wait_for_selector("#e-title")


@pytest.mark.slow
def test_phone_width_layout(browser, server) -> None:  # type: ignore[no-untyped-def]
    with watched_page(browser, server, width=390, height=844, console_errors=True) as pg:
        enter(pg)
        box = pg.locator("#map").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 391 and box["height"] >= 300
        assert pg.evaluate("() => document.documentElement.scrollWidth") <= 391  # no sideways scrolling
        assert not pg.locator(".sidebar").is_visible() or pg.locator(".sidebar").bounding_box()["x"] < 0
        pg.click("#nav-toggle")
        pg.click("a[data-page=records]")
        ready(pg)
        pg.wait_for_selector("#r-table tbody tr")
        if os.environ.get("PUENTE_SCREENSHOTS") == "1":
            go(pg, "#/map")
            pg.screenshot(path=str(SHOTS / "map-phone.png"))


@pytest.mark.slow
def test_api_reference_offline(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server + "api/docs")
    page.wait_for_selector(".opblock-tag", timeout=60_000)
    assert page.locator(".opblock").count() > 40
    assert "/api/v1/map/states" in page.text_content("#swagger-ui")
    assert axe(page) == []


@pytest.mark.slow
def test_steward_sharing_and_admin_users_pages(browser, server) -> None:  # type: ignore[no-untyped-def]
    with watched_page(browser, server, console_errors=True) as pg:
        enter(pg, "steward")
        assert pg.locator("a[data-page=sharing]").is_visible() and not pg.locator("a[data-page=users]").is_visible()
        go(pg, "#/sharing")
        pg.wait_for_selector("#g-agreements tbody tr")
        assert "mx-test" in pg.text_content("#g-agreements") and "365 days" in pg.text_content("#g-agreements")
        fields = pg.text_content("#g-fields")
        assert "match_only" in fields and "Given names" in fields and "drop" in fields
        # retention of the partner records held: the API's figures, in the table
        pg.wait_for_selector("#g-retention tbody tr")
        kept = pg.evaluate("""async () => (await (await fetch('/api/v1/retention', {headers: {Authorization: 'Bearer ' + P.token}})).json())""")
        seizures = next(r for r in kept if r["kind"] == "seizure" and r["owner"] == "mx-test")
        rows = pg.locator("#g-retention tbody tr").all_inner_texts()
        assert len(rows) == len(kept) and any("mx-test" in r and f"{seizures['records']:,}" in r for r in rows)
        assert pg.locator("#g-revocations .empty").count() == 1 and pg.locator("#g-receipts .empty").count() == 1
        assert axe(pg) == []
        pg.click(".topbar [data-lang=es]")  # the transforms in the reader's language, beside their code
        ready(pg)
        pg.wait_for_selector("#g-fields tbody tr")
        assert "solo coincidencia privada (match_only)" in pg.text_content("#g-fields")
        pg.click(".topbar [data-lang=en]")
        ready(pg)
    with watched_page(browser, server, console_errors=True) as pg:
        enter(pg, "admin")
        go(pg, "#/users")
        pg.wait_for_selector("#u-table tbody tr")
        users = pg.text_content("#u-table")
        assert "analyst" in users and "steward" in users and "partner node" in users
        assert "password" not in users.lower()
        assert axe(pg) == []
        if os.environ.get("PUENTE_SCREENSHOTS") == "1":
            pg.screenshot(path=str(SHOTS / "users.png"))
    with watched_page(browser, server, console_errors=True) as pg:  # and in Spanish: roles in the reader's language
        enter(pg, "admin", "es")
        go(pg, "#/users")
        pg.wait_for_selector("#u-table tbody tr")
        users = pg.text_content("#u-table")
        assert "analista" in users and "Usuarios" in pg.text_content("#page")
        assert axe(pg) == []
        if os.environ.get("PUENTE_SCREENSHOTS") == "1":
            pg.screenshot(path=str(SHOTS / "users-es.png"))
