"""Streaming writers: agency files in each country's conventions, and the truth beside them.

A :class:`TableWriter` appends chunks (pandas frames keyed by model field name) to one CSV
file: U.S. files have English headers, mm/dd/yyyy dates, decimal points and commas between
cells; Mexican files Spanish headers, dd/mm/aaaa dates, decimal commas and semicolons. It
also inserts the deliberately corrupted rows (a corrupted copy of a real row, with its own
reference) and records their line numbers, so that the truth lists exactly the rows that
ingest must quarantine.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from puente.model import load_model

Corruption = tuple[str, str, Callable[[dict[str, str], "FileSpec"], None]]


@dataclass
class FileSpec:
    path: str  # relative to the output directory, e.g. "us/cbp_seizures.csv"
    kind: str
    country: str  # US or MX: conventions and profile suffix
    agency: str
    description: str
    fields: list[str]
    extra: dict[str, str] = field(default_factory=dict)  # extra column name -> header
    headers: dict[str, str] = field(default_factory=dict)  # field -> header override (an alias)
    decimals: dict[str, int] = field(default_factory=dict)
    corruptions: list[Corruption] = field(default_factory=list)

    @property
    def profile(self) -> str:
        return f"{self.kind}-{self.country.lower()}"

    @property
    def delimiter(self) -> str:
        return ";" if self.country == "MX" else ","

    def header_row(self) -> list[str]:
        kind = load_model().kind(self.kind)
        out = []
        for name in self.fields:
            f = kind.fields[name]
            out.append(self.headers.get(name) or (f.label_es if self.country == "MX" else f.label_en))
        return out + list(self.extra.values())

    def columns(self) -> list[str]:
        return self.fields + list(self.extra)


_EPOCH = np.datetime64("1940-01-01")
_DAYS = 36_525  # 1940-01-01 .. 2039-12-31


@lru_cache(maxsize=4)
def _date_strings(country: str) -> np.ndarray:
    """Every date 1940-2039 written once in the country's convention; formatting is then a lookup."""
    days = _EPOCH + np.arange(_DAYS)
    years = days.astype("datetime64[Y]").astype(int) + 1970
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    mdays = (days - days.astype("datetime64[M]")).astype(int) + 1
    if country == "MX":
        text = [f"{d:02d}/{m:02d}/{y:04d}" for y, m, d in zip(years, months, mdays)]
    elif country == "US":
        text = [f"{m:02d}/{d:02d}/{y:04d}" for y, m, d in zip(years, months, mdays)]
    else:
        text = [f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in zip(years, months, mdays)]
    return np.array([*text, ""], dtype=object)


def format_dates(values: Any, country: str, iso: bool = False) -> np.ndarray:
    arr = np.asarray(values).astype("datetime64[D]")
    offsets = (arr - _EPOCH).astype(np.int64)
    bad = np.isnat(arr) | (offsets < 0) | (offsets >= _DAYS)
    offsets = np.where(bad, _DAYS, offsets)
    return _date_strings("ISO" if iso else country)[offsets]


def format_numbers(values: Any, decimals: int, country: str) -> np.ndarray:
    arr = np.round(np.asarray(values, dtype=float), decimals)
    text = np.char.mod(f"%.{decimals}f", arr)
    if decimals:
        text = np.char.rstrip(np.char.rstrip(text, "0"), ".")
    if country == "MX":
        text = np.char.replace(text, ".", ",")
    out = np.array(text.tolist(), dtype=object)  # plain str: the csv module writes them fastest
    out[np.isnan(arr)] = ""
    return out


def _texts(values: Any) -> np.ndarray:
    """Cells as plain Python strings, missing values as ''."""
    arr = np.array(values, dtype=object)
    arr[pd.isna(arr)] = ""
    return arr


def outcome(kind: str, reason: str, fname: str) -> str:
    """What ingest does with a corrupted row (issue 12): a row-level problem or a bad required field rejects it
    ("quarantined"); a bad optional value is emptied and kept with its reason ("field_issue"); a missing optional
    value is no problem at all ("stored")."""
    if reason == "wrong_column_count":
        return "quarantined"
    if not fname:  # a rule across fields: a purchase after the recovery empties the optional purchase date
        return "field_issue"
    if load_model().kind(kind).fields[fname].required:
        return "quarantined"
    return "stored" if reason == "missing_value" else "field_issue"


class TableWriter:
    """One agency file, written chunk by chunk."""

    def __init__(self, out: Path, spec: FileSpec, rng: np.random.Generator, corrupt_per_10k: float,
                 corrupted: TruthWriter) -> None:
        self.spec = spec
        self.path = out / spec.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.handle, delimiter=spec.delimiter, lineterminator="\n")
        self.csv.writerow(spec.header_row())
        self.line = 1  # the header
        self.rows = 0
        self.rng = rng
        self.corrupt_rate = corrupt_per_10k / 10_000
        self.corrupted = corrupted
        self.corrupted_count = 0
        self.stored_copies: list[tuple[str, str]] = []  # (original source_id, corrupted copy's) of copies ingest keeps
        kind = load_model().kind(spec.kind)
        self.types = {name: kind.fields[name].type for name in spec.fields}

    def _cells(self, frame: pd.DataFrame) -> list[np.ndarray]:
        cols = []
        for name in self.spec.columns():
            values = frame[name].to_numpy() if name in frame else np.full(len(frame), "", dtype=object)
            ftype = self.types.get(name)
            if ftype == "date" or np.issubdtype(np.asarray(values).dtype, np.datetime64):
                cols.append(format_dates(values, self.spec.country))
            elif ftype in ("number", "integer") or np.asarray(values).dtype.kind == "f":
                decimals = self.spec.decimals.get(name, 0 if ftype == "integer" else 3)
                cols.append(format_numbers(values, decimals, self.spec.country))
            else:
                cols.append(_texts(values))
        return cols

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = self._cells(frame)
        n = len(frame)
        k = int(self.rng.binomial(n, self.corrupt_rate)) if self.spec.corruptions else 0
        if self.spec.corruptions and self.corrupted_count == 0 and k == 0:
            k = 1  # every file with corruptions gets at least one, in its first chunk
        positions = np.sort(self.rng.choice(n, size=min(k, n), replace=False)) if k else np.array([], dtype=int)
        names = self.spec.columns()
        start = 0
        for pos in positions.tolist():
            self.csv.writerows(zip(*(c[start : pos + 1] for c in cols)))
            self.line += pos + 1 - start
            start = pos + 1
            values = {name: str(c[pos]) for name, c in zip(names, cols)}
            if values.get("source_id"):
                values["source_id"] += "-X"
            reason, fname, fn = self.spec.corruptions[int(self.rng.integers(len(self.spec.corruptions)))]
            fn(values, self.spec)
            bad = [values[c] for c in names]
            self.csv.writerow(bad[:-2] if reason == "wrong_column_count" else bad)
            self.line += 1
            result = outcome(self.spec.kind, reason, fname)
            self.corrupted.add({"file": self.spec.path, "row": self.line, "kind": self.spec.kind, "reason": reason,
                                "field": fname, "source_id": values.get("source_id", ""), "outcome": result})
            if result != "quarantined" and values.get("source_id"):
                # stored all the same: the copy is another record of the original's entity
                self.stored_copies.append((str(cols[names.index("source_id")][pos]), values["source_id"]))
            self.corrupted_count += 1
        self.csv.writerows(zip(*(c[start:] for c in cols)))
        self.line += n - start
        self.rows += n + len(positions)

    def close(self) -> None:
        self.handle.close()


class TruthWriter:
    """A truth CSV (plain English headers, ISO dates, decimal points)."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.columns = columns
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.handle, lineterminator="\n")
        self.csv.writerow(columns)
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self.csv.writerow([_plain(row.get(c)) for c in self.columns])
        self.rows += 1

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = []
        for c in self.columns:
            values = frame[c].to_numpy() if c in frame else np.full(len(frame), "", dtype=object)
            if np.issubdtype(np.asarray(values).dtype, np.datetime64):
                values = format_dates(values, "ISO", iso=True)
            elif np.asarray(values).dtype.kind == "f":
                values = format_numbers(values, 6, "US")
            else:
                values = _texts(values)
            cols.append(values)
        self.csv.writerows(zip(*cols))
        self.rows += len(frame)

    def close(self) -> None:
        self.handle.close()


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)
