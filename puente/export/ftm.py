"""People, organizations and vehicles as FollowTheMoney entities (JSON Lines), plus the
links between them and events as FtM ``UnknownLink`` entities, so Aleph, OpenSanctions'
nomenklatura and other FtM tools can read a node's entity data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from followthemoney import model as ftm_model

from puente.model import Kind
from puente.store.base import Store

# Puente field -> FtM property, per kind.
_PROPS: dict[str, dict[str, str]] = {
    "person": {"given_names": "firstName", "surname1": "fatherName", "surname2": "motherName",
               "alias": "alias", "birth_date": "birthDate", "nationality": "nationality",
               "curp": "idNumber", "id_number": "idNumber"},
    "organization": {"name": "name", "tax_id": "taxNumber", "country": "jurisdiction", "org_type": "legalForm"},
    "vehicle": {"plate": "registrationNumber", "plate_country": "country", "model": "model", "make": "type"},
}


def to_entity(kind: Kind, row: dict[str, Any]) -> dict[str, Any]:
    entity = ftm_model.make_entity(kind.ftm_schema or "Thing")
    entity.id = row["id"].replace(":", "-")
    for fname, prop in _PROPS.get(kind.name, {}).items():
        value = row.get(fname)
        if value is not None:
            entity.add(prop, str(value).lower() if prop in ("nationality", "country", "jurisdiction") else str(value))
    if kind.name == "person":
        full = " ".join(str(row[f]) for f in ("given_names", "surname1", "surname2") if row.get(f))
        entity.add("name", full)
        entity.add("lastName", " ".join(str(row[f]) for f in ("surname1", "surname2") if row.get(f)) or None)
    if kind.name == "vehicle":
        entity.add("name", " ".join(str(row[f]) for f in ("make", "model", "plate") if row.get(f)))
    entity.add("sourceUrl", None)
    entity.add("publisher", row.get("owner_node"))
    data: dict[str, Any] = entity.to_dict()
    return data


def write_ftm(store: Store, kind: Kind, rows: list[dict[str, Any]], out: Path) -> None:
    ids = {r["id"] for r in rows}
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(to_entity(kind, row), ensure_ascii=False) + "\n")
        for from_id, to_id, role in store.query("SELECT from_id, to_id, role FROM link ORDER BY id"):
            if from_id in ids or to_id in ids:
                link = ftm_model.make_entity("UnknownLink")
                link.make_id(from_id, to_id, role)
                link.add("subject", from_id.replace(":", "-"))
                link.add("object", to_id.replace(":", "-"))
                link.add("role", role)
                handle.write(json.dumps(link.to_dict(), ensure_ascii=False) + "\n")
