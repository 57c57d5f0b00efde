"""The dashboard in a real browser: Playwright driving Debian's Chromium against `puente serve`'s app.

Journeys: log in, filter the map, state a purpose to see partner data, open an entity and its
network, export, read the audit view, switch to Spanish.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_seed import DATA, PASSWORD, build_env, serve
from conftest import require

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PURPOSE = "Corridor analysis for case 2024-117"
# the login test is the fast tier's one real-browser check; the other journeys run in the full tier (make test-all)
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The U.S. node's dashboard, with the Mexican node's API running beside it for hit/no-hit."""
    from puente.api.app import create_app
    from puente.api.auth import add_user, issue_token
    from puente.api.partners import connect
    from puente.ingest.pipeline import ingest_file
    from puente.ingest.profile import get_profile
    from puente.link import hits

    client, tokens, us, mx = build_env(tmp_path_factory.mktemp("web"))
    client.close()
    with us.open_store() as store:
        ingest_file(us, store, DATA / "us_persons_extra.csv", get_profile("person-us"))
    with mx.open_store() as store:
        add_user(store, "us-node", "partner-node", None, partner="us-test")
        mx_token = issue_token(store, "us-node")
    servers = [serve(create_app(us, rate_limit=0)), serve(create_app(mx, rate_limit=0))]
    with us.open_store() as store:
        connect(us, store, "mx-test", servers[1][2], mx_token)
    with mx.open_store() as store:
        connect(mx, store, "us-test", servers[0][2], tokens["partner-node"])
    secret = hits.new_secret()
    hits.save_secret(us.home, "mx-test", secret)
    hits.save_secret(mx.home, "us-test", secret)
    yield servers[0][2] + "/"
    for srv, thread, _ in servers:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        require("browser", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        require("browser", f"playwright is not installed: {exc}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US", accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)  # CSP held
    external: list[str] = []
    pg.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) and not r.url.startswith(
        ("data:", "blob:")) else None)
    pg.goto(server)
    yield pg
    assert errors == [], errors  # no JavaScript errors on any journey
    assert external == [], external  # nothing is fetched from outside the node (no CDN, no tiles)
    context.close()


def login(pg, user: str = "analyst", password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    pg.fill("#login-user", user)
    pg.fill("#login-pass", password)
    pg.click("#login-submit")


def test_login_refuses_wrong_password_then_enters(page) -> None:  # type: ignore[no-untyped-def]
    login(page, password="not the password")
    page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
    assert "wrong user name or password" in page.text_content("#login-error")
    assert page.is_hidden("#app")
    login(page)
    page.wait_for_selector("#app:not(.hidden)")
    assert page.text_content("#user-name") == "analyst" and "us-test" in page.text_content("#node-badge")


def wait_count(page, count: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("(n) => { const e = document.querySelector('#map-summary .kpi'); "
                           "return e !== null && e.textContent === n; }", arg=count)


@pytest.mark.slow
def test_filter_the_map_and_state_a_purpose(page) -> None:  # type: ignore[no-untyped-def]
    login(page)
    page.wait_for_selector("#map-list .rec")
    page.select_option("#t-win", "1200")  # the whole period
    wait_count(page, "8")
    page.select_option("#f-drug", "methamphetamine")
    page.click("#f-apply")
    wait_count(page, "2")
    drugs = page.locator("#map-list .rec b").all_text_contents()
    assert drugs == ["Methamphetamine", "Methamphetamine"]
    assert page.locator(".leaflet-interactive").count() > 2  # markers, state shapes and corridor lines drawn
    page.fill("#purpose", PURPOSE)  # partner records appear once a purpose is stated
    wait_count(page, "3")
    assert "mx-test" in page.text_content("#map-list")
    page.select_option("#f-country", "MX")
    page.click("#f-apply")
    wait_count(page, "1")
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
    page.click("#h-send")
    page.wait_for_function("() => document.getElementById('h-status').textContent.includes('hits')", timeout=60_000)
    assert "3 encodings sent, 1 hits" in page.text_content("#h-status")
    page.wait_for_selector("#h-results tbody tr")  # the page reloads with the hit on our record
    assert page.locator("#h-results tbody tr").count() == 1
    assert "answered" in page.text_content("#h-queries")
