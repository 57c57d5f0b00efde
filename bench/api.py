"""REST API benchmark: a filtered seizure query over 1,000,000 records at 50 concurrent clients.

All servers run at once, each one Uvicorn worker in its own process (and PostgreSQL also served by
`puente serve --workers 2`), and are measured in interleaved rounds (wrk as the load generator in another
process):

* Puente's API (`puente serve`'s app) on DuckDB and on PostgreSQL, with its response cache (the
  default) and with the cache off (`PUENTE_API_CACHE_MB=0`: every request authenticates, reads the data
  version, the page and the count);
* a bare FastAPI endpoint returning the same response bytes from memory (the framework's limit here);
* Datasette on SQLite holding the same rows, asked the same question (filters, newest first, page of
  50, with its count), with an index on (drug, place_admin1, date).

Records are written straight to the store with its Arrow path (ingest has its own benchmark). The
PostgreSQL plan of the query is written beside the results. Results: bench/results/api.md.

    python -m bench.api [--rows 1000000] [--seconds 15] [--rounds 2] [--clients 50] [--workers 2] [--no-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import sqlite3
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


def reuse_node(home: Path) -> tuple[str, str]:
    """A node an earlier run built, with a new token for its analyst."""
    from puente.api.auth import issue_token
    from puente.node import Node

    with Node.load(home).open_store() as store:
        return str(home), issue_token(store, "bench")


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


DATASETTE_QUERY = ("/bench/seizure.json?drug=fentanyl&place_admin1=Sonora&date__gte=2022-01-01&date__lte=2022-03-31"
                   "&_sort_desc=date&_size=50&_shape=objects")


def build_sqlite(path: Path, table: pa.Table) -> None:
    """The same seizure rows in SQLite, indexed for the query, for Datasette."""
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    cols = [f for f in table.column_names if not pa.types.is_null(table.schema.field(f).type)]
    con.execute(f"CREATE TABLE seizure ({', '.join(f'[{c}]' for c in cols)}, PRIMARY KEY (id))")
    marks = ", ".join("?" for _ in cols)
    for batch in table.select(cols).to_batches(100_000):
        rows = zip(*(_sqlite_values(batch.column(i)) for i in range(len(cols))))
        con.executemany(f"INSERT INTO seizure VALUES ({marks})", rows)
    con.execute("CREATE INDEX ix_seizure_drug_state_date ON seizure (drug, place_admin1, date)")
    con.execute("ANALYZE")
    con.commit()
    con.close()


def _sqlite_values(col: pa.Array) -> list[object]:
    values = col.to_pylist()
    return [v.isoformat() if isinstance(v, dt.date) else v for v in values]


def start(code: str | None, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", *args]
    return subprocess.Popen(cmd, env=full, cwd=ROOT, start_new_session=True)  # its own group: workers die with it


def wait_ready(port: int, token: str, query: str = QUERY, proc: subprocess.Popen[bytes] | None = None) -> bytes:
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}{query}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if r.status_code == 200:
                return r.content
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server on {port} did not answer")


def wrk(port: int, token: str, clients: int, seconds: int, query: str = QUERY) -> dict[str, float]:
    # Accept: */* as curl and browsers send it (Datasette answers nothing to a request without one)
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "30s",
                          "-H", f"Authorization: Bearer {token}", "-H", "Accept: */*", f"http://127.0.0.1:{port}{query}"],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "non2xx": float(errors.group(1)) if errors else 0.0}


def pg_plan(url: str) -> str:
    """EXPLAIN ANALYZE of the page and the count of the benchmark query, as the API sends them."""
    from puente.api.auth import Principal
    from puente.api.policy import view_for
    from puente.api.query import Filters, order_by, sql_where, where_clause
    from puente.model import load_model
    from puente.node import Node
    from puente.store.base import open_store

    node = Node.load(OUT / "node-postgresql")
    view = view_for(Principal("bench", "analyst"), load_model().kind("seizure"), node, None)
    flt = Filters(date_from=dt.date(2022, 1, 1), date_to=dt.date(2022, 3, 31), admin1="Sonora",
                  enums={"drug": "fentanyl"})
    where, params = where_clause(view, flt, node.name)
    clause, params = sql_where(view.where + where), view.params + params
    cols = ", ".join(f'"{c}"' for c in view.columns)
    page = f"SELECT {cols} FROM seizure {clause} ORDER BY {order_by(view)} LIMIT 50 OFFSET 0"
    count = f"SELECT COUNT(*) FROM (SELECT 1 FROM seizure {clause} LIMIT 100001) AS m"
    out = []
    with open_store(url) as store:
        for sql in (page, count):
            plan = store.query(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING ON, SUMMARY ON) {sql}", params)
            out.append("\n".join(r[0] for r in plan))
    return "\n\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="serve the stores an earlier run built (same --rows)")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds of rest after each measurement")
    ap.add_argument("--workers", type=int, default=2,
                    help="also serve PostgreSQL with this many worker processes (1: no such server)")
    ap.add_argument("--pg-db", default="puente_bench_api", help="the PostgreSQL database to build (dropped first)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    OUT.mkdir(parents=True, exist_ok=True)
    backends: list[tuple[str, str | None]] = [("DuckDB", None)]
    if not args.no_postgres and args.reuse:
        backends.append(("PostgreSQL", f"{PG_ADMIN}/{args.pg_db}"))
    elif not args.no_postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{args.pg_db}"')
        backends.append(("PostgreSQL", f"{PG_ADMIN}/{args.pg_db}"))
    servers: list[tuple[str, int, str, str]] = []  # (label, port, token, query)
    procs: list[subprocess.Popen[bytes]] = []
    port = 8890
    plan = ""
    try:
        for label, url in backends:
            t0 = time.monotonic()
            home, token = (reuse_node(OUT / f"node-{label.lower()}") if args.reuse
                           else build_node(OUT / f"node-{label.lower()}", url, args.rows))
            print(f"{label}: {args.rows:,} records loaded in {time.monotonic() - t0:.0f} s", flush=True)
            for cache, env in (("response cache on", {}), ("cache off", {"PUENTE_API_CACHE_MB": "0"})):
                if url is None and env:  # DuckDB admits one process per file: the second server gets a copy
                    copy = OUT / "node-duckdb-nocache"
                    shutil.rmtree(copy, ignore_errors=True)
                    shutil.copytree(home, copy)
                    home = str(copy)
                procs.append(start(SERVER, home, str(port), env=env))
                servers.append((f"Puente API on {label}, {cache}", port, token, QUERY))
                port += 1
            if url and args.workers > 1:  # PostgreSQL admits several worker processes (`puente serve --workers N`)
                procs.append(start(None, "puente", "serve", "--port", str(port), "--workers", str(args.workers),
                                   env={"PUENTE_HOME": home, "PUENTE_RATE_LIMIT": "0"}))
                servers.append((f"Puente API on {label}, response cache on, {args.workers} workers", port, token, QUERY))
                port += 1
            if url:
                plan = pg_plan(url)
        t0 = time.monotonic()
        if not args.reuse:
            build_sqlite(OUT / "bench.db", seizure_table(args.rows, "node-duckdb"))
        print(f"SQLite: {args.rows:,} records loaded in {time.monotonic() - t0:.0f} s", flush=True)
        procs.append(start(None, "datasette", "serve", str(OUT / "bench.db"), "--host", "127.0.0.1", "--port",
                           str(port)))
        servers.append(("Datasette 0.65.5 on SQLite, same rows and question (peer)", port, "-", DATASETTE_QUERY))
        port += 1
        body = b""
        for (_label, p, token, query), proc in zip(servers, procs):
            got = wait_ready(p, token, query, proc)
            body = body or got
        (OUT / "body.json").write_bytes(body)
        procs.append(start(BARE, str(OUT / "body.json"), str(port)))
        servers.append(("bare FastAPI, same bytes from memory (baseline)", port, "-", QUERY))
        wait_ready(port, "-", QUERY, procs[-1])
        results: dict[str, list[dict[str, float]]] = {}
        # the baseline first; Datasette once, at the very end: a server that cannot keep up goes on working through
        # the requests wrk left queued, which would slow whichever server is measured next
        order = [servers[-1], *(s for s in servers[:-1] if not s[0].startswith("Datasette"))]
        peer = [s for s in servers if s[0].startswith("Datasette")]
        for round_ in range(args.rounds):  # interleaved: every server once per round
            for label, p, token, query in order + (peer if round_ == args.rounds - 1 else []):
                r = wrk(p, token, args.clients, args.seconds, query)
                r["load"] = os.getloadavg()[0]
                results.setdefault(label, []).append(r)
                print(round_, label, r, flush=True)
                time.sleep(args.settle)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)  # the server and any worker processes it started
            proc.wait(60)
    write_report(results, args, len(body), plan)


def write_report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace, size: int, plan: str) -> None:
    base_label = next(k for k in results if k.startswith("bare"))
    base_rps = sum(r["rps"] for r in results[base_label]) / len(results[base_label])
    base_p99 = sum(r["p99"] for r in results[base_label]) / len(results[base_label])
    lines = [
        "# REST API benchmark", "",
        (f"Date: {dt.date.today().isoformat()} · machine: {os.cpu_count()} cores, "
         f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB RAM, {platform.platform()}, "
         f"Python {platform.python_version()} · load average after each measurement: "
         f"{min(r['load'] for rs in results.values() for r in rs):.1f}–"
         f"{max(r['load'] for rs in results.values() for r in rs):.1f} "
         "(the machine is shared with other jobs, so absolute numbers are noisy; compare rows of the same run)."), "",
        (f"Query: `GET {QUERY}` (fentanyl seizures in Sonora in one quarter, newest first, page of 50, "
         f"with the total count) over **{args.rows:,} seizure records**; response {size:,} bytes. "
         "Authenticated as an analyst with an API token, checked against the store or, on a cache hit, against "
         "what the worker read from it under an unchanged change epoch (puente/store/epoch.py). "
         "Records are stored in arrival (date) order, as ingest leaves them. Datasette answers "
         f"`{DATASETTE_QUERY}` over the same rows in SQLite."),
        "",
        (f"Every server is one Uvicorn worker in its own process unless its row names more workers, all running at "
         f"once; wrk (2 threads, "
         f"{args.clients} connections, {args.seconds} s, keep-alive) measures each in turn, {args.rounds} interleaved "
         f"rounds with {args.settle:g} s of rest after each, the baseline first and Datasette only once, last "
         "(a server that cannot keep up goes on working through queued requests and would slow the next one); "
         "the table gives the mean of the rounds (and the range of requests/s)."), "",
        "| server | requests/s (range) | p50 (ms) | p99 (ms) | non-2xx | share of baseline req/s | p99 / baseline p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        rps = [r["rps"] for r in runs]
        mean = {k: sum(r[k] for r in runs) / len(runs) for k in ("rps", "p50", "p99", "non2xx")}
        lines.append(f"| {name} | {mean['rps']:,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | {mean['p50']:.1f} | "
                     f"{mean['p99']:.1f} | {int(sum(r['non2xx'] for r in runs))} | {mean['rps'] / base_rps:.1%} | "
                     f"{mean['p99'] / base_p99:.1f}× |")
    lines += ["", ("Reproduce: `python -m bench.api` (needs `wrk` from Debian, the PostgreSQL server and the "
              "`bench` extra for Datasette; `--no-postgres` skips PostgreSQL)."), ""]
    if plan:
        lines += ["## PostgreSQL plans (page, then count)", "", "```", plan, "```", ""]
    target = ROOT / "bench" / "results" / "api.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(target.read_text())


if __name__ == "__main__":
    main()
