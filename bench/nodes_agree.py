"""Nodes agree at scale (issue 13): both demo nodes compute the same joint digest from the same shared records.

    PYTHONPATH=. nice -n 10 python -m bench.nodes_agree --seed 5150 --scale 200000 --work DIR

Builds the demo pair (``puente demo``'s world: one node per country), signs the demo agreement and exchanges
bundles both ways (``connect_nodes``), then runs ``puente analyze joint`` on each node (the CLI, in a
subprocess, as an analyst runs it) and compares the two digests the nodes wrote (``joint/<partner>.json``).
Prints one markdown line per phase (wall-clock seconds, load average) and the verdict; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "-"


def main() -> None:
    from puente.api.demo_serve import connect_nodes
    from puente.demo import run_demo

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    lines = [f"nodes agree, seed {args.seed}, scale {args.scale:,}", ""]

    def phase(name: str, started: float) -> None:
        lines.append(f"- {name}: {time.perf_counter() - started:.0f} s (load {_load()})")
        print(lines[-1], flush=True)

    started = time.perf_counter()
    nodes = run_demo(args.work, Console(quiet=True), seed=args.seed, scale=args.scale)
    phase("simulate + ingest both nodes", started)
    started = time.perf_counter()
    connect_nodes(nodes["US"], nodes["MX"], (18865, 18866))
    phase("agreement + bundles both ways", started)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    digests = {}
    for country, node in nodes.items():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "puente", "--home", str(node.home), "analyze", "joint"], check=True,
                       env=env, stdout=subprocess.DEVNULL)
        phase(f"`analyze joint` on the {country} node", started)
        (digest_file,) = sorted((node.home / "joint").glob("*.json"))
        digests[country] = json.loads(digest_file.read_text(encoding="utf-8"))
    us, mx = digests["US"], digests["MX"]
    records = sum(v["records"] for v in us["inputs"].values())
    same_inputs = us["inputs_sha256"] == mx["inputs_sha256"]
    same_results = us["results_sha256"] == mx["results_sha256"]
    differ = sorted(k for k in set(us["results"]) | set(mx["results"]) if us["results"].get(k) != mx["results"].get(k))
    lines += ["", f"joint records: {records:,} in {len(us['inputs'])} kinds; result tables: {len(us['results'])}",
              f"inputs digest US {us['inputs_sha256'][:16]} / MX {mx['inputs_sha256'][:16]}: "
              f"{'equal' if same_inputs else 'DIFFERENT'}",
              f"results digest US {us['results_sha256'][:16]} / MX {mx['results_sha256'][:16]}: "
              f"{'equal' if same_results else 'DIFFERENT'}" + (f" (tables differing: {', '.join(differ)})" if differ else "")]
    print("\n".join(lines[-3:]), flush=True)
    (args.work / "nodes_agree.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
