"""Take a screenshot of every dashboard page with Debian's Chromium (Playwright), for docs/screenshots/.

Usage: start the demo (`puente demo`, which serves the U.S. node on :8765), then
    python tools/dashboard_screenshots.py --url http://127.0.0.1:8765/ --out docs/screenshots
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PURPOSE = "Corridor analysis, case 2024-117"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8765/")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    ap.add_argument("--password", default="puente-demo-2024")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 900})
        page.goto(args.url)
        page.wait_for_selector("#login-form")
        page.fill("#login-user", "steward")
        page.screenshot(path=str(args.out / "login.png"))
        page.fill("#login-pass", args.password)
        page.click("#login-submit")
        page.wait_for_selector("#app:not(.hidden)")
        page.fill("#purpose", PURPOSE)
        page.wait_for_timeout(2000)  # the page reloads its data with the purpose
        page.wait_for_selector("#map-list .rec", timeout=60_000)
        page.check("#lyr-hotspots")
        page.check("#lyr-alerts")
        page.wait_for_timeout(12_000)
        page.screenshot(path=str(args.out / "map.png"))
        page.select_option("#f-drug", "fentanyl")
        page.select_option("#f-country", "MX")
        page.click("#f-apply")
        page.wait_for_timeout(6_000)
        page.screenshot(path=str(args.out / "map-filtered.png"))
        for name, wait in (("trends", 8000), ("records", 4000), ("scorecard", 6000), ("audit", 5000)):
            page.goto(args.url + "#/" + name)
            page.wait_for_timeout(wait)
            page.screenshot(path=str(args.out / f"{name}.png"))
        page.goto(args.url + "#/records")
        page.wait_for_selector("#r-table tbody tr")
        page.select_option("#r-kind", "person")
        page.wait_for_timeout(2500)
        page.fill("#r-q", "a")
        page.click("#r-table tbody tr >> nth=0")
        page.wait_for_selector("#e-title")
        page.wait_for_timeout(4000)
        page.screenshot(path=str(args.out / "entity.png"))
        page.goto(args.url + "#/inbox")
        page.wait_for_selector("#h-send")
        page.click("#h-send")
        page.wait_for_timeout(15_000)
        page.goto(args.url + "#/map")
        page.goto(args.url + "#/inbox")
        page.wait_for_timeout(3000)
        page.screenshot(path=str(args.out / "inbox.png"))
        page.click(".topbar [data-lang=es]")
        page.goto(args.url + "#/map")
        page.wait_for_timeout(10_000)
        page.screenshot(path=str(args.out / "map-es.png"))
        page.goto(args.url + "#/scorecard")
        page.wait_for_timeout(5000)
        page.screenshot(path=str(args.out / "scorecard-es.png"))
        browser.close()


if __name__ == "__main__":
    main()
