"""Birth-date conflicts in person entity resolution, scored on a built world (``bench.analytics_truth.build_node``).

For one world and one code tree (``--code``: this worktree for the rule under test, another checkout for the
rule it replaces), runs the product as an analyst does — ``puente link run``, then ``puente analyze firearms`` —
and scores only what it wrote:

- purchasers: issue 13's bar, the share of the top-20 rows of ``firearms_purchasers`` that are one true person
  (``bench.analytics_truth.purchasers``), with the naive by-name grouping beside it;
- person ER: pairwise precision / recall / F1 of ``link_entities`` against ``truth/identities.csv``;
- the person clusters holding more than one distinct birth date, and how many of them are one true person.

With ``--recluster`` the last run's stored pairs are clustered again with ``--code``'s rule (``runs.recluster``,
what ``link review`` does after a decision) instead of a new ``link run``: the same pairs, another rule.

    PYTHONPATH=. python bench/dob_rule.py /work/worlds/dob6/s3307 --code /work/main --label old
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analytics_truth import Run, purchasers
from bench.code_tree import run_with_code
from puente.link.resolve import pair_scores
from puente.node import Node


def _puente(code: Path, home: Path, *args: str) -> float:
    """Run the CLI of the code tree ``code``; CPU seconds of the child."""
    return run_with_code(code, ["-m", "puente", "--home", str(home), *args])[1]


def _recluster(code: Path, home: Path) -> float:
    """The product's re-clustering of the stored pairs (what ``link review`` runs after a decision), with the
    rule of the code tree ``code``: the same pairs as the last ``link run``, clustered again; CPU seconds."""
    script = ("import sys; from pathlib import Path; from puente.node import Node; from puente.link.runs import "
              "recluster\nwith Node.load(Path(sys.argv[1])).open_store() as store: recluster(store, 'person')")
    return run_with_code(code, ["-c", script, str(home)], quiet=False)[1]


def person_scores(node: Node, sim: Path) -> dict[str, Any]:
    """ER of the stored person entities against the simulator's truth, and the multi-date clusters."""
    with node.open_store() as store:
        rows = store.query("SELECT p.id, p.source_id, p.birth_date, e.cluster_id FROM person p JOIN link_entities e "
                           "ON e.record_id = p.id AND e.kind = 'person'")
    frame = pd.DataFrame(rows, columns=["id", "source_id", "birth_date", "cluster"])
    ids = pd.read_csv(sim / "truth" / "identities.csv", dtype=str)
    truth = dict(zip(ids["source_id"], ids["entity_id"]))
    frame["entity"] = frame["source_id"].map(truth)
    frame = frame[frame["entity"].notna()]
    scores = pair_scores(dict(zip(frame["id"], frame["entity"])), dict(zip(frame["id"], frame["cluster"])))
    dated = frame[frame["birth_date"].notna()].assign(birth_date=lambda f: pd.to_datetime(f["birth_date"]).dt.date)
    # a record's date is mistyped when it is not the date most of its person's records give
    usual = dated.groupby("entity")["birth_date"].agg(lambda s: s.mode().iloc[0])
    mistyped = int((dated["birth_date"] != dated["entity"].map(usual)).sum())
    multi = dated.groupby("cluster").agg(dates=("birth_date", "nunique"), people=("entity", "nunique"))
    multi = multi[multi["dates"] > 1]
    return {**scores, "records": len(frame), "dated": len(dated), "mistyped_dates": mistyped,
            "multi_date_clusters": len(multi), "multi_date_one_person": int((multi["people"] == 1).sum())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("world", type=Path, help="a folder build_node wrote (sim/, node/)")
    parser.add_argument("--code", type=Path, required=True, help="the code tree whose CLI runs")
    parser.add_argument("--label", required=True)
    parser.add_argument("--recluster", action="store_true",
                        help="re-cluster the last run's stored pairs with --code's rule instead of `link run`")
    args = parser.parse_args()
    node = Node.load(args.world / "node")
    out = args.world / f"analysis_{args.label}"
    started = time.perf_counter()
    cpu_link = _recluster(args.code, node.home) if args.recluster else _puente(args.code, node.home, "link", "run")
    cpu_analyze = _puente(args.code, node.home, "analyze", "firearms", "--out", str(out))
    run = Run(args.world / "sim", node, out)
    result = {"world": args.world.name, "label": args.label, "code": str(args.code), "recluster": args.recluster,
              "cpu_link_s": round(cpu_link, 1), "cpu_analyze_s": round(cpu_analyze, 1),
              "wall_s": round(time.perf_counter() - started, 1),
              "purchasers": purchasers(run), "person": person_scores(node, run.sim)}
    top = pd.read_parquet(out / "firearms_purchasers.parquet").head(20)
    result["top20"] = top.drop(columns=[c for c in ("records",) if c in top]).astype(str).to_dict("records")
    line = json.dumps(result, default=str)
    print(line)
    with open(args.world.parent / "dob_rule.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()
