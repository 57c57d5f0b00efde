"""Digests both nodes can compare: of the records an analysis read, and of the tables it wrote.

Two nodes that hold the same shared records must compute the same joint results. ``puente analyze``
writes ``digest.json`` beside its tables: for each kind read, the number of records and a SHA-256 over
their ``(id, content_hash)`` pairs in id order (so the digest names exactly which version of which
records went in, never their content), and for each table written a SHA-256 over its canonical form
(columns by name, rows sorted, floats to 9 significant digits, so that a different engine or row order
gives the same digest). Each side compares the two digests: equal inputs with different results point at
the computation, different inputs at the sharing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from puente.engine import Engine


def input_digest(engine: Engine, kinds: Iterable[str]) -> dict[str, Any]:
    """Per kind present: records and SHA-256 over the sorted ``id<TAB>content_hash`` lines."""
    out: dict[str, Any] = {}
    for kind in sorted(set(kinds)):
        if not engine.has_table(kind):
            continue
        t = engine.table(kind)
        cols = t.columns
        h = t.content_hash.cast("string").fill_null("") if "content_hash" in cols else t.id.cast("string")
        frame = engine.run(t.select(id=t.id.cast("string"), h=h))
        frame = frame.sort_values(["id", "h"])
        text = "\n".join(f"{a}\t{b}" for a, b in zip(frame["id"], frame["h"]))
        out[kind] = {"records": len(frame), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    return out


def _canonical(frame: pd.DataFrame) -> str:
    f = frame[sorted(frame.columns)].copy()
    for col in f.columns:
        values = f[col]
        if pd.api.types.is_float_dtype(values):
            f[col] = values.map(lambda v: "" if pd.isna(v) else f"{v:.9g}")
        else:
            f[col] = values.map(lambda v: "" if v is None or (not isinstance(v, (list, dict)) and pd.isna(v))
                                else str(v))
    f = f.sort_values(list(f.columns)) if len(f.columns) else f
    return str(f.to_csv(index=False, lineterminator="\n"))


def table_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(_canonical(frame).encode("utf-8")).hexdigest()


def combined(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def analysis_digest(engine: Engine, kinds: Iterable[str], tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """``{"inputs": {kind: ...}, "results": {table: sha256}, "inputs_sha256", "results_sha256"}``."""
    inputs = input_digest(engine, kinds)
    results = {name: table_digest(frame) for name, frame in sorted(tables.items())}
    return {"inputs": inputs, "results": results, "inputs_sha256": combined(inputs),
            "results_sha256": combined(results)}
