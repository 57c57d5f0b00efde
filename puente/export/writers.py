"""Write a record kind out as CSV, Parquet, JSON Lines or GeoJSON, and entities as
FollowTheMoney JSON Lines (readable by Aleph and OpenSanctions tools)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from puente.errors import UsageError
from puente.model import Kind, load_model
from puente.settings import enabled
from puente.store import retention
from puente.store.base import Store

FORMATS = ("csv", "parquet", "jsonl", "geojson", "ftm")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection; OWASP)
FORMULA_START = r"^[=+\-@\t\r]"


def csv_raw(raw: bool | None = None) -> bool:
    """Whether CSV cells go out as stored: the explicit choice, else the ``csv_raw`` setting (off)."""
    return raw if raw is not None else enabled("csv_raw")


def neutralize_formulas(table: pa.Table) -> pa.Table:
    """Text cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a leading
    single quote, as OWASP recommends for CSV; numbers, dates and other cells are untouched."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise(pa.scalar("'", column.type), column, ""), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def read_kind(store: Store, kind: Kind, where: str = "", params: list[Any] | None = None) -> pa.Table:
    cols = ", ".join(f'"{c}"' for c in [*kind.columns(), "extra"])
    live = f"{where} AND {retention.LIVE}" if where else f"WHERE {retention.LIVE}"  # expired partner records: gone
    sql = f"SELECT {cols} FROM {kind.table} {live} ORDER BY id"
    return store.query_arrow(sql, [*(params or []), retention.today()])


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def export_kind(store: Store, kind_name: str, fmt: str, out: Path, raw: bool | None = None,
                local_node: str | None = None) -> int:
    """Write every record of a kind; CSV neutralizes formula cells unless ``raw`` (or the ``csv_raw``
    setting) says otherwise. ``local_node`` tells own records from partner records (FtM placeholders)."""
    model = load_model()
    if kind_name in NOT_KINDS:  # a table the link stage writes, exported under a name of its own
        return NOT_KINDS[kind_name](store, fmt, out, local_node)
    kind = model.kind(kind_name)
    if fmt not in FORMATS:
        raise UsageError("unknown_format_export", fmt=fmt, formats=", ".join(FORMATS))
    table = read_kind(store, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("parquet", "csv", "jsonl"):
        _write_table(table, fmt, out, raw)
    elif fmt == "geojson":
        if not kind.geometry:
            raise UsageError("no_geometry", kind=kind.name)
        with out.open("w", encoding="utf-8") as handle:
            json.dump({"type": "FeatureCollection", "features": list(geojson_features(kind, table.to_pylist()))},
                      handle, ensure_ascii=False)
    else:
        if not kind.ftm_schema:
            raise UsageError("no_ftm", kind=kind.name)
        from puente.export.ftm import write_ftm

        write_ftm(store, kind, table.to_pylist(), out, local_node)
    return int(table.num_rows)


def geojson_features(kind: Kind, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    geo = kind.geometry
    for row in rows:
        lat, lon = row.get(f"{geo}_lat"), row.get(f"{geo}_lon")
        geometry = {"type": "Point", "coordinates": [lon, lat]} if lat is not None and lon is not None else None
        yield {"type": "Feature", "id": row["id"], "geometry": geometry,
               "properties": {k: _jsonable(v) for k, v in row.items()}}


# Exports that are not a record kind of the model: name -> writer(store, fmt, out) -> rows written.
NOT_KINDS: dict[str, Callable[[Store, str, Path, str | None], int]] = {}


def _export_entities(store: Store, fmt: str, out: Path, local_node: str | None = None) -> int:
    from puente.link.runs import entities_table

    if fmt not in ("csv", "jsonl", "parquet", "ftm"):
        raise UsageError("unknown_format_export", fmt=fmt, formats="csv, jsonl, parquet, ftm")
    table = entities_table(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "ftm":
        from puente.export.ftm import write_resolved_ftm

        write_resolved_ftm(store, table.to_pylist(), out, local_node)
    else:
        _write_table(table, fmt, out, None)
    return int(table.num_rows)


def _write_table(table: Any, fmt: str, out: Path, raw: bool | None) -> None:
    """A table as Parquet, CSV (formula cells neutralized unless ``raw``) or JSON Lines."""
    if fmt == "parquet":
        pq.write_table(table, out)
    elif fmt == "csv":
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.column_names)
            for row in (table if csv_raw(raw) else neutralize_formulas(table)).to_pylist():
                writer.writerow([_jsonable(v) if v is not None else "" for v in row.values()])
    else:
        with out.open("w", encoding="utf-8") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")


NOT_KINDS["entity"] = _export_entities  # resolved entities (link run): entity id with each member record
