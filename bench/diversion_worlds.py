"""Diversion bar only, on worlds kept on disk: build the node once, run `puente analyze precursors`, score.

    PYTHONPATH=. nice -n 10 python -m bench.diversion_worlds --root /work/worlds/x --seed 41001 --scale 60000

Each world is ``ROOT/s<seed>_<scale>`` (the layout of ``bench.analytics_truth --work``; a world the full
harness built is reused as is). ``--build-only`` simulates and ingests without analysing (worlds can be built
before the code that scores them is frozen); ``--analysis DIR`` names the analysis directory inside the world
(default ``analysis_precursors``, so a full harness run's ``analysis`` is left alone). The scores are
``bench.analytics_truth.diversion`` on the written ``precursors_risk`` (issue 13's definitions) and, beside them,
the old fixed-weight score (``diversion_fixed``: ``precursors.PRIOR_WEIGHTS`` over the same written features, the
score main writes) with its old ablation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.analytics_truth import Run, build_node, diversion
from puente.node import Node


def world(root: Path, seed: int, scale: int) -> Path:
    work = root / f"s{seed}_{scale}"
    if not (work / "node" / "node.toml").exists():
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build_node(work, seed, scale)
        print(f"built {work} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return work


def analyze_precursors(work: Path, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "puente", "--home", str(work / "node"), "analyze", "precursors",
                    "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--seed", type=int, action="append", required=True)
    parser.add_argument("--scale", type=int, default=60_000)
    parser.add_argument("--analysis", default="analysis_precursors")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="score the analysis already written")
    args = parser.parse_args()
    for seed in args.seed:
        work = world(args.root, seed, args.scale)
        if args.build_only:
            continue
        out = work / args.analysis
        if not (args.reuse and (out / "precursors_risk.parquet").exists()):
            analyze_precursors(work, out)
        run = Run(work / "sim", Node.load(work / "node"), out)
        print(json.dumps({"seed": seed, "scale": args.scale, **diversion(run)}, default=float), flush=True)


if __name__ == "__main__":
    main()
