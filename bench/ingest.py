"""Ingest benchmark: Puente's full pipeline against DuckDB's own CSV reader, same file, same run.

    python -m bench.ingest --rows 1000000 [--profile] [--engine auto|columnar|row] [--out bench/results/ingest.md]

1. Generates N realistic seizure-event rows as CSV (bench/seizures.py: places as agencies write
   them, EN/ES drug and unit spellings, pills and masses).
2. Puente: ``ingest_file`` into a fresh node's DuckDB store with full validation, normalization,
   geocoding, ids, dedupe and quarantine (profile ``seizure-us``).
3. Baseline (the speed limit): ``CREATE TABLE ... AS SELECT * FROM read_csv(file)`` in DuckDB.
4. Second baseline: ``read_csv`` + ``INSERT`` into a table as wide and as keyed as Puente's (the
   kind's columns, ``id TEXT PRIMARY KEY``), ids made in SQL: what storing alone costs.
Puente runs in a child process, so its peak memory (max RSS) is its own.
Reports rows/s, the ratios and the peak memory, and writes the Markdown result file.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.seizures import write_csv
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node

TARGET = 1 / 6
CPU: dict[str, Any] = {}  # CPU seconds (all threads of the process) of each timed run
MEMORY_BAR = 2 * 1024**3


def machine() -> str:
    mem = ""
    try:
        kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores{mem}, {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, DuckDB {duckdb.__version__}; load average {load:.1f} at start")


def run_puente(path: Path, work: Path, profile: bool, engine: str = "auto") -> tuple[float, str, str]:
    node = Node.init(work / "node", "us-bench", "US")
    with node.open_store() as store:
        prof = cProfile.Profile() if profile else None
        cpu_started = time.process_time()
        started = time.perf_counter()
        if prof:
            prof.enable()
        report = ingest_file(node, store, path, get_profile("seizure-us"), engine=engine)
        if prof:
            prof.disable()
        elapsed = time.perf_counter() - started
        CPU["puente"] = time.process_time() - cpu_started
    top = ""
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        top = out.getvalue()
    assert report.balanced
    detail = (f"{report.summary('en')}; places resolved {report.places_resolved} of {report.places_total}; "
              f"path: {report.engine}")
    return elapsed, detail, top


def run_puente_child(path: Path, work: Path, profile: bool, engine: str,
                     code: str | None = None) -> tuple[float, str, str, int, float]:
    """Puente in a fresh interpreter: (seconds, account, profile, peak RSS in bytes, CPU seconds of the ingest)."""
    env = {**os.environ, "PYTHONPATH": code} if code else None  # another checkout's code (--compare)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-m", "bench.ingest", "--child", str(path), str(work), engine]
                         + (["--profile"] if profile else []), check=False, capture_output=True, text=True,
                         env=env, cwd=code)
    if out.returncode:
        raise SystemExit(f"the Puente run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the whole child (start-up and node init included)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return result["seconds"], result["detail"], result["top"], result["maxrss"], cpu


def run_keyed_insert(path: Path, work: Path) -> float:
    """read_csv + INSERT into a table with the seizure kind's columns and a TEXT primary key."""
    from puente.ingest.pipeline import schema_for
    from puente.model import load_model

    kind = load_model().kind("seizure")
    cols = {**kind.columns(), "extra": "TEXT"}
    con = duckdb.connect(str(work / "keyed.duckdb"))
    con.execute("CREATE TABLE keyed (" + ", ".join(
        f"{c} {t_}{' PRIMARY KEY' if c == 'id' else ''}" for c, t_ in cols.items()) + ")")
    assert schema_for(kind).names == list(cols)
    started = time.perf_counter()
    cpu = time.process_time()
    con.execute("INSERT INTO keyed (id, source_id, date, place_text, country, agency, drug, form, quantity, unit, "
                "purity, pill_stamp, conveyance, port_text, notes, source_row) "
                "SELECT 'n:seizure:' || left(sha256(case_id), 24), case_id, date, place, country, agency, drug, form, "
                "quantity, unit, purity, pill_stamp, conveyance, port, notes, row_number() OVER () "
                "FROM read_csv(?, all_varchar = false)", [str(path)])
    elapsed = time.perf_counter() - started
    CPU.setdefault("keyed", []).append(time.process_time() - cpu)
    con.close()
    return elapsed


def run_duckdb(path: Path, work: Path) -> float:
    con = duckdb.connect(str(work / "raw.duckdb"))
    started = time.perf_counter()
    cpu = time.process_time()
    con.execute("CREATE TABLE raw AS SELECT * FROM read_csv(?)", [str(path)])
    elapsed = time.perf_counter() - started
    CPU.setdefault("raw", []).append(time.process_time() - cpu)
    con.close()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the Puente run (slower)")
    parser.add_argument("--engine", default="auto", choices=["auto", "columnar", "row"])
    parser.add_argument("--with-row", action="store_true", help="also time the row path (slow)")
    parser.add_argument("--compare", metavar="CHECKOUT", help="also time Puente from another checkout (e.g. main)")
    parser.add_argument("--child", nargs=3, metavar=("FILE", "WORK", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ingest.md")
    args = parser.parse_args(argv)
    if args.child:
        seconds, detail, top = run_puente(Path(args.child[0]), Path(args.child[1]), args.profile, args.child[2])
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"seconds": seconds, "detail": detail, "top": top, "maxrss": maxrss, "cpu": CPU["puente"]}))
        return
    work = Path(tempfile.mkdtemp(prefix="puente-bench-"))
    try:
        about = machine()
        path = work / "seizures.csv"
        started = time.perf_counter()
        write_csv(path, args.rows)
        generated = time.perf_counter() - started
        raw = run_duckdb(path, work)  # first, and again after Puente, to see the machine's noise
        keyed = run_keyed_insert(path, work)
        load_before = os.getloadavg()[0]
        (work / "p").mkdir()
        puente, detail, top, maxrss, puente_cpu = run_puente_child(path, work / "p", args.profile, args.engine)
        load_after = os.getloadavg()[0]
        row_line = ""
        if args.with_row:
            (work / "r").mkdir()
            row_s, _, _, row_rss, _ = run_puente_child(path, work / "r", False, "row")
            row_line = (f"| Puente, row path (the previous pipeline; peak {row_rss / 1024**2:,.0f} MB) | "
                        f"{row_s:.2f} | {args.rows / row_s:,.0f} | – |")
        if args.compare:
            (work / "c").mkdir()
            cmp_s, _, _, cmp_rss, cmp_cpu = run_puente_child(path, work / "c", False, args.engine,
                                                             str(Path(args.compare).resolve()))
            row_line += ("\n" if row_line else "") + (
                f"| Puente from `{args.compare}` (the code before this change; peak {cmp_rss / 1024**2:,.0f} MB) | "
                f"{cmp_s:.2f} | {args.rows / cmp_s:,.0f} | {cmp_cpu:.1f} |")
        (work / "again").mkdir()
        raw = min(raw, run_duckdb(path, work / "again"))
        (work / "again2").mkdir()
        keyed = min(keyed, run_keyed_insert(path, work / "again2"))
        n = args.rows
        ratio = (n / puente) / (n / raw)
        ratio_keyed = (n / puente) / (n / keyed)
        lines = [
            "# Ingest benchmark",
            "",
            f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {about}; load average {load_before:.1f} before and {load_after:.1f} after Puente's run",
            "- CPU seconds: user + system of all threads; for Puente, of its whole child process (start-up included)",
            (f"- File: {n:,} generated seizure-event rows, {path.stat().st_size / 1e6:.0f} MB CSV "
             f"(generated in {generated:.1f} s)"),
            f"- Command: `python -m bench.ingest --rows {n}{' --engine ' + args.engine if args.engine != 'auto' else ''}"
            f"{' --with-row' if args.with_row else ''}{' --compare ' + args.compare if args.compare else ''}`",
            "",
            "| run | seconds | rows/s | CPU seconds |",
            "|---|---:|---:|---:|",
            (f"| DuckDB `read_csv` into a table (baseline, best of 2) | {raw:.2f} | {n / raw:,.0f} | "
             f"{' / '.join(f'{c:.1f}' for c in CPU['raw'])} |"),
            (f"| DuckDB `read_csv` + INSERT into an equally keyed 56-column table (best of 2) | {keyed:.2f} | "
             f"{n / keyed:,.0f} | {' / '.join(f'{c:.1f}' for c in CPU['keyed'])} |"),
            (f"| Puente `ingest_file` (validate, normalize, geocode, ids, dedupe, quarantine) | {puente:.2f} | "
             f"{n / puente:,.0f} | {puente_cpu:.1f} |"),
            *([row_line] if row_line else []),
            "",
            (f"**Ratio to `read_csv`: {ratio:.3f} (1/{1 / ratio:.1f}); bar 1/6: "
             f"{'met' if ratio >= TARGET else 'not met'}. Ratio to `read_csv` + keyed INSERT: {ratio_keyed:.3f} "
             f"(1/{1 / ratio_keyed:.1f}). Peak memory (max RSS of the Puente process): {maxrss / 1024**2:,.0f} MB; "
             f"bar 2 GB: {'met' if maxrss < MEMORY_BAR else 'not met'}.**"),
            "",
            f"Puente's account: {detail}.",
        ]
        if top:
            lines += ["", "<details><summary>cProfile, top 15 by own time</summary>", "", "```",
                      top.strip(), "```", "</details>"]
        text = "\n".join(lines) + "\n"
        print(text)
        marker = "<!-- measured -->"
        if args.out.exists() and marker in args.out.read_text(encoding="utf-8"):
            head, _, _ = args.out.read_text(encoding="utf-8").rpartition(marker)  # the last run only
            args.out.write_text(head + marker + "\n" + text, encoding="utf-8")
        else:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
