"""The joint picture two nodes share, and a digest of it both can compare (issue 13: "nodes agree").

Each node holds its own records in full and the partner's records as the agreement let them through. The
**joint records** are what both hold alike: this node's records as it sent them (the agreement's transform
applied again, kept only where the result is what the sharing log says the partner holds) and the
partner's records as received, each kind projected to the columns the agreement lets through, ordered by
id. ``joint_digest`` runs the shared-record analyses on those records in a scratch DuckDB (no entity
resolution: the two nodes resolve people on different records) and hashes inputs and results as
``digest.json`` does. Both nodes get the same digest from the same shared records; a different
``inputs_sha256`` points at the sharing (a bundle not yet imported, a record changed since it was sent),
equal inputs with different results at the computation.

The digest is written to ``<node home>/joint/<partner>.json`` by ``puente analyze joint`` and shown on the
joint scorecard (API and dashboard).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from puente.analyze.digest import combined, table_digest
from puente.model import load_model
from puente.node import Node
from puente.store.base import Store
from puente.store.retention import LIVE, today

# The analyses of the joint picture: those over records both nodes hold (not the public CBP statistics each
# loads itself; networks and alerts follow from the same records and are left out for time).
JOINT_ANALYSES = ("corridors", "hotspots", "precursors", "firearms")


def joint_records(node: Node, store: Store, partner: str) -> dict[str, pa.Table]:
    """Kind -> the joint records with ``partner`` (columns the agreement lets through; ``content_hash`` = the
    hash of the row as the partner holds it), ordered by id."""
    from puente.share import registry
    from puente.share.export import as_sent

    agreement, _ = registry.current(store, partner)
    out: dict[str, pa.Table] = {}
    present = store.tables()
    for kind in load_model().kinds:
        if not agreement.decide_kind(kind).allowed or kind not in present:
            continue
        mine = as_sent(node, store, partner, kind)
        # the partner's records this node may still read: none past retain_until, purged or not (docs/sharing.md)
        theirs = store.query_arrow(f"SELECT * FROM {kind} WHERE owner_node = ? AND {LIVE} ORDER BY id",
                                   [partner, today()])
        cols = [c for c in mine.column_names if c in theirs.column_names]
        both = pa.concat_tables([mine.select(cols), theirs.select(cols).cast(mine.select(cols).schema)])
        if both.num_rows:
            out[kind] = both.sort_by("id")
    return out


def joint_digest(node: Node, store: Store, partner: str) -> dict[str, Any]:
    """``{"partner", "computed_at", "inputs": {kind: {records, sha256}}, "results": {table: sha256},
    "inputs_sha256", "results_sha256"}`` of the joint picture with ``partner``."""
    from puente.analyze.suite import ANALYSES, has_rows, run_analysis, tables
    from puente.engine import open_engine

    records = joint_records(node, store, partner)
    inputs = {kind: _records_digest(t) for kind, t in sorted(records.items())}
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="puente-joint-") as tmp:
        path = Path(tmp) / "joint.duckdb"
        con = duckdb.connect(str(path))
        present = store.tables()
        for kind in [k for k in load_model().kinds if k in present]:  # a kind not shared: an empty table
            empty = store.query_arrow(f"SELECT * FROM {kind} LIMIT 0")
            table = records.get(kind, empty)
            full = pa.table({f.name: table.column(f.name).cast(f.type) if f.name in table.column_names
                             else pa.nulls(table.num_rows, f.type) for f in empty.schema})
            con.register("incoming", full)
            con.execute(f"CREATE TABLE {kind} AS SELECT * FROM incoming")
            con.unregister("incoming")
        con.close()
        with open_engine("duckdb", f"duckdb://{path}") as eng:
            for name in JOINT_ANALYSES:
                if not has_rows(eng, ANALYSES[name][0]):
                    continue
                for table, frame in tables(run_analysis(name, eng)).items():
                    results[f"{name}_{table}"] = table_digest(frame)
    return {"partner": partner, "node": node.name,
            "computed_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "inputs": inputs, "results": results, "inputs_sha256": combined(inputs),
            "results_sha256": combined(results)}


def _records_digest(table: pa.Table) -> dict[str, Any]:
    import hashlib

    lines = "\n".join(f"{a}\t{b or ''}" for a, b in zip(table.column("id").to_pylist(),
                                                         table.column("content_hash").to_pylist()))
    return {"records": table.num_rows, "sha256": hashlib.sha256(lines.encode("utf-8")).hexdigest()}


def partners(store: Store) -> list[str]:
    """The partners this node has an agreement with."""
    from puente.share.queries import peers

    return peers(store)


def write_joint(node: Node, store: Store, partner: str) -> dict[str, Any]:
    """Compute the joint digest with ``partner`` and keep it in the node's home (``joint/<partner>.json``)."""
    digest = joint_digest(node, store, partner)
    folder = node.home / "joint"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{partner}.json").write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return digest


def stored_joint(node: Node) -> list[dict[str, Any]]:
    """The joint digests last computed on this node, one per partner."""
    folder = node.home / "joint"
    if not folder.is_dir():
        return []
    return [dict(json.loads(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob("*.json"))]
