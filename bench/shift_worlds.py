"""Route-shift worlds for tuning and scoring the shift monitors without `analyze all`.

    PYTHONPATH=. nice -n 10 python -m bench.shift_worlds --root /work/worlds/shifts --seed 7 --seed 11

For each seed: build (once) the node of ``bench.analytics_truth.build_node`` in ROOT/s<seed>_<scale>, run
``puente analyze corridors`` (and ``--firearms``: ``puente analyze firearms``) into its ``analysis`` folder, and
score the written tables with the harness's own functions (corridor recall, shift detection, traces) —
the definitions are the harness's, nothing is re-scored here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import analytics_truth as at
from puente.node import Node


def world(root: Path, seed: int, scale: int) -> at.Run:
    work = root / f"s{seed}_{scale}"
    if not (work / "node").exists():
        work.mkdir(parents=True, exist_ok=True)
        at.build_node(work, seed, scale)
    return at.Run(work / "sim", Node.load(work / "node"), work / "analysis")


def analyze(run: at.Run, name: str, force: bool = False) -> None:
    if not force and (run.out / f"{name}_shifts.parquet" if name == "corridors"
                      else run.out / f"{name}_source_states.parquet").exists():
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "puente", "--home", str(run.node.home), "analyze", name,
                    "--out", str(run.out), "--link", "never"], check=True, env=env, stdout=subprocess.DEVNULL)


def score(run: at.Run) -> dict[str, Any]:
    return {"corridors": at.corridor_recall(run), "shifts": at.shift_detection(run)}


def line(seed: int, s: dict[str, Any]) -> str:
    c, sh = s["corridors"], s["shifts"]
    p, b = sh["product"], sh["baseline"]
    false = "; ".join(f"{r.level} {r.crossing or ''}{'→' if r.crossing and r.destination else ''}{r.destination or ''}"
                      f" {r.start // 12}-{r.start % 12 + 1:02d}" for r in p["false_list"].itertuples())
    return (f"seed {seed}: recall {c['recall']:.2f} (naive {c['baseline']:.2f}); shifts {p['detected']}/{p['planted']} "
            f"{p['delays']} (naive {b['detected']}/{b['planted']}); false {p['false_alarms']} = "
            f"{p['false_per_year']:.2f}/yr (naive {b['false_per_year']:.1f}/yr) [{false}]")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path("/work/worlds/shifts"))
    parser.add_argument("--scale", type=int, default=200_000)
    parser.add_argument("--seed", type=int, action="append", required=True)
    parser.add_argument("--force", action="store_true", help="re-run the analyses even if written")
    parser.add_argument("--firearms", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    for seed in args.seed:
        run = world(args.root, seed, args.scale)
        if args.build_only:
            continue
        analyze(run, "corridors", args.force)
        print(line(seed, score(run)), flush=True)
        if args.firearms:
            analyze(run, "firearms", args.force)
            pu = at.purchasers(run)
            print(f"seed {seed}: traces written {pu['traces_written']} vs guns traced {pu['guns_traced']}", flush=True)


if __name__ == "__main__":
    main()
