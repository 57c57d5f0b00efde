"""Shared pieces of the dashboard's browser tests: the two seeded nodes served over HTTP, Debian's Chromium
through Playwright, a page that records JavaScript errors and any request leaving the node, and axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api_seed import DATA, PASSWORD, build_env, serve
from conftest import require

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PURPOSE = "Corridor analysis for case 2024-117"
ANALYSIS_VIEWS = ["corridors", "alerts", "hotspots", "chains", "firearms", "players"]
PAGES = ["map", "trends", "records", "entity", "inbox", "audit", "scorecard", "sharing", "users",
         *(f"analysis/{v}" for v in ANALYSIS_VIEWS)]


@contextmanager
def two_nodes(root: Path, extra: list[tuple[Path, str]] = ()) -> Iterator[str]:  # type: ignore[assignment]
    """The U.S. node's dashboard URL, with the Mexican node's API running beside it for hit/no-hit;
    ``extra`` files (path, profile) are ingested into the U.S. node."""
    from puente.api.app import create_app
    from puente.api.auth import add_user, issue_token
    from puente.api.partners import connect
    from puente.ingest.pipeline import ingest_file
    from puente.ingest.profile import get_profile
    from puente.link import hits

    client, tokens, us, mx = build_env(root)
    client.close()
    with us.open_store() as store:
        ingest_file(us, store, DATA / "us_persons_extra.csv", get_profile("person-us"))
        for path, profile in extra:
            ingest_file(us, store, path, get_profile(profile))
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
    try:
        yield servers[0][2] + "/"
    finally:
        for srv, thread, _ in servers:
            srv.should_exit = True
            thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        require("browser", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        require("browser", f"playwright is not installed: {exc}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def watched_page(browser: Any, server: str, width: int = 1400, height: int = 900,
                 console_errors: bool = False) -> Iterator[Any]:
    """A page on the dashboard; on leaving, asserts that no JavaScript error (with ``console_errors``, no
    console error at all) happened and that nothing was requested from outside the node."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US", accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text or (
        console_errors and m.type == "error") else None)
    external: list[str] = []
    pg.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) and not r.url.startswith(
        ("data:", "blob:")) else None)
    pg.goto(server)
    yield pg
    assert errors == [], errors  # no JavaScript errors on any journey
    assert external == [], external  # nothing is fetched from outside the node (no CDN, no tiles)
    context.close()


def login(pg: Any, user: str = "analyst", password: str = PASSWORD) -> None:
    pg.fill("#login-user", user)
    pg.fill("#login-pass", password)
    pg.click("#login-submit")


def axe(pg: Any) -> list[dict[str, Any]]:
    """axe-core's critical and serious violations on the page as it is now (WCAG 2.x A and AA rules)."""
    if not pg.evaluate("() => typeof window.axe !== 'undefined'"):
        # injected through the DevTools protocol, which the page's CSP (script-src 'self') does not govern
        pg.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = pg.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.filter((v) => v.impact === 'critical' || v.impact === 'serious').map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}));
    }""")
    return list(result)


def ready(pg: Any) -> None:
    """Wait until the page is drawn for the route the URL names now: right after a click changes the hash, the
    previous page is still marked ready until the hashchange event re-routes (a race seen in the slow tier)."""
    pg.wait_for_function("() => { const el = document.getElementById('page');"
                         " return !!el && el.dataset.ready === '1' && el.dataset.path === (P.hashParts().path || 'map'); }",
                         timeout=60_000)


def state_purpose(pg: Any, purpose: str) -> None:
    """Type a purpose and let the page re-render for it: the box re-routes 700 ms after the last keystroke (it is
    marked data-pending until then), so a view opened sooner would be drawn twice (and read while the second
    drawing has cleared it)."""
    pg.fill("#purpose", purpose)
    pg.wait_for_selector("#purpose:not([data-pending])", state="attached")
    ready(pg)


def go(pg: Any, hash_: str) -> None:
    pg.evaluate("(h) => { location.hash = h; }", hash_)
    pg.wait_for_function("(h) => location.hash === h", arg=hash_)
    ready(pg)


def enter(pg: Any, user: str = "analyst", lang: str = "en") -> None:
    if lang != "en":
        pg.click(f"#login-view [data-lang={lang}]")
    login(pg, user)
    pg.wait_for_selector("#app:not(.hidden)")
    ready(pg)


def first_entity(pg: Any) -> str:
    return str(pg.evaluate("""async () => {
        const r = await fetch('/api/v1/records/person?per_page=1', {headers: {Authorization: 'Bearer ' + P.token}});
        return (await r.json()).items[0].id; }"""))


# A small simulated world (both countries' agency files in one node, as a node holds them once its partner has
# shared) with `puente analyze all` run: corridors with crossings, spike alerts and precursor → lab chains, which
# the hand-made API fixtures do not have. Built once per test process (~1 min of CPU).
WORLD_SEED, WORLD_SCALE = 11, 4000
_world: Path | None = None


def simulated_world() -> Path:
    """The world's root: ``node/`` (accounts for every role, password PASSWORD) and ``analysis/`` (the
    ``analyze all`` output: the tables the dashboard's figures are compared with)."""
    global _world
    if _world is None:
        import atexit
        import shutil
        import tempfile

        from api_seed import add_users

        from puente.cli import main
        from puente.demo import ingest_simulated
        from puente.node import Node
        from puente.simulate import simulate

        root = Path(tempfile.mkdtemp(prefix="puente-web-world-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        simulate(root / "sim", seed=WORLD_SEED, scale=WORLD_SCALE)
        node = Node.init(root / "node", "us-sim", "US")
        ingest_simulated({"US": node, "MX": node}, root / "sim")
        with node.open_store() as store:
            add_users(store)
        assert main(["--home", str(root / "node"), "analyze", "all", "--out", str(root / "analysis")]) in (0, None)
        _world = root
    return _world


@contextmanager
def world_server() -> Iterator[tuple[str, Path]]:
    """The simulated world's dashboard URL and its ``analyze all`` output directory."""
    from puente.api.app import create_app
    from puente.node import Node

    root = simulated_world()
    srv, thread, url = serve(create_app(Node.load(root / "node"), rate_limit=0))
    try:
        yield url + "/", root / "analysis"
    finally:
        srv.should_exit = True
        thread.join(10)
