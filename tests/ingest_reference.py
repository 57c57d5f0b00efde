"""A deliberately simple row-by-row ingest: the reference the columnar path is compared against.

No chunks, no caches, no Arrow, no SQL: each row read by the row reader is cleaned by the row
cleaner, hashed, given its id and sorted into stored / updated / conflict / quarantined /
duplicate with plain dictionaries. It computes what one file *should* write, given what the store
already holds, without writing anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from puente.geo.gazetteer import load_gazetteer
from puente.ingest.clean import Rejection, RowCleaner, content_hash
from puente.ingest.profile import Profile
from puente.ingest.readers import open_source
from puente.model import load_model
from puente.node import Node


@dataclass
class Expected:
    account: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> data columns + id, content_hash, source_row
    quarantine: list[tuple[Any, ...]] = field(default_factory=list)  # (row, field, key, en, es, raw, other_row)
    issues: list[tuple[Any, ...]] = field(default_factory=list)  # (record id, field, row, key, en, es, raw)


def expected(node: Node, path: Path, profile: Profile, stored: dict[str, str]) -> Expected:
    """What ingesting ``path`` should give; ``stored`` maps the ids already in the store to their hash."""
    model = load_model()
    kind = model.kind(profile.kind)
    source = open_source(path, profile.format, 1 << 20, profile.delimiter, profile.encoding)
    cleaner: RowCleaner | None = None
    out = Expected(account=dict.fromkeys(["read", "stored", "updated", "conflicts", "quarantined", "duplicates"], 0))
    seen: dict[str, tuple[int, str]] = {}  # id -> (first row, content hash)

    def reject(number: int, raw: str, rejections: list[Rejection], other: int | None = None) -> None:
        out.quarantine.append((number, ", ".join(r.field for r in rejections if r.field) or None, rejections[0].key,
                               "; ".join(r.text("en") for r in rejections),
                               "; ".join(r.text("es") for r in rejections), raw, other))

    for row in source.rows():
        out.account["read"] += 1
        if cleaner is None:
            cleaner = RowCleaner(model, kind, profile, load_gazetteer(), source.headers,
                                 lambda k, ref: node.record_id(k, "src\x1f" + ref))
        raw = row.raw_text or json.dumps(row.values, ensure_ascii=False, default=str)
        if row.problem:
            out.account["quarantined"] += 1
            reject(row.number, raw, [Rejection("", row.problem, row.problem_args)])
            continue
        record, rejections, issues = cleaner.clean(row.values)
        if record is None:
            out.account["quarantined"] += 1
            reject(row.number, raw, rejections)
            continue
        digest = content_hash(record)
        rid = node.record_id(kind.name, cleaner.identity(record, digest))
        if rid in seen:
            first, first_hash = seen[rid]
            if first_hash == digest:
                out.account["duplicates"] += 1
            else:
                out.account["conflicts"] += 1
                reject(row.number, raw, [Rejection("", "identity_conflict",
                                                   {"row": first, "fields": cleaner.identity_label})], first)
            continue
        seen[rid] = (row.number, digest)
        if stored.get(rid) == digest:
            out.account["duplicates"] += 1
            continue
        out.account["updated" if rid in stored else "stored"] += 1
        out.records[rid] = {**record, "id": rid, "content_hash": digest, "source_row": row.number}
        for i in issues:
            out.issues.append((rid, i.field, row.number, i.key, i.text("en"), i.text("es"),
                               i.raw if isinstance(i.raw, str) or i.raw is None else json.dumps(i.raw, default=str)))
    return out
