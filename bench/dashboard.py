"""Dashboard benchmark: the map view and the hotspot layer over 1,000,000 seizures, in a real browser.

One node (DuckDB) holds ``--rows`` seizures with resolved places (bench.api's generator, plus each place's
H3 cell, which the hotspot analysis reads); ``puente serve``'s app runs in its own process and Debian's
Chromium (Playwright, headless) opens the dashboard as an analyst. Measured, each from the click to the
moment every layer is drawn (``#map[data-drawn]``):

* **map view**: the Map page opened from another page, no time limit (every record), first and warm;
* **baseline**: the same page with the seizure layer off (shapes, labs, ports, corridors: the page's
  fixed cost), in the same run;
* **hotspot layer**: the Gi* layer switched on with a purpose, first (the analysis runs) and warm
  (switched off and on again: the analysis is cached until the store changes).

Results: bench/results/dashboard.md.

    python -m bench.dashboard [--rows 1000000] [--repeat 5] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "dashboard"
PASSWORD = "benchmark-password"
PURPOSE = "Benchmark of the hotspot layer"


def build(home: Path, rows: int) -> None:
    from bench.api import seizure_table
    from puente.api.auth import add_user
    from puente.geo.gazetteer import load_gazetteer
    from puente.node import Node

    if home.exists():
        shutil.rmtree(home)
    node = Node.init(home, home.name, "US")
    table = seizure_table(rows, node.name)
    cells = {p.id: p.h3 for p in load_gazetteer().places.values()}
    h3_col = pa.array([cells.get(i) for i in table.column("place_id").to_pylist()], pa.string())
    table = table.set_column(table.schema.get_field_index("place_h3"), "place_h3", h3_col)
    with node.open_store() as store:
        with store.transaction():
            for start in range(0, rows, 200_000):
                store.insert_arrow("seizure", table.slice(start, 200_000))
        add_user(store, "bench", "analyst", PASSWORD)


def timed(pg: Any, action: Any) -> float:
    """Seconds from ``action`` to every layer drawn (a new value of ``#map[data-drawn]``, page ready)."""
    before = pg.evaluate("() => (document.getElementById('map') || {dataset: {}}).dataset.drawn || ''")
    t0 = time.perf_counter()
    action()
    pg.wait_for_function("(b) => { const m = document.getElementById('map'), p = document.getElementById('page');"
                         " return m && m.dataset.drawn && m.dataset.drawn !== b && p.dataset.ready === '1'; }",
                         arg=before, timeout=600_000, polling=10)
    return time.perf_counter() - t0


def open_map(pg: Any) -> float:
    pg.evaluate("() => { location.hash = '#/trends'; }")
    pg.wait_for_function("() => location.hash === '#/trends' && document.getElementById('page').dataset.ready === '1'",
                         timeout=600_000)
    return timed(pg, lambda: pg.evaluate("() => { location.hash = '#/map'; }"))


def toggle(pg: Any, layer: str) -> float:
    return timed(pg, lambda: pg.click(f"#lyr-{layer}"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="serve the store an earlier run built (same --rows)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from bench.api import SERVER, start, wait_ready
    from puente.api.auth import issue_token
    from puente.node import Node

    home = OUT / "node"
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if not args.reuse:
        build(home, args.rows)
    print(f"{args.rows:,} seizures loaded in {time.monotonic() - t0:.0f} s", flush=True)
    with Node.load(home).open_store() as store:
        token = issue_token(store, "bench")
        held = int(store.scalar("SELECT COUNT(*) FROM seizure") or 0)
    port = 8897
    proc = start(SERVER, str(home), str(port))
    results: dict[str, list[float]] = {}
    load = [os.getloadavg()[0]]
    try:
        wait_ready(port, token, "/api/v1/records/seizure?per_page=1", proc)
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            pg = browser.new_page(viewport={"width": 1400, "height": 900})
            pg.goto(url)
            pg.fill("#login-user", "bench")
            pg.fill("#login-pass", PASSWORD)
            pg.click("#login-submit")
            pg.wait_for_selector("#page[data-ready='1']", state="attached", timeout=600_000)
            results["map view, first"] = [open_map(pg)]
            results["map view, warm"] = [open_map(pg) for _ in range(args.repeat)]
            shown = pg.inner_text("#map-records")
            note = pg.inner_text("#map-summary")
            toggle(pg, "seizures")  # off: the page's fixed cost
            results["baseline: map view without the seizure layer"] = [open_map(pg) for _ in range(args.repeat)]
            toggle(pg, "seizures")
            pg.fill("#purpose", PURPOSE)
            pg.wait_for_function("() => document.getElementById('page').dataset.ready === '1' && "
                                 "document.getElementById('lyr-hotspots')", timeout=600_000)
            time.sleep(1.5)  # the purpose box re-routes after 0.7 s of quiet
            pg.wait_for_selector("#page[data-ready='1']", state="attached", timeout=600_000)
            results["hotspot layer, first (analysis runs)"] = [toggle(pg, "hotspots")]
            warm = []
            for _ in range(args.repeat):
                toggle(pg, "hotspots")  # off
                warm.append(toggle(pg, "hotspots"))
            results["hotspot layer, warm"] = warm
            hexes = pg.evaluate("() => { let n = 0; P.mapView().eachLayer((l) => { if (l.feature && l.feature.properties"
                                " && 'gi_z' in l.feature.properties) n++; }); return n; }")
            browser.close()
        load.append(os.getloadavg()[0])
    finally:
        proc.kill()
        proc.wait(60)
    for k, v in results.items():
        print(f"{k}: median {statistics.median(v):.2f} s over {len(v)}", flush=True)
    write_report(results, args, held, shown, note, hexes, load)


def write_report(results: dict[str, list[float]], args: argparse.Namespace, held: int, shown: str, note: str,
                 hexes: int, load: list[float]) -> None:
    lines = ["# Dashboard benchmark", "",
             f"{dt.date.today().isoformat()}, {platform.machine()}, {platform.python_version()}, DuckDB store, "
             f"{held:,} seizures, Debian Chromium headless (Playwright), 1400×900. `python -m bench.dashboard "
             f"--rows {args.rows} --repeat {args.repeat}`. Load average (1 min) at start and end: "
             f"{', '.join(f'{x:.1f}' for x in load)} on 2 cores shared with other jobs.", "",
             "| measurement | median s | runs (s) |", "|---|---:|---|"]
    for k, v in results.items():
        lines.append(f"| {k} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)} |")
    lines += ["", f"Records shown on the map (no time limit): {shown}; hotspot cells drawn: {hexes}.", "",
              "Note on screen: " + " ".join(note.split("\n")[-2:]).strip(), ""]
    (ROOT / "bench" / "results" / "dashboard.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
