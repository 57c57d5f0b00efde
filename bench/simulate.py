"""Benchmark: `puente simulate` at growing scales — rows written per second and peak memory.

Baseline, measured in the same run: Python's ``csv.writer`` writing the same number of rows, of
the same width, from one pre-built row (the cost of producing the bytes with nothing generated).
Each measurement runs in its own process, and its peak memory is that process's ``ru_maxrss``
(resource.getrusage), so one scale's memory cannot hide another's. Bounded memory shows as a peak
that stays flat while the scale grows by orders of magnitude.

    python -m bench.simulate                       # scales 100,000 and 1,000,000
    python -m bench.simulate --scales 100000,1000000,10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "simulate.md"

_SIMULATE = """
import json, resource, sys, time
from pathlib import Path
from puente.simulate import simulate
out, scale = Path(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
summary = simulate(out, seed=7, scale=scale)
seconds = time.perf_counter() - started
size = sum(p.stat().st_size for p in out.rglob('*.csv'))
truth = sum(summary.truth.values())
print(json.dumps({"rows": summary.rows, "truth_rows": truth, "seconds": seconds, "bytes": size,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

_BASELINE = """
import csv, json, resource, sys, time
from pathlib import Path
out, rows = Path(sys.argv[1]), int(sys.argv[2])
row = ["CBP-2021-0001234", "03/14/2021", "San Ysidro, CA", "CBP OFO", "Fentanyl", "Pills", "12.3456", "lb", "",
       "M30", "POV", "San Ysidro POE", "", "", "SAN DIEGO FIELD OFFICE", "03/15/2021"]
started = time.perf_counter()
with out.open("w", newline="", encoding="utf-8") as handle:
    writer = csv.writer(handle, lineterminator="\\n")
    for start in range(0, rows, 50_000):
        writer.writerows([row] * min(50_000, rows - start))
seconds = time.perf_counter() - started
print(json.dumps({"rows": rows, "seconds": seconds, "bytes": out.stat().st_size,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="100000,1000000")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    rows = []
    for scale in scales:
        work = Path(tempfile.mkdtemp(prefix=f"puente-sim-{scale}-"))
        try:
            sim = _run(_SIMULATE, str(work / "sim"), str(scale))
            base = _run(_BASELINE, str(work / "baseline.csv"), str(int(sim["rows"])))
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
        rows.append((scale, sim, base))
        print(f"scale {scale:,}: {sim['rows']:,.0f} rows in {sim['seconds']:.1f} s "
              f"({sim['rows'] / sim['seconds']:,.0f} rows/s), peak {sim['maxrss_kb'] / 1024:,.0f} MB; "
              f"baseline csv.writer {base['rows'] / base['seconds']:,.0f} rows/s, peak {base['maxrss_kb'] / 1024:,.0f} MB",
              flush=True)
    _write(rows)


def _write(rows: list[tuple[int, dict[str, float], dict[str, float]]]) -> None:
    load = os.getloadavg()
    lines = [
        "# Simulator benchmark (`bench/simulate.py`)", "",
        (f"Date: {dt.date.today().isoformat()}. Machine: {os.cpu_count()} cores, 24 GB RAM, "
         f"{platform.system()} {platform.release()}, Python {platform.python_version()}. "
         f"Load average at the end of the run: {load[0]:.1f} (the machine is shared; absolute speeds vary)."), "",
        ("`puente simulate --seed 7 --scale N` (agency files of both countries plus the truth), each scale in its own "
         "process. **Baseline**: `csv.writer` writing the same number of rows (16 cells, one pre-built row), in its "
         "own process, in the same run. Rows counted are agency-file rows (truth rows are written too, not counted). "
         "Peak memory is the process's `ru_maxrss` (resource.getrusage)."), "",
        ("| scale (events) | agency rows | truth rows | output | seconds | rows/s | peak memory | baseline rows/s | "
         "baseline peak | simulator speed vs baseline |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scale, sim, base in rows:
        rate, brate = sim["rows"] / sim["seconds"], base["rows"] / base["seconds"]
        lines.append(
            f"| {scale:,} | {sim['rows']:,.0f} | {sim['truth_rows']:,.0f} | {sim['bytes'] / 2**20:,.0f} MB | "
            f"{sim['seconds']:,.1f} | {rate:,.0f} | {sim['maxrss_kb'] / 1024:,.0f} MB | {brate:,.0f} | "
            f"{base['maxrss_kb'] / 1024:,.0f} MB | {rate / brate:.2f}× |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
