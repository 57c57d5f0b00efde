"""Score linking against the simulator's truth (``puente simulate``: truth/identities.csv).

Both countries' person files are ingested into a U.S. and a Mexican node through the normal
ingest profiles, so the records carry every variant the simulator plants (nicknames,
swapped or missing surnames, accents, typos). Entity resolution runs over the union of
both nodes' people (as a node sees them after receiving its partner's records); hit/no-hit
runs the U.S. node's people against the Mexican node's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from puente.node import Node


def build(out: Path, scale: int = 5000, seed: int = 7) -> tuple[dict[str, Node], Path]:
    """Simulate, and ingest into two fresh nodes (us-node, mx-node) under ``out``."""
    from puente.demo import ingest_simulated
    from puente.simulate import simulate

    sim = out / "sim"
    simulate(sim, seed=seed, scale=scale)
    nodes = {"US": Node.init(out / "us-node", "us-node", "US"), "MX": Node.init(out / "mx-node", "mx-node", "MX")}
    ingest_simulated(nodes, sim)
    return nodes, sim


def truth(sim: Path, kind: str = "person") -> dict[str, str]:
    """source_id -> true entity id."""
    frame = pd.read_csv(sim / "truth" / "identities.csv", dtype=str)
    frame = frame[frame["kind"] == kind]
    return dict(zip(frame["source_id"], frame["entity_id"]))


def people(node: Node) -> pd.DataFrame:
    with node.open_store() as store:
        return store.query_arrow("SELECT * FROM person ORDER BY id").to_pandas()


def er_scores(nodes: dict[str, Node], sim: Path, backend: str = "duckdb") -> dict[str, Any]:
    from puente.link.resolve import pair_scores, resolve

    records = pd.concat([people(nodes["US"]), people(nodes["MX"])], ignore_index=True)
    by_source = truth(sim)
    labels = {rid: by_source[src] for rid, src in zip(records["id"], records["source_id"]) if src in by_source}
    result = resolve("person", records, backend=backend)
    return {**pair_scores(labels, result.clusters), "records": len(records)}


def hits_scores(nodes: dict[str, Node], sim: Path, secret: bytes, threshold: float | None = None,
                min_fields: list[list[str]] | None = None) -> dict[str, Any]:
    """Precision/recall/F1 of U.S.-person -> Mexican-person hit/no-hit, one bit per U.S. record, as the nodes do it
    under an agreement whose minimum field sets are ``min_fields`` (default: ``clk.MIN_FIELDS``): only the
    records that carry one are sent, and a hit's two sides share more than the names (``minimum.exchange``). Recall is
    over every U.S. record with a mate, those the minimum keeps home included."""
    from puente.link import clk, hits
    from puente.link.minimum import complete, exchange

    a, b = people(nodes["US"]), people(nodes["MX"])
    by_source = truth(sim)
    key = hits.matching_key(secret, "bench", 1, "us-node", "mx-node")
    enc = clk.Encoder(key, "person", clk.DEFAULT_FIELDS["person"])
    ea, eb = enc.encode(a.to_dict("records")), enc.encode(b.to_dict("records"))
    minimum = clk.MIN_FIELDS["person"] if min_fields is None else min_fields
    found = exchange(ea, eb, enc.layout, key, minimum, hits.DEFAULT_THRESHOLD if threshold is None else threshold,
                     hits.content_keys(b))
    ta = np.array([by_source.get(s, f"?a{i}") for i, s in enumerate(a["source_id"])])
    tb = np.array([by_source.get(s, f"?b{i}") for i, s in enumerate(b["source_id"])])
    # one bit per query record; a hit counts as right only if its reference is the same person
    idx_i, idx_j = found["i"].to_numpy().astype(np.int64), found["j"].to_numpy().astype(np.int64)
    right = int((ta[idx_i] == tb[idx_j]).sum())
    with_mate = int(np.isin(ta, tb).sum())
    precision, recall = right / max(len(found), 1), right / max(with_mate, 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-9),
            "with_mate": with_mate, "hits": len(found), "right": right, "a": len(a), "b": len(b),
            "sent": int(complete(ea, enc.layout, minimum).sum())}
