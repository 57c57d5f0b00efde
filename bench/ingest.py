"""Ingest benchmark: Puente's full pipeline against DuckDB's own CSV reader, same file, same run.

    python -m bench.ingest --rows 1000000 [--profile] [--out bench/results/ingest.md]

1. Generates N realistic seizure-event rows as CSV (bench/seizures.py: places as agencies write
   them, EN/ES drug and unit spellings, pills and masses).
2. Puente: ``ingest_file`` into a fresh node's DuckDB store with full validation, normalization,
   geocoding, ids, dedupe and quarantine (profile ``seizure-us``).
3. Baseline (the speed limit): ``CREATE TABLE ... AS SELECT * FROM read_csv(file)`` in DuckDB.
Reports rows/s for both and the ratio, and writes the Markdown result file.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import platform
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from bench.seizures import write_csv
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node

TARGET = 1 / 3


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


def run_puente(path: Path, work: Path, profile: bool) -> tuple[float, str, str]:
    node = Node.init(work / "node", "us-bench", "US")
    with node.open_store() as store:
        prof = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if prof:
            prof.enable()
        report = ingest_file(node, store, path, get_profile("seizure-us"))
        if prof:
            prof.disable()
        elapsed = time.perf_counter() - started
    top = ""
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        top = out.getvalue()
    assert report.balanced
    detail = (f"{report.summary('en')}; places resolved {report.places_resolved} of {report.places_total}")
    return elapsed, detail, top


def run_duckdb(path: Path, work: Path) -> float:
    con = duckdb.connect(str(work / "raw.duckdb"))
    started = time.perf_counter()
    con.execute("CREATE TABLE raw AS SELECT * FROM read_csv(?)", [str(path)])
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the Puente run (slower)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ingest.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="puente-bench-"))
    try:
        about = machine()
        path = work / "seizures.csv"
        started = time.perf_counter()
        write_csv(path, args.rows)
        generated = time.perf_counter() - started
        raw = run_duckdb(path, work)  # first, and again after Puente, to see the machine's noise
        puente, detail, top = run_puente(path, work, args.profile)
        (work / "again").mkdir()
        raw = min(raw, run_duckdb(path, work / "again"))
        n = args.rows
        ratio = (n / puente) / (n / raw)
        lines = [
            "# Ingest benchmark",
            "",
            f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {about}",
            (f"- File: {n:,} generated seizure-event rows, {path.stat().st_size / 1e6:.0f} MB CSV "
             f"(generated in {generated:.1f} s)"),
            f"- Command: `python -m bench.ingest --rows {n}`",
            "",
            "| run | seconds | rows/s |",
            "|---|---:|---:|",
            f"| DuckDB `read_csv` into a table (baseline, best of 2) | {raw:.2f} | {n / raw:,.0f} |",
            (f"| Puente `ingest_file` (validate, normalize, geocode, ids, dedupe, quarantine) | {puente:.2f} | "
             f"{n / puente:,.0f} |"),
            "",
            (f"**Ratio: Puente runs at {ratio:.3f} of raw DuckDB speed (1/{1 / ratio:.0f}); target 1/3: "
             f"{'met' if ratio >= TARGET else 'not met'}.**"),
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
            head, _, _ = args.out.read_text(encoding="utf-8").partition(marker)
            args.out.write_text(head + marker + "\n" + text, encoding="utf-8")
        else:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
