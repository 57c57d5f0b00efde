"""A deliberately simple, row-by-row reference implementation of agreement policy, for the tests.

It shares no code with puente.share (plan, export): it reads the agreement document directly and
applies each rule to one record (a dict of store columns) at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from typing import Any

import h3

from puente.geo.gazetteer import load_gazetteer
from puente.model import load_model

SUFFIXES = ("text", "id", "name", "admin1", "country", "lat", "lon", "h3")


def _passes(rule: dict[str, Any], record: dict[str, Any]) -> bool:
    value = record.get(rule["field"])
    if value is None:
        return False
    if "in" in rule:
        return value in rule["in"]
    if "not_in" in rule:
        return value not in rule["not_in"]
    if "from" in rule:
        return value >= rule["from"]
    return value <= rule["until"]


def _place(name: str, rule: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    cols = {s: record[f"{name}_{s}"] for s in SUFFIXES}
    if rule["transform"] == "keep":
        return {f"{name}_{s}": v for s, v in cols.items()}
    out = dict.fromkeys(SUFFIXES)
    out["country"] = cols["country"]
    if rule["to"] == "admin2":
        gaz = load_gazetteer()
        place = gaz.get(cols["id"]) if cols["id"] else None
        county = gaz.get(place.admin2) if place and place.admin2 else None
        if county:
            out.update(id=county.id, name=county.name, admin1=county.admin1, lat=county.lat, lon=county.lon,
                       h3=county.h3)
    elif cols["h3"]:
        parent = h3.cell_to_parent(cols["h3"], rule["resolution"])
        lat, lon = h3.cell_to_latlng(parent)
        out.update(h3=parent, lat=lat, lon=lon, admin1=cols["admin1"])
    else:
        out["admin1"] = cols["admin1"]
    return {f"{name}_{s}": v for s, v in out.items()}


def _value(rule: dict[str, Any], value: Any, key: bytes) -> Any:
    if value is None:
        return None
    t = rule["transform"]
    if t == "keep":
        return value
    if t == "truncate_date":
        return value.replace(day=1) if rule["to"] == "month" else value - dt.timedelta(days=value.weekday())
    if t == "round":
        rounded = math.floor(value / rule["step"] + 0.5) * rule["step"]
        return int(rounded) if isinstance(value, int) else rounded
    if t == "pseudonymize":
        return "ps:" + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:32]
    raise AssertionError(t)


def _rule(spec: dict[str, Any], name: str) -> dict[str, Any]:
    rule = (spec.get("fields") or {}).get(name, "drop")
    return {"transform": rule} if isinstance(rule, str) else dict(rule)


def expected(doc: dict[str, Any], kind: str, records: list[dict[str, Any]], id_key: bytes) -> dict[str, dict]:
    """What the partner must hold: id -> every data column (None where withheld)."""
    spec = doc["kinds"].get(kind)
    if spec is None:
        return {}
    key = hmac.new(id_key, b"puente-pseudonym\x1f" + doc["agreement"].encode(), hashlib.sha256).digest()
    out = {}
    for record in records:
        if not all(_passes(rule, record) for rule in spec.get("records") or []):
            continue
        row: dict[str, Any] = {"source_agency": record["source_agency"]}
        fields = load_model().kind(kind).fields
        for name, field in fields.items():
            rule = _rule(spec, name)
            withheld = [_rule(spec, s)["transform"] in ("drop", "match_only") for s in field.sources]
            if any(withheld) and not all(withheld):  # some inputs shared, some not: the derived field is dropped
                rule = {"transform": "drop"}
            if field.type == "place":
                if rule["transform"] in ("drop", "match_only"):
                    row.update({f"{name}_{s}": None for s in SUFFIXES})
                else:
                    row.update(_place(name, rule, record))
            elif rule["transform"] in ("drop", "match_only"):
                row[name] = None
            else:
                row[name] = _value(rule, record[name], key)
        out[record["id"]] = row
    return out
