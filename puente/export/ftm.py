"""People, organizations and vehicles as FollowTheMoney entities (JSON Lines), plus the
links between them and events as FtM ``UnknownLink`` entities, so Aleph, OpenSanctions'
nomenklatura and other FtM tools can read a node's entity data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from followthemoney import Statement, StatementEntity
from followthemoney import model as ftm_model
from followthemoney.dataset import Dataset

from puente.model import Kind, render
from puente.model.types import FIELD_TYPES
from puente.store.base import Store

WITHHELD = "[withheld]"  # a partner record whose names the agreement does not share
UNNAMED = "[no name]"  # an own record stored without any name
_PLACEHOLDER_NOTE = "name withheld by the sharing agreement / nombre retenido por el acuerdo"


def entity_id(record_id: str) -> str:
    return record_id.replace(":", "-")


def to_entity(kind: Kind, row: dict[str, Any], local_node: str | None = None) -> dict[str, Any]:
    """One record as an FtM entity with every property its schema requires: a record without a name
    (withheld from a partner's record, or never given) carries a labelled placeholder name."""
    form = kind.ftm
    entity = ftm_model.make_entity(form.schema if form else "Thing")
    entity.id = entity_id(row["id"])
    for fname, prop in (form.properties if form else {}).items():
        value = row.get(fname)
        if value is not None:  # FtM writes country codes in lower case
            country = FIELD_TYPES[kind.fields[fname].type].ftm == "country"
            entity.add(prop, str(value).lower() if country else str(value))
    for prop, template in (form.compose if form else {}).items():
        entity.add(prop, render(template, row) or None)
    if not entity.get("name"):
        partner = local_node is not None and row.get("owner_node") != local_node
        entity.add("name", WITHHELD if partner else UNNAMED)
        if partner:
            entity.add("description", _PLACEHOLDER_NOTE)
    entity.add("publisher", row.get("owner_node"))
    data: dict[str, Any] = entity.to_dict()
    return data


def write_ftm(store: Store, kind: Kind, rows: list[dict[str, Any]], out: Path, local_node: str | None = None) -> int:
    """The records as entities, plus ``UnknownLink`` entities for their links. The file is closed under
    reference: an entity of another kind that a link reaches (a vehicle a person drives) is written too,
    and a link to a record with no FtM form (a seizure, a lab) is left out. Returns the links left out."""
    from puente.export.writers import read_kind
    from puente.model import load_model

    model = load_model()
    written = {r["id"] for r in rows}
    found = store.query("SELECT from_id, to_id, role, from_kind, to_kind FROM link ORDER BY id")
    found = [r for r in found if r[0] and r[1] and (r[0] in written or r[1] in written)]
    wanted: dict[str, set[str]] = {}
    for f, t, _, fk, tk in found:
        for rid, other in ((f, fk), (t, tk)):
            if rid not in written and other in model.kinds and model.kinds[other].ftm_schema:
                wanted.setdefault(other, set()).add(rid)
    links = [(f, t, role) for f, t, role, _, _ in found]
    extra_rows: list[tuple[Kind, dict[str, Any]]] = []
    for other, ids in sorted(wanted.items()):
        other_kind = model.kind(other)
        chunk = sorted(ids)
        for start in range(0, len(chunk), 1000):
            part = chunk[start : start + 1000]
            table = read_kind(store, other_kind, f"WHERE id IN ({', '.join('?' for _ in part)})", part)
            extra_rows += [(other_kind, r) for r in table.to_pylist()]
    written |= {r["id"] for _, r in extra_rows}
    left_out, seen = 0, set()
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(to_entity(kind, row, local_node), ensure_ascii=False) + "\n")
        for other_kind, row in extra_rows:
            handle.write(json.dumps(to_entity(other_kind, row, local_node), ensure_ascii=False) + "\n")
        for from_id, to_id, role in links:
            if from_id not in written or to_id not in written:
                left_out += 1
                continue
            link = ftm_model.make_entity("UnknownLink")
            link.make_id(from_id, to_id, role)
            if link.id in seen:
                continue
            seen.add(link.id)
            link.add("subject", entity_id(from_id))
            link.add("object", entity_id(to_id))
            link.add("role", role)
            handle.write(json.dumps(link.to_dict(), ensure_ascii=False) + "\n")
    return left_out


def _dataset_name(node: str | None) -> str:
    """A node's name as an FtM dataset name (lower-case letters, digits and underscores)."""
    return re.sub(r"[^a-z0-9_]", "_", str(node or "unknown").lower()) or "unknown"


def write_resolved_ftm(store: Store, members: list[dict[str, Any]], out: Path, local_node: str | None = None) -> int:
    """Resolved entities (``puente export entity --format ftm``) as FtM 4 statement entities: one entity per
    cluster, its id the entity id, its ``referents`` the member records' entity ids (the same ids
    ``puente export KIND --format ftm`` writes) and its ``datasets`` the nodes that hold them — the way
    nomenklatura and OpenSanctions carry "same as" judgements. Each property value is a statement of the
    member record it came from. After each entity with more than one member come its ``sameAs`` links: one
    FtM ``Similar`` entity per other member record (``candidate`` the member, ``match`` the entity, ``criteria``
    the run that joined them), so tools that read plain FtM links rather than referents see the judgement
    too. Kinds without an FtM form (firearms) are left out; returns how many member records were."""
    from puente.export.writers import read_kind
    from puente.model import load_model

    model = load_model()
    by_kind: dict[str, dict[str, str]] = {}
    runs: dict[str, str] = {}
    for m in members:
        by_kind.setdefault(m["kind"], {})[m["record_id"]] = m["entity_id"]
        runs[entity_id(m["entity_id"])] = str(m.get("run_id") or "")
    dataset = Dataset({"name": "puente", "title": "Puente resolved entities"})
    left_out = 0
    with out.open("w", encoding="utf-8") as handle:
        for kname, clusters in sorted(by_kind.items()):
            kind = model.kinds.get(kname)
            if kind is None or kind.ftm is None:
                left_out += len(clusters)
                continue
            statements: dict[str, list[Statement]] = {}
            ids = sorted(clusters)
            for start in range(0, len(ids), 1000):
                part = ids[start : start + 1000]
                rows = read_kind(store, kind, f"WHERE id IN ({', '.join('?' for _ in part)})", part).to_pylist()
                for row in rows:
                    record = to_entity(kind, row, local_node)
                    canonical = entity_id(clusters[row["id"]])
                    node = _dataset_name(row.get("owner_node"))
                    statements.setdefault(canonical, []).extend(
                        Statement(record["id"], prop, record["schema"], str(value), node, canonical_id=canonical)
                        for prop, values in record["properties"].items() for value in values)
            for canonical in sorted(statements):
                data = StatementEntity.from_statements(dataset, statements[canonical]).to_dict()
                data["referents"] = sorted(data.get("referents", []))
                data["datasets"] = sorted(data.get("datasets", []))
                handle.write(json.dumps(data, ensure_ascii=False) + "\n")
                for referent in data["referents"]:
                    handle.write(json.dumps(same_as(referent, canonical, runs.get(canonical, "")),
                                            ensure_ascii=False) + "\n")
    return left_out


def same_as(member: str, canonical: str, run_id: str) -> dict[str, Any]:
    """An FtM ``Similar`` link (FtM's "same as"): the member record ``member`` is the resolved entity ``canonical``."""
    link = ftm_model.make_entity("Similar")
    link.make_id("puente-same-as", canonical, member)
    link.add("candidate", member)
    link.add("match", canonical)
    link.add("criteria", f"one resolved entity (puente link run {run_id})" if run_id else "one resolved entity")
    link.add("matcher", "puente link run")
    data: dict[str, Any] = link.to_dict()
    return data
