"""Unpivot (``melt``) a wide file before its columns are mapped to fields.

A wide file has one column per member of a dimension, e.g. USBP apprehensions by month with one
column per sector::

    Fiscal Year|Month|Big Bend|Del Rio|...
    2021|OCT|35|5023|...

With ``melt: {columns: {"Big Bend": Big Bend Sector, "Del Rio": Del Rio Sector}, into: [sector, value]}``
each source row becomes one row per melted column: the other columns are repeated, the melted
column's *name* (or the name the profile maps it to, e.g. a gazetteer place) goes into the first
``into`` column and its *cell* into the second. The new columns are then matched to fields like any
header (``sector`` through the profile's ``columns``, ``value`` by field name).

- :func:`melt_values` is the whole transformation for one row, a pure function over a mapping;
  :func:`melted_headers` gives the header list the melted rows have. A columnar pipeline can apply
  the same two (or their SQL ``UNPIVOT`` twin) without the row classes below.
- :class:`MeltedSource` wraps an open source so that the row pipeline sees melted rows: each keeps
  its source line number and names its melted column (``RawRow.column``), so quarantine says
  "line 7, column Del Rio".
- An empty cell of a melted column is not a row (as a blank line is not): the sector had no figure
  that month. Such cells are counted (``empty_cells``), not stored; ``keep_empty: true`` makes them
  rows (a required value then quarantines them).
- A row that could not be read (wrong number of cells, bad bytes) is not melted: it is one row,
  quarantined whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from puente.errors import InputError
from puente.ingest.readers import RawRow
from puente.model.types import fold


@dataclass(frozen=True)
class MeltSpec:
    """``columns``: wide column -> the value written in the name column; ``into``: (name column,
    value column)."""

    columns: dict[str, str]
    into: tuple[str, str]
    keep_empty: bool = False


def melted_headers(headers: list[str], spec: MeltSpec) -> list[str]:
    """The headers of melted rows: the kept columns in file order, then the two ``into`` columns."""
    melted = set(spec.columns)
    return [h for h in headers if h not in melted] + list(spec.into)


def missing_columns(headers: list[str], spec: MeltSpec) -> list[str]:
    present = set(headers)
    return [c for c in spec.columns if c not in present]


def melt_values(values: dict[str, Any], spec: MeltSpec) -> list[tuple[str, dict[str, Any]]]:
    """One source row's values -> [(melted column, the new row's values)], in ``columns`` order.
    Empty cells give no row unless ``keep_empty``."""
    name_col, value_col = spec.into
    kept = {h: v for h, v in values.items() if h not in spec.columns}
    out = []
    for column, label in spec.columns.items():
        cell = values.get(column)
        if not spec.keep_empty and (cell is None or (isinstance(cell, str) and not cell.strip())):
            continue
        out.append((column, {**kept, name_col: label, value_col: cell}))
    return out


class MeltedSource:
    """An open source (``puente.ingest.readers.Source``) whose rows come out melted. Everything
    else (format, encoding, progress in bytes) is the wrapped source's."""

    def __init__(self, source: Any, spec: MeltSpec, path: str, profile: str) -> None:
        self.source = source
        self.spec = spec
        self.path = path
        self.profile = profile
        self.empty_cells = 0

    def __getattr__(self, name: str) -> Any:  # fmt, size, bytes_read, encoding, ...
        return getattr(self.source, name)

    @property
    def headers(self) -> list[str]:
        return melted_headers(self.source.headers, self.spec)

    def rows(self) -> Iterator[RawRow]:
        checked = False
        for row in self.source.rows():
            if not checked and self.source.fmt != "jsonl":  # JSON Lines objects may each lack a key
                self._check(self.source.headers)
            checked = True
            if row.problem:
                yield row
                continue
            melted = melt_values(row.values, self.spec)
            self.empty_cells += len(self.spec.columns) - len(melted)
            for column, values in melted:
                yield replace(row, values=values, column=column)

    def _check(self, headers: list[str]) -> None:
        missing = missing_columns(headers, self.spec)
        if missing:
            raise InputError("melt_missing_columns", path=self.path, profile=self.profile,
                             columns=", ".join(f"'{c}'" for c in missing))
        kept = {_key(h) for h in headers if h not in self.spec.columns}
        clash = [c for c in self.spec.into if _key(c) in kept]  # "Value" in the file and into [.., value]
        if clash:
            raise InputError("melt_into_clash", path=self.path, profile=self.profile,
                             columns=", ".join(f"'{c}'" for c in clash))


def _key(header: str) -> str:
    return fold(header).replace(" ", "_")  # how headers are matched (puente/ingest/clean.py)


def melt_source(source: Any, spec: MeltSpec | None, path: str, profile: str) -> Any:
    """The pipeline's hook: the source itself, or its melted view when the profile melts."""
    return source if spec is None else MeltedSource(source, spec, path, profile)
