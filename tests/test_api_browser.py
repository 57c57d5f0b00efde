"""The dashboard in a real browser: Playwright driving Debian's Chromium against `puente serve`'s app.

Journeys: log in, filter the map, state a purpose to see partner data, open an entity and its
network, export, read the audit view, switch to Spanish.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_support import PAGES, PURPOSE, chromium, enter, first_entity, go, login, two_nodes, watched_page

# the login test is the fast tier's one real-browser check; the other journeys run in the full tier (make test-all)
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The U.S. node's dashboard, with the Mexican node's API running beside it for hit/no-hit."""
    with two_nodes(tmp_path_factory.mktemp("web")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    with watched_page(browser, server) as pg:
        yield pg


def test_login_refuses_wrong_password_then_enters(page) -> None:  # type: ignore[no-untyped-def]
    login(page, password="not the password")
    page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
    assert "wrong user name or password" in page.text_content("#login-error")
    assert page.is_hidden("#app")
    login(page)
    page.wait_for_selector("#app:not(.hidden)")
    assert page.text_content("#user-name") == "analyst" and "us-test" in page.text_content("#node-badge")


def test_every_page_loads_without_errors(page) -> None:  # type: ignore[no-untyped-def]
    """The fast tier's smoke: each page draws, in English, with no JavaScript error and nothing fetched from
    outside the node (the full checks, axe included, are in test_web_pages.py)."""
    enter(page)
    for name in PAGES:
        go(page, f"#/{name}")
        assert page.text_content("#page-title")
    go(page, "#/entity/" + first_entity(page))
    assert page.text_content("#e-title")


def wait_count(page, count: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("(n) => { const e = document.querySelector('#map-summary .kpi'); "
                           "return e !== null && e.textContent === n; }", arg=count)


def wait_list(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """The records list fills after the totals (it follows the map's drawing): wait for it to name ``text``."""
    page.wait_for_function("(t) => (document.querySelector('#map-list')?.textContent || '').includes(t)", arg=text)


@pytest.mark.slow
def test_filter_the_map_and_state_a_purpose(page) -> None:  # type: ignore[no-untyped-def]
    login(page)
    page.wait_for_selector("#map-list .rec")
    page.select_option("#t-win", "1200")  # the whole period
    wait_count(page, "8")
    page.select_option("#f-drug", "methamphetamine")
    page.click("#f-apply")
    wait_count(page, "2")
    page.wait_for_function("() => document.querySelectorAll('#map-list .rec').length === 2")
    drugs = page.locator("#map-list .rec b").all_text_contents()
    assert drugs == ["Methamphetamine", "Methamphetamine"]
    assert page.locator(".leaflet-interactive").count() > 2  # markers, state shapes and corridor lines drawn
    page.fill("#purpose", PURPOSE)  # partner records appear once a purpose is stated
    wait_count(page, "3")
    wait_list(page, "mx-test")
    assert "mx-test" in page.text_content("#map-list")
    page.select_option("#f-country", "MX")
    page.click("#f-apply")
    wait_count(page, "1")
    wait_list(page, "Mexicali")
    assert "Mexicali" in page.text_content("#map-list")


@pytest.mark.slow
def test_open_an_entity_with_its_network(page) -> None:  # type: ignore[no-untyped-def]
    login(page)
    page.wait_for_selector("#app:not(.hidden)")
    page.click("a[data-page=records]")
    page.wait_for_selector("#r-table tbody tr")
    page.select_option("#r-kind", "person")
    page.wait_for_function("() => { const e = document.querySelector('#r-meta b'); return e !== null && "
                           "e.textContent === '3'; }")
    assert "withheld" in page.text_content("#r-meta").lower()  # identifiers hidden without a purpose
    page.locator("#r-table tbody tr", has_text="Carter").click()
    page.wait_for_selector("#e-title")
    assert page.text_content("#e-title") == "John Carter"
    page.wait_for_selector("#net canvas")
    assert "3 linked" in page.text_content(".card h2 .muted") or "linked" in page.text_content(".card h2 .muted")
    timeline = page.text_content("#e-timeline")
    assert "2024-01-15" in timeline and "2024-03-29" in timeline
    with page.expect_download() as download:
        page.goto(page.url.split("#")[0] + "#/records")
        page.wait_for_selector("#r-table tbody tr")
        page.click("#x-csv")
    assert download.value.suggested_filename == "person.csv"  # the page remembers the kind being browsed
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and "curp" not in lines[0] and "birth_date" not in lines[0]


@pytest.mark.slow
def test_audit_view_shows_purposeful_reads(page) -> None:  # type: ignore[no-untyped-def]
    login(page, "steward")
    page.wait_for_selector("#map-list .rec")
    page.fill("#purpose", PURPOSE + " (audit check)")
    page.wait_for_function("() => document.querySelector('#map-list').textContent.includes('mx-test')")
    page.click("a[data-page=audit]")
    page.wait_for_selector("#a-table tbody tr")
    assert PURPOSE + " (audit check)" in page.text_content("#a-table")


@pytest.mark.slow
def test_switch_to_spanish(page) -> None:  # type: ignore[no-untyped-def]
    login(page)
    page.wait_for_selector("#map-list .rec")
    page.click(".topbar [data-lang=es]")
    page.wait_for_function("() => document.getElementById('page-title').textContent === 'Mapa'")
    assert page.get_attribute("html", "lang") == "es"
    assert "Aseguramientos" in page.text_content(".filters") and "Puertos de entrada" in page.text_content(".filters")
    page.wait_for_selector("#map-list .rec")
    assert "Fentanilo" in page.text_content("#map-list") or "Metanfetamina" in page.text_content("#map-list")
    page.click("a[data-page=scorecard]")
    page.wait_for_selector("#s-traces table")
    assert "Rastreos de armas completados" in page.text_content("#page")
    page.reload()  # the choice is remembered
    page.wait_for_function("() => document.getElementById('page-title').textContent === 'Tablero conjunto'")


@pytest.mark.slow
def test_send_a_hit_no_hit_query(page) -> None:  # type: ignore[no-untyped-def]
    login(page)
    page.wait_for_selector("#app:not(.hidden)")
    page.click("a[data-page=inbox]")
    page.wait_for_selector("#h-send:not([disabled])")
    assert page.input_value("#h-partner") == "mx-test"
    # the seconds a query takes are shown (issue 16 item 17): a spinner appears while it is sent
    page.evaluate("""() => { window.sawSpinner = false; new MutationObserver(() => {
        if (document.querySelector('#h-status .spinner')) window.sawSpinner = true; })
        .observe(document.getElementById('h-status'), {childList: true, subtree: true}); }""")
    page.click("#h-send")
    page.wait_for_function("() => document.getElementById('h-status').textContent.includes('hits')", timeout=60_000)
    assert "3 encodings sent, 1 hits" in page.text_content("#h-status")
    assert page.evaluate("() => window.sawSpinner")
    page.wait_for_selector("#h-results tbody tr")  # the page reloads with the hit on our record
    assert page.locator("#h-results tbody tr").count() == 1
    assert "answered" in page.text_content("#h-queries")
