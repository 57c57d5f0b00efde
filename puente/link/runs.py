"""Entity resolution against a node's store: run, re-cluster, review decisions.

A run reads every record of a kind (the node's own and those received from partners:
``owner_node`` differs, the table is the same), resolves them with :mod:`puente.link.resolve`
and replaces the kind's rows in ``link_matches`` and ``link_entities``. Analyst decisions
live in ``link_decisions`` and are applied on every clustering, so they survive re-runs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd
import pyarrow as pa

from puente.errors import UsageError
from puente.link.resolve import birth_dates, cluster, resolve, tax_ids
from puente.link.specs import get_spec
from puente.store.base import Store


@dataclass
class RunReport:
    run_id: str
    kind: str
    records: int
    pairs: int
    clusters: int
    cross_node_clusters: int
    skipped: list[str] = field(default_factory=list)  # training steps the records could not support, with why


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def load_records(store: Store, kind: str) -> pd.DataFrame:
    table = get_spec(kind).kind
    return store.query_arrow(f"SELECT * FROM {table}").to_pandas()


def decisions(store: Store, kind: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Confirms and splits in force: the latest decision about a pair wins."""
    rows = store.query("SELECT record_l, record_r, decision FROM link_decisions WHERE kind = ? "
                       "ORDER BY decided_at, decision_id", [kind])
    latest: dict[tuple[str, str], str] = {}
    for a, b, decision in rows:
        latest[tuple(sorted((a, b)))] = decision
    confirms = [pair for pair, d in latest.items() if d == "confirm"]
    splits = [pair for pair, d in latest.items() if d == "split"]
    return confirms, splits


def _anchor_order(records: pd.DataFrame) -> dict[str, Any]:
    if "ingested_at" not in records.columns:
        return {}
    stamps = pd.to_datetime(records["ingested_at"], errors="coerce")
    return {rid: (s.isoformat() if not pd.isna(s) else "9999") for rid, s in zip(records["id"], stamps)}


def _write_entities(store: Store, kind: str, run_id: str, clusters: dict[str, str], owners: dict[str, str]) -> None:
    ids = list(clusters)
    data = pa.table({"kind": [kind] * len(ids), "record_id": ids, "cluster_id": [clusters[i] for i in ids],
                     "owner_node": [owners.get(i) for i in ids], "run_id": [run_id] * len(ids)})
    store.execute("DELETE FROM link_entities WHERE kind = ?", [kind])
    store.insert_arrow("link_entities", data)


def run(store: Store, kind: str, backend: str = "duckdb", threshold: float | None = None,
        spark: Any = None) -> RunReport:
    spec = get_spec(kind)
    if threshold is not None and not 0 < threshold <= 1:  # a probability (NaN fails every comparison)
        raise UsageError("link_bad_threshold", threshold=threshold)
    records = load_records(store, spec.kind)
    if records.empty:
        raise UsageError("link_no_records", kind=spec.kind)
    confirms, splits = decisions(store, spec.kind)
    started = _now()
    threshold = spec.threshold if threshold is None else threshold
    result = resolve(spec.kind, records, backend=backend, spark=spark, threshold=threshold,
                     confirms=confirms, splits=splits, anchor_order=_anchor_order(records))
    run_id = "run-" + uuid.uuid4().hex[:12]
    pairs = result.pairs
    owners = dict(zip(records["id"], records.get("owner_node", pd.Series([None] * len(records)))))
    with store.transaction():
        store.execute("DELETE FROM link_matches WHERE kind = ?", [spec.kind])
        store.insert_arrow("link_matches", pa.table({
            "kind": [spec.kind] * len(pairs), "record_l": pairs["unique_id_l"].astype(str).tolist(),
            "record_r": pairs["unique_id_r"].astype(str).tolist(),
            "match_weight": pairs["match_weight"].astype(float).tolist(),
            "match_probability": pairs["match_probability"].astype(float).tolist(),
            "evidence": pairs["evidence"].tolist(), "run_id": [run_id] * len(pairs)}))
        _write_entities(store, spec.kind, run_id, result.clusters, owners)
        store.execute("INSERT INTO link_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [run_id, spec.kind, backend, started, _now(), len(records), len(pairs),
                       result.cluster_count, threshold, json.dumps(result.model, default=str)])
    return RunReport(run_id, spec.kind, len(records), len(pairs), result.cluster_count,
                     _cross_node(result.clusters, owners), result.skipped)


def _cross_node(clusters: dict[str, str], owners: dict[str, str]) -> int:
    nodes: dict[str, set[str]] = {}
    for rec, cid in clusters.items():
        nodes.setdefault(cid, set()).add(owners.get(rec) or "")
    return sum(1 for n in nodes.values() if len(n) > 1)


def recluster(store: Store, kind: str) -> int:
    """Re-apply the clustering to the stored pairs and current decisions (no re-training)."""
    spec = get_spec(kind)
    last = store.query("SELECT run_id, threshold FROM link_runs WHERE kind = ? ORDER BY started_at DESC LIMIT 1",
                       [spec.kind])
    if not last:
        return 0
    run_id, threshold = last[0]
    ents = store.query("SELECT record_id, owner_node FROM link_entities WHERE kind = ?", [spec.kind])
    pairs = store.query_arrow("SELECT record_l AS unique_id_l, record_r AS unique_id_r, match_probability "
                              "FROM link_matches WHERE kind = ?", [spec.kind]).to_pandas()
    records = load_records(store, spec.kind)
    confirms, splits = decisions(store, spec.kind)
    clusters = cluster([r for r, _ in ents], pairs, threshold, confirms, splits, _anchor_order(records),
                       birth_dates(records, "id", "birth_date"), tax_ids(records, "id", "tax_id"))
    with store.transaction():
        _write_entities(store, spec.kind, run_id, clusters, dict(ents))
    return len(set(clusters.values()))


def decide(store: Store, kind: str, record_l: str, record_r: str, decision: str, analyst: str,
           reason: str = "") -> str:
    """Record an analyst's confirm or split of a pair and re-cluster at once."""
    spec = get_spec(kind)
    if decision not in ("confirm", "split"):
        raise UsageError("link_bad_decision", decision=decision)
    if record_l == record_r:
        raise UsageError("link_same_record", record=record_l)
    known = {r[0] for r in store.query(f"SELECT id FROM {spec.kind} WHERE id IN (?, ?)",
                                       [record_l, record_r])}
    for rec in (record_l, record_r):
        if rec not in known:
            raise UsageError("link_unknown_record", record=rec, kind=spec.kind)
    decision_id = "dec-" + uuid.uuid4().hex[:12]
    a, b = sorted((record_l, record_r))
    with store.transaction():
        store.execute("INSERT INTO link_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [decision_id, spec.kind, a, b, decision, analyst, reason, _now()])
        recluster(store, spec.kind)
    return decision_id


def cluster_of(store: Store, kind: str, record_id: str) -> str | None:
    return cast(str | None, store.scalar("SELECT cluster_id FROM link_entities WHERE kind = ? AND record_id = ?",
                                         [get_spec(kind).kind, record_id]))


def review_list(store: Store, kind: str, low: float = 0.5, high: float = 1.0, limit: int = 50,
                cross_node_only: bool = False) -> list[dict[str, Any]]:
    """Scored pairs for an analyst, with evidence and any decision already taken."""
    spec = get_spec(kind)
    rows = store.query(
        "SELECT m.record_l, m.record_r, m.match_weight, m.match_probability, m.evidence, "
        "el.owner_node, er.owner_node, el.cluster_id = er.cluster_id "
        "FROM link_matches m LEFT JOIN link_entities el ON el.kind = m.kind AND el.record_id = m.record_l "
        "LEFT JOIN link_entities er ON er.kind = m.kind AND er.record_id = m.record_r "
        "WHERE m.kind = ? AND m.match_probability >= ? AND m.match_probability <= ? "
        "ORDER BY m.match_probability, m.record_l, m.record_r", [spec.kind, low, high])
    confirms, splits = decisions(store, spec.kind)
    decided = {p: "confirm" for p in confirms} | {p: "split" for p in splits}
    out = []
    for a, b, weight, prob, evidence, owner_a, owner_b, same in rows:
        if cross_node_only and owner_a == owner_b:
            continue
        out.append({"record_l": a, "record_r": b, "match_weight": weight, "match_probability": prob,
                    "evidence": json.loads(evidence), "cross_node": owner_a != owner_b, "same_cluster": bool(same),
                    "decision": decided.get(tuple(sorted((a, b))))})
        if len(out) >= limit:
            break
    return out


def entities_table(store: Store) -> pa.Table:
    """Resolved entities of the latest run of each kind: one row per member record, with its entity id
    (``puente export entity``). An entity's id is its oldest record's id, stable across re-runs."""
    return store.query_arrow(
        "SELECT e.cluster_id AS entity_id, e.kind, e.record_id, e.owner_node, e.run_id, "
        "COUNT(*) OVER (PARTITION BY e.kind, e.cluster_id) AS members "
        "FROM link_entities e ORDER BY e.kind, e.cluster_id, e.record_id")
