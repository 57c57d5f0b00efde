"""Organisation entity resolution scored on a built world (``bench.analytics_truth.build_node``; issue 13).

For one world and one code tree (``--code``: this worktree for the rule under test, /work/main for the rule it
replaces), runs ``puente link run --kind organization`` as an analyst does and scores only what it wrote
(``link_entities``) against ``truth/identities.csv`` (each record's source file and id -> the true company):

- pairwise precision / recall / F1 (``resolve.pair_scores``) over the organisation records with a true company;
- the entities that mix a front company of an organisation with legitimate importers (``truth/entities.csv``:
  role of the company), the over-merge the players7 helper found, and the size of the largest entity.

    PYTHONPATH=. python -m bench.org_er /work/worlds/orgs7/s6323_60000 --code /work/main --label main
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from bench.code_tree import run_with_code
from puente.link.resolve import pair_scores
from puente.node import Node


def link_run(code: Path, home: Path) -> float:
    """``puente link run --kind organization`` with the code tree ``code``; wall seconds."""
    return run_with_code(code, ["-m", "puente", "--home", str(home), "link", "run", "--kind", "organization"])[0]


def org_scores(node: Node, sim: Path) -> dict[str, Any]:
    with node.open_store() as store:
        rows = store.query("SELECT o.id, o.source_file, o.source_id, e.cluster_id FROM organization o "
                           "JOIN link_entities e ON e.record_id = o.id AND e.kind = 'organization'")
    frame = pd.DataFrame(rows, columns=["id", "source_file", "source_id", "cluster"])
    ids = pd.read_csv(sim / "truth" / "identities.csv", dtype=str)
    ids = ids[ids["kind"] == "organization"].assign(source_file=lambda f: f["file"].str.split("/").str[-1])
    frame["source_file"] = frame["source_file"].astype(str).str.split("/").str[-1]
    frame = frame.merge(ids[["source_file", "source_id", "entity_id"]], on=["source_file", "source_id"])
    scores = pair_scores(dict(zip(frame["id"], frame["entity_id"])), dict(zip(frame["id"], frame["cluster"])))
    ents = pd.read_csv(sim / "truth" / "entities.csv", dtype=str, keep_default_na=False).set_index("entity_id")
    frame["front"] = frame["entity_id"].map(ents["org_id"]).fillna("") != ""
    by = frame.groupby("cluster").agg(records=("id", "size"), companies=("entity_id", "nunique"),
                                      fronts=("front", "sum"), legit=("front", lambda s: int((~s).sum())))
    mixed = by[(by["fronts"] > 0) & (by["legit"] > 0)]
    return {**scores, "records": len(frame), "clusters": len(by), "multi_company_clusters": int((by["companies"] > 1).sum()),
            "front_legit_clusters": len(mixed), "front_records_mixed": int(mixed["fronts"].sum()),
            "largest_cluster": int(by["records"].max()) if len(by) else 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("world", type=Path, help="a folder build_node wrote (sim/, node/)")
    parser.add_argument("--code", type=Path, required=True, help="the code tree whose CLI runs")
    parser.add_argument("--label", required=True)
    parser.add_argument("--node", default="node", help="the node folder inside the world (default node)")
    parser.add_argument("--no-run", action="store_true",
                        help="score the entities already stored (`analyze all` ran the link when stale)")
    args = parser.parse_args()
    node = Node.load(args.world / args.node)
    seconds = 0.0 if args.no_run else link_run(args.code, node.home)
    result = {"world": args.world.name, "node": args.node, "label": args.label, "code": str(args.code),
              "link_s": round(seconds, 1), **org_scores(node, args.world / "sim")}
    print(json.dumps(result, default=str))
    (args.world.parent / "org_er.jsonl").open("a", encoding="utf-8").write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
