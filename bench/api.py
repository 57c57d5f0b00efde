"""REST API benchmark: a filtered seizure query over 1,000,000 records at 50 and 200 concurrent clients.

Puente's API (`puente serve`'s app, one Uvicorn worker) on DuckDB and on PostgreSQL is measured
against a bare FastAPI endpoint that returns the same response bytes from memory (the
framework's limit on this machine), each served from its own process, with wrk as the load
generator in a third process. Records are written straight to the store with its Arrow path
(ingest has its own benchmark). Results: bench/results/api.md.

    python -m bench.api [--rows 1000000] [--seconds 15] [--no-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "api"
QUERY = ("/api/v1/records/seizure?drug=fentanyl&admin1=Sonora&date_from=2022-01-01&date_to=2022-03-31"
         "&per_page=50")
PG_ADMIN = os.environ.get("PUENTE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def seizure_table(rows: int, node_name: str, seed: int = 1) -> pa.Table:
    """``rows`` seizure records with resolved places from the gazetteer (border-state weighted)."""
    from puente.geo.gazetteer import load_gazetteer
    from puente.ingest.pipeline import schema_for
    from puente.model import load_model

    rng = np.random.default_rng(seed)
    places = [p for p in load_gazetteer().places.values()
              if p.kind in ("municipality", "county", "city") and p.lat is not None]
    weights = np.array([8.0 if p.admin1 in ("Sonora", "Sinaloa", "Baja California", "Arizona", "California",
                                             "Texas", "Chihuahua") else 1.0 for p in places])
    pick = rng.choice(len(places), rows, p=weights / weights.sum())
    drugs = np.array(["fentanyl", "methamphetamine", "cocaine", "heroin", "marijuana"])
    drug = drugs[rng.choice(5, rows, p=[0.35, 0.3, 0.15, 0.05, 0.15])]
    # records reach a node over time, so the store holds them roughly in date order (as ingest leaves them)
    days = np.sort(rng.integers(0, (dt.date(2024, 12, 31) - dt.date(2019, 1, 1)).days, rows))
    dates = np.datetime64("2019-01-01") + days.astype("timedelta64[D]")
    kg = np.round(rng.lognormal(0.5, 1.4, rows), 2)
    schema = schema_for(load_model().kind("seizure"))
    cols: dict[str, pa.Array] = {
        "id": pa.array([f"{node_name}:seizure:{i:024x}" for i in range(rows)]),
        "owner_node": pa.array([node_name] * rows),
        "source_agency": pa.array(np.array(["CBP", "HSI", "DEA", "FGR", "SEDENA"])[rng.integers(0, 5, rows)]),
        "ingested_at": pa.array([dt.datetime(2025, 1, 1)] * rows, pa.timestamp("us")),
        "source_id": pa.array([f"B-{i}" for i in range(rows)]),
        "date": pa.array(dates, pa.date32()),
        "place_text": pa.array([places[i].name for i in pick]),
        "place_id": pa.array([places[i].id for i in pick]),
        "place_name": pa.array([places[i].name for i in pick]),
        "place_admin1": pa.array([places[i].admin1 for i in pick]),
        "place_country": pa.array([places[i].country for i in pick]),
        "place_lat": pa.array([places[i].lat for i in pick], pa.float64()),
        "place_lon": pa.array([places[i].lon for i in pick], pa.float64()),
        "drug": pa.array(drug), "unit": pa.array(["kg"] * rows), "quantity": pa.array(kg), "quantity_kg": pa.array(kg),
    }
    return pa.table({f.name: cols.get(f.name, pa.nulls(rows, f.type)) for f in schema}, schema=schema)


def build_node(home: Path, store_url: str | None, rows: int) -> tuple[str, str]:
    """A node with ``rows`` seizures and an analyst token. Returns (home, token)."""
    from puente.api.auth import add_user, issue_token
    from puente.node import Node

    if home.exists():
        shutil.rmtree(home)
    node = Node.init(home, home.name, "US", store_url)
    table = seizure_table(rows, node.name)
    with node.open_store() as store:
        with store.transaction():
            for start in range(0, rows, 200_000):
                store.insert_arrow("seizure", table.slice(start, 200_000))
        if store.dialect == "postgres":
            store.execute("ANALYZE seizure")
        add_user(store, "bench", "analyst", "benchmark-password")
        token = issue_token(store, "bench")
    return str(home), token


SERVER = """
import sys, uvicorn
from pathlib import Path
from puente.api.app import create_app
from puente.node import Node
uvicorn.run(create_app(Node.load(Path(sys.argv[1])), rate_limit=0), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", access_log=False)
"""
BARE = """
import sys, uvicorn
from fastapi import FastAPI
from starlette.responses import Response
body = open(sys.argv[1], "rb").read()
app = FastAPI()
@app.get("/api/v1/records/seizure")
def seizure() -> Response:
    return Response(body, media_type="application/json")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def start(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT)


def wait_ready(port: int, token: str) -> bytes:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}{QUERY}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if r.status_code == 200:
                return r.content
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on {port} did not answer")


def wrk(port: int, token: str, clients: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "30s",
                          "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}{QUERY}"],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "non2xx": float(errors.group(1)) if errors else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    OUT.mkdir(parents=True, exist_ok=True)
    backends: list[tuple[str, str | None]] = [("DuckDB", None)]
    if not args.no_postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN + "/postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS puente_bench_api WITH (FORCE)")
            admin.execute("CREATE DATABASE puente_bench_api")
        backends.append(("PostgreSQL", f"{PG_ADMIN}/puente_bench_api"))
    results: list[tuple[str, int, dict[str, float]]] = []
    body = b""
    port = 8890
    for label, url in backends:
        t0 = time.monotonic()
        home, token = build_node(OUT / f"node-{label.lower()}", url, args.rows)
        print(f"{label}: {args.rows:,} records loaded in {time.monotonic() - t0:.0f} s", flush=True)
        proc = start(SERVER, home, str(port))
        try:
            body = wait_ready(port, token)
            for clients in (50, 200):
                results.append((f"Puente API on {label}", clients, wrk(port, token, clients, args.seconds)))
                print(results[-1], flush=True)
        finally:
            proc.kill()
            proc.wait(60)
        port += 1
    (OUT / "body.json").write_bytes(body)
    proc = start(BARE, str(OUT / "body.json"), str(port))
    try:
        wait_ready(port, "-")
        for clients in (50, 200):
            results.append(("bare FastAPI, same bytes from memory (baseline)", clients, wrk(port, "-", clients,
                                                                                          args.seconds)))
            print(results[-1], flush=True)
    finally:
        proc.kill()
        proc.wait(60)
    write_report(results, args, len(body))


def write_report(results: list[tuple[str, int, dict[str, float]]], args: argparse.Namespace, size: int) -> None:
    base = {c: r["rps"] for name, c, r in results if name.startswith("bare")}
    lines = [
        "# REST API benchmark", "",
        (f"Date: {dt.date.today().isoformat()} · machine: {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB RAM, {platform.platform()}, "
        f"Python {platform.python_version()} · load average at the end: {os.getloadavg()[0]:.1f} "
        "(the machine is shared with other jobs, so absolute numbers are noisy; compare rows of the same run)."), "",
        (f"Query: `GET {QUERY}` (fentanyl seizures in Sonora in one quarter, newest first, page of 50, "
        f"with the total count) over **{args.rows:,} seizure records**; response {size:,} bytes. "
        "Authenticated as an analyst with an API token (checked against the store, then remembered for 10 s). "
        "Records are stored in arrival (date) order, as ingest leaves them."),
        "",
        (f"Each server is one Uvicorn worker in its own process; wrk (2 threads, {args.seconds} s per run, keep-alive) "
        "runs in a third process on the same 2 cores."), "",
        "| server | clients | requests/s | p50 (ms) | p99 (ms) | non-2xx | share of baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, clients, r in results:
        share = r["rps"] / base[clients] if base.get(clients) else float("nan")
        lines.append(f"| {name} | {clients} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                     f"{int(r['non2xx'])} | {share:.1%} |")
    lines += ["", ("Reproduce: `python -m bench.api` (needs `wrk` from Debian and the PostgreSQL server; "
              "`--no-postgres` skips it).")]
    target = ROOT / "bench" / "results" / "api.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(target.read_text())


if __name__ == "__main__":
    main()
