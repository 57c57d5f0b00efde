"""What it costs hit/no-hit that a hit's two sides must share more than the names (session 15; ``minimum.match``): a
field the minimum sets add to the names (birth date, CURP, id number) carried by both, so an answering record without
a date or an identifier no longer answers a query on the names alone. Before/after on the same encodings,
scored by ``bench.hits_recall.score`` (recall and precision per query record against the truth, beside the open
linker and the naive exact key): FEBRL4 (5,000 x 5,000; given name, surname, birth date, id number) and fresh simulated worlds.

    PYTHONPATH=. python -m bench.hits_minimum --seeds 94001 94013 --scale 3000
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench import hits_recall


def both(run: Any) -> dict[str, Any]:
    out = {}
    for label, on in (("before", False), ("after", True)):
        hits_recall.BEYOND_NAMES = on
        r = run()
        out[label] = {"hits": r["hits"], "missed_by_hits": r["missed_by_hits"]}
        out["open_er"], out["naive"], out["with_mate"] = r["open_er"], r["naive"], r["with_mate"]
    hits_recall.BEYOND_NAMES = True
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[94001])
    parser.add_argument("--scale", type=int, default=3000)
    args = parser.parse_args()
    out: dict[str, Any] = {"febrl4": both(hits_recall.febrl)}
    print(json.dumps(out, default=str), flush=True)
    for seed in args.seeds:
        out[f"world {seed}@{args.scale}"] = both(lambda s=seed: hits_recall.world(None, s, args.scale))
        print(json.dumps(out[f"world {seed}@{args.scale}"], default=str), flush=True)
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
