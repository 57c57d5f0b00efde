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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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

    def date_text(self, y: int, m: int, d: int) -> str:
        return f"{d:02d}/{m:02d}/{y:04d}" if self.country == "MX" else f"{m:02d}/{d:02d}/{y:04d}"


def format_dates(values: Any, country: str) -> np.ndarray:
    series = pd.Series(pd.to_datetime(values))
    fmt = "%d/%m/%Y" if country == "MX" else "%m/%d/%Y"
    return series.dt.strftime(fmt).fillna("").to_numpy(dtype=object)


def format_numbers(values: Any, decimals: int, country: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    out = np.empty(len(arr), dtype=object)
    comma = country == "MX"
    for i, v in enumerate(arr):
        if v != v:
            out[i] = ""
            continue
        text = f"{v:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        out[i] = text.replace(".", ",") if comma else text
    return out


class TableWriter:
    """One agency file, written chunk by chunk."""

    def __init__(self, out: Path, spec: FileSpec, rng: np.random.Generator, corrupt_per_10k: float,
                 corrupted: "TruthWriter") -> None:
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
                arr = np.asarray(values, dtype=object)
                cols.append(np.where(pd.isna(arr), "", arr).astype(str))
        return cols

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = self._cells(frame)
        rows = [list(r) for r in zip(*cols)]
        n = len(rows)
        k = int(self.rng.binomial(n, self.corrupt_rate)) if self.spec.corruptions else 0
        if self.spec.corruptions and self.corrupted_count == 0 and k == 0:
            k = 1  # every file with corruptions gets at least one, in its first chunk
        positions = set(self.rng.choice(n, size=min(k, n), replace=False).tolist()) if k else set()
        out: list[list[str]] = []
        names = self.spec.columns()
        for i, row in enumerate(rows):
            out.append(row)
            if i in positions:
                values = dict(zip(names, row))
                if "source_id" in values and values["source_id"]:
                    values["source_id"] = values["source_id"] + "-X"
                reason, fname, fn = self.spec.corruptions[int(self.rng.integers(len(self.spec.corruptions)))]
                fn(values, self.spec)
                bad = [values[c] for c in names]
                if reason == "wrong_column_count":
                    bad = bad[:-2]
                out.append(bad)
                self.corrupted.add({"file": self.spec.path, "row": self.line + len(out), "kind": self.spec.kind,
                                    "reason": reason, "field": fname, "source_id": values.get("source_id", "")})
                self.corrupted_count += 1
        self.csv.writerows(out)
        self.line += len(out)
        self.rows += len(out)

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
                values = pd.Series(pd.to_datetime(values)).dt.strftime("%Y-%m-%d").fillna("").to_numpy()
            elif np.asarray(values).dtype.kind == "f":
                values = np.array([_plain(v) for v in values], dtype=object)
            else:
                arr = np.asarray(values, dtype=object)
                values = np.where(pd.isna(arr), "", arr)
            cols.append(values)
        self.csv.writerows(zip(*cols))
        self.rows += len(frame)

    def close(self) -> None:
        self.handle.close()


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)
