"""`python -m bench TOPIC [OPTIONS]`: run one benchmark; `python -m bench --help` lists them.

Each topic is a module of this package with a ``main()`` that reads its own options
(`python -m bench TOPIC --help`). Results go to bench/results/ and are summarized in BENCHMARKS.md.
Benchmarks need the extras: pip install -e '.[bench,spark]' (or `make setup`).
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def topics() -> dict[str, str]:
    """Benchmark modules (those with a ``main()``) and the first line of their docstring, read without
    importing them (their libraries are slow to import)."""
    out = {}
    for path in sorted(HERE.glob("[!_]*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            first = " ".join((ast.get_docstring(tree) or "").strip().split("\n\n")[0].split())
            out[path.stem] = first if len(first) <= 110 else first[:107] + "..."
    return out


def usage() -> str:
    width = max(map(len, topics()))
    lines = [__doc__.strip().splitlines()[0], "", "usage: python -m bench TOPIC [OPTIONS]   (make bench BENCH_ARGS='TOPIC ...')",
             "       python -m bench TOPIC --help", "", "topics:"]
    lines += [f"  {name:<{width}}  {summary}" for name, summary in topics().items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    topic, rest = args[0], args[1:]
    if topic not in topics():
        print(f"bench: unknown topic {topic!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{topic}")
    sys.argv = [f"python -m bench {topic}", *rest]
    module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
