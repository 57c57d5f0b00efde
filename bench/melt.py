"""Melt benchmark: a wide sector file ingested with ``melt`` against the same figures already long.

    python -m bench melt --lines 5000 [--out bench/results/melt.md]

1. Generates a pipe-separated USBP-shaped file: one row per (fiscal year, month), one column per sector
   (the 20 sectors of the built-in profile ``usbp-sector-apprehensions``), random counts.
2. Puente with melt: ``ingest_file`` with that profile (each line becomes 20 statistic records).
3. Baseline: the same figures written long (one line per month and sector, the sector's gazetteer name in
   a column) and ingested with the same settings but no ``melt``: the cost of the same records without
   the unpivot. Both into fresh DuckDB stores, in the same run; the stored records are checked equal
   (same content hashes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.ingest import machine
from puente.ingest.pipeline import ingest_file
from puente.ingest.profile import get_profile
from puente.node import Node


def write_files(lines: int, folder: Path) -> tuple[Path, Path]:
    spec = get_profile("usbp-sector-apprehensions").melt
    assert spec is not None
    rng = random.Random(12)
    months = ["OCT", "NOV", "DEC", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP"]
    wide = folder / "wide.psv"
    long = folder / "long.psv"
    with wide.open("w", encoding="utf-8") as w, long.open("w", encoding="utf-8") as lg:
        w.write("|".join(["Fiscal Year", "Month", *spec.columns]) + "\n")
        lg.write("Fiscal Year|Month|sector|value\n")
        for i in range(lines):
            fy, month = 1900 + i // 12, months[i % 12]  # one line per fiscal month, never repeated
            counts = [str(rng.randrange(0, 40_000)) for _ in spec.columns]
            w.write("|".join([str(fy), month, *counts]) + "\n")
            for sector, count in zip(spec.columns.values(), counts, strict=True):
                lg.write(f"{fy}|{month}|{sector}|{count}\n")
    return wide, long


def run(path: Path, work: Path, melt: bool) -> tuple[float, int, list[str]]:
    home = work / ("melt" if melt else "long")
    shutil.rmtree(home, ignore_errors=True)
    node = Node.init(home, "us-bench", "US")
    profile = get_profile("usbp-sector-apprehensions")
    if not melt:
        profile = replace(profile, melt=None)
    with node.open_store() as store:
        start = time.perf_counter()
        report = ingest_file(node, store, path, profile)
        seconds = time.perf_counter() - start
        assert report.balanced and report.quarantined == 0
        hashes = sorted(str(h) for (h,) in store.query("SELECT content_hash FROM statistic"))
    return seconds, report.stored, hashes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench melt", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000, help="wide lines (x 20 sectors = records)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (the best is kept)")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown result here")
    args = parser.parse_args(argv)
    state = machine()
    work = Path(tempfile.mkdtemp(prefix="puente-melt-"))
    try:
        wide, long = write_files(args.lines, work)
        run(wide, work, melt=True)  # warm-up: imports, gazetteer, caches (not timed)
        long_s, melt_s = float("inf"), float("inf")
        for _ in range(args.repeat):  # alternate, keep the best of each: a shared machine's load moves
            seconds, long_n, long_pairs = run(long, work, melt=False)
            long_s = min(long_s, seconds)
            seconds, melt_n, melt_pairs = run(wide, work, melt=True)
            melt_s = min(melt_s, seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # the same records either way (content hashes; ids differ only by each node's own HMAC key)
    assert melt_n == long_n == args.lines * 20 and melt_pairs == long_pairs
    load_end = os.getloadavg()[0]
    text = "\n".join([
        "# Melt benchmark", "",
        f"{dt.date.today().isoformat()}; {state}; load average {load_end:.1f} at the end.", "",
        f"{args.lines:,} wide lines x 20 sectors = {melt_n:,} statistic records, DuckDB store, same run. "
        "The stored records are the same (content hashes) both ways.", "",
        f"Best of {args.repeat} alternating runs each, after one untimed warm-up.", "",
        "| run | seconds | records/s |", "|---|---|---|",
        f"| baseline: the same figures already long, no melt | {long_s:.2f} | {long_n / long_s:,.0f} |",
        f"| wide file with `melt` (usbp-sector-apprehensions) | {melt_s:.2f} | {melt_n / melt_s:,.0f} |",
        "", f"Melt costs {melt_s / long_s:.2f}x the long file's time.", ""])
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
