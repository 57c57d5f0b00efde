"""An entity page's data: the record, its network (links up to two steps) and a timeline of linked events.

Every record in the network passes through the caller's view, so a withheld record is
neither shown nor hinted at.
"""

from __future__ import annotations

from typing import Any

from puente.api.auth import Principal
from puente.api.context import Ctx, log_access
from puente.api.policy import link_view as links_of
from puente.api.policy import view_for
from puente.api.problems import ApiProblem
from puente.api.query import sql_where
from puente.errors import PolicyError
from puente.model import Kind, load_model

MAX_NODES = 150


def kind_of(record_id: str) -> Kind | None:
    parts = record_id.split(":")
    return load_model().kinds.get(parts[1]) if len(parts) >= 3 else None


def label(kind: Kind, row: dict[str, Any], lang: str = "en") -> str:
    """A record's caption, as its kind declares it (schema.yaml ``caption``), with its coded values (drug, lab
    kind, ...) in the reader's language: "fentanilo 22.5 kg · Tijuana" for a Spanish reader."""
    if lang != "en":
        vocabs = load_model().vocabularies
        row = dict(row)
        for f in kind.fields.values():
            term = vocabs[f.vocab].terms.get(row.get(f.name)) if f.vocab and f.vocab in vocabs else None  # type: ignore[arg-type]
            if term is not None:
                row[f.name] = getattr(term, lang, None) or row[f.name]
    return kind.title(row)


def fetch(c: Ctx, who: Principal, ids: list[str], purpose: str | None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    by_kind: dict[str, list[str]] = {}
    for rid in ids:
        kind = kind_of(rid)
        if kind:
            by_kind.setdefault(kind.name, []).append(rid)
    for kname, kids in by_kind.items():
        kind = load_model().kind(kname)
        try:
            view = view_for(who, kind, c.node, purpose, c.store)
        except PolicyError:
            continue
        marks = ", ".join("?" for _ in kids)
        cols = ", ".join(f'"{col}"' for col in view.columns)
        rows = c.store.query(f"SELECT {cols} FROM {kind.table} {sql_where([*view.where, f'id IN ({marks})'])}",
                             [*view.params, *kids])
        for r in rows:
            item = dict(zip(view.columns, r))
            item["_kind"] = kname
            found[item["id"]] = item
        if view.logged and rows:
            log_access(c, who, "entity", kname, [r[0] for r in rows], {r[1] for r in rows}, view.purpose)
    return found


def entity_graph(c: Ctx, who: Principal, entity_id: str, purpose: str | None, lang: str = "en") -> dict[str, Any]:
    kind = kind_of(entity_id)
    if kind is None:
        raise ApiProblem(404, "api_not_found", kind="record", id=entity_id)
    records = fetch(c, who, [entity_id], purpose)
    if entity_id not in records:
        raise ApiProblem(404, "api_not_found", kind=kind.name, id=entity_id)
    edges: list[dict[str, Any]] = []
    seen_links: set[str] = set()
    frontier = [entity_id]
    link_view = links_of(who, c.node, purpose, c.store)  # None: no links to follow
    role_col = '"role"' if link_view is not None and link_view.sees("role") else "NULL"
    for _ in range(2):
        if not frontier or link_view is None or len(records) >= MAX_NODES:
            break
        marks = ", ".join("?" for _ in frontier)
        rows = c.store.query(
            f"SELECT id, from_id, to_id, {role_col} FROM link {sql_where([*link_view.where, f'(from_id IN ({marks}) OR to_id IN ({marks}))'])}",
            [*link_view.params, *frontier, *frontier])
        new_ids = []
        for lid, src, dst, role in rows:
            if lid in seen_links or not src or not dst:
                continue
            seen_links.add(lid)
            edges.append({"id": lid, "source": src, "target": dst, "role": role})
            new_ids += [i for i in (src, dst) if i not in records]
        records.update(fetch(c, who, list(dict.fromkeys(new_ids))[:MAX_NODES], purpose))
        frontier = [i for i in new_ids if i in records]
    edges = [e for e in edges if e["source"] in records and e["target"] in records]
    model = load_model()
    nodes = [{"id": rid, "kind": r["_kind"], "label": label(model.kind(r["_kind"]), r, lang), "owner": r["owner_node"]}
             for rid, r in records.items()]
    timeline = []
    for rid, r in records.items():
        k = model.kind(r["_kind"])
        if k.date_field and r.get(k.date_field):
            timeline.append({"id": rid, "kind": k.name, "date": str(r[k.date_field]), "label": label(k, r, lang)})
    timeline.sort(key=lambda e: e["date"])
    record = {k: v for k, v in records[entity_id].items() if k != "_kind"}
    return {"record": record, "kind": kind.name, "nodes": nodes, "edges": edges, "timeline": timeline}
