"""Apply an agreement to a kind's records, column by column (Arrow), for export.

``select`` keeps the records the agreement's filters allow (and says which clause denied the
rest); ``transform`` keeps, drops, generalises, truncates, rounds or pseudonymises each field as
the agreement says. Fields the agreement does not list are dropped; ``match_only`` fields are
withheld from the bundle (the link package matches on them privately). Every record keeps its
id, its owner node and its agency (provenance).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

import h3
import pyarrow as pa
import pyarrow.compute as pc

from puente.geo.gazetteer import load_gazetteer
from puente.model import PLACE_COLUMNS, load_model
from puente.share.agreement import Agreement, FieldRule

ALWAYS = ("id", "owner_node", "source_agency")


def select(agreement: Agreement, kind: str, table: pa.Table) -> tuple[pa.Table, Counter[str]]:
    """Rows the record filters allow, and how many rows each filter clause denied."""
    denied: Counter[str] = Counter()
    if table.num_rows == 0:
        return table, denied
    keep = pa.array([True] * table.num_rows)
    for f in agreement.filters(kind):
        col = table.column(f.column)
        if f.op == "in":
            ok = pc.is_in(col, value_set=pa.array(f.value, col.type))
        elif f.op == "not_in":
            ok = pc.invert(pc.is_in(col, value_set=pa.array(f.value, col.type)))
        elif f.op == "from":
            ok = pc.greater_equal(col, pa.scalar(f.value, col.type))
        else:
            ok = pc.less_equal(col, pa.scalar(f.value, col.type))
        ok = pc.and_(pc.fill_null(ok, False), pc.is_valid(col))
        newly = pc.and_(keep, pc.invert(ok))
        denied[f.clause] += pc.sum(newly).as_py() or 0
        keep = pc.and_(keep, ok)
    return table.filter(keep), denied


def pseudonym_key(id_key: bytes, agreement_id: str) -> bytes:
    """The per-agreement HMAC key for pseudonyms (secret to the sending node)."""
    return hmac.new(id_key, b"puente-pseudonym\x1f" + agreement_id.encode(), hashlib.sha256).digest()


def pseudonymize(key: bytes, value: str) -> str:
    return "ps:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _map_unique(col: pa.ChunkedArray, fn, out_type: pa.DataType) -> pa.Array:  # type: ignore[no-untyped-def]
    """Apply a Python function once per distinct value."""
    uniques = pc.unique(col)
    mapped = pa.array([None if v is None else fn(v) for v in uniques.to_pylist()], out_type)
    return pc.take(mapped, pc.index_in(col, value_set=uniques))


def _place(rule: FieldRule, table: pa.Table) -> dict[str, pa.Array]:
    name = rule.field
    cols = {s: table.column(f"{name}_{s}") for s in PLACE_COLUMNS}
    n = table.num_rows
    nulls = {s: pa.nulls(n, cols[s].type) for s in PLACE_COLUMNS}
    if rule.transform == "keep":
        return {f"{name}_{s}": cols[s] for s in PLACE_COLUMNS}
    out = dict(nulls)
    out["country"] = cols["country"]
    if rule.options["to"] == "admin2":
        gaz = load_gazetteer()

        def admin2(place_id: str):  # type: ignore[no-untyped-def]
            place = gaz.get(place_id)
            return gaz.get(place.admin2) if place and place.admin2 else None

        for s, attr in (("id", "id"), ("name", "name"), ("admin1", "admin1"), ("lat", "lat"), ("lon", "lon"),
                        ("h3", "h3")):
            out[s] = _map_unique(cols["id"], lambda v, a=attr: getattr(admin2(v), a, None), cols[s].type)
    else:
        res = int(rule.options["resolution"])

        def parent(cell: str) -> str:
            return str(h3.cell_to_parent(cell, res))

        out["h3"] = _map_unique(cols["h3"], parent, pa.string())
        out["lat"] = _map_unique(cols["h3"], lambda c: h3.cell_to_latlng(parent(c))[0], cols["lat"].type)
        out["lon"] = _map_unique(cols["h3"], lambda c: h3.cell_to_latlng(parent(c))[1], cols["lon"].type)
        out["admin1"] = cols["admin1"]
    return {f"{name}_{s}": v for s, v in out.items()}


def transform(agreement: Agreement, kind: str, table: pa.Table, key: bytes) -> pa.Table:
    """The columns the agreement lets through, transformed. ``key`` is the pseudonym key."""
    k = load_model().kind(kind)
    out: dict[str, pa.Array | pa.ChunkedArray] = {c: table.column(c) for c in ALWAYS}
    for name, field in k.fields.items():
        rule = agreement.field_rule(kind, name)
        if rule.transform in ("drop", "match_only"):
            continue
        if field.type == "place":
            out.update(_place(rule, table))
            continue
        col = table.column(name)
        if rule.transform == "truncate_date":
            col = pc.floor_temporal(col, unit=rule.options["to"], week_starts_monday=True)
        elif rule.transform == "round":
            step = float(rule.options["step"])
            rounded = pc.multiply(pc.floor(pc.add(pc.divide(pc.cast(col, pa.float64()), step), 0.5)), step)
            col = pc.cast(rounded, col.type, safe=False)
        elif rule.transform == "pseudonymize":
            col = _map_unique(pc.cast(col, pa.string()), lambda v: pseudonymize(key, v), pa.string())
        out[name] = col
    return pa.table(out)


def row_hashes(table: pa.Table) -> list[str]:
    """A content hash per transformed row (what the partner holds), for incremental exports."""
    if table.num_rows == 0:
        return []
    cols = [pc.cast(table.column(c), pa.string()) for c in table.column_names if c != "id"]
    joined = pc.binary_join_element_wise(*[pc.fill_null(c, "\x00") for c in cols], "\x1f") if cols else None
    values = joined.to_pylist() if joined is not None else [""] * table.num_rows
    return [hashlib.sha256(v.encode()).hexdigest()[:32] for v in values]
