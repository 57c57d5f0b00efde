"""Streaming readers for CSV, Excel (.xlsx) and JSON Lines.

Each reader yields :class:`RawRow` objects: the 1-based row number in the file (the
header is row 1 for CSV/XLSX), a mapping header -> raw value, and a problem key when the
row itself is malformed (wrong number of columns, bad JSON, too long). Rows are never
dropped: malformed rows go to quarantine with their raw text.

CSV is decoded line by line as UTF-8 (a BOM is ignored); a line that is not valid
UTF-8 is decoded as Windows-1252/Latin-1 and counted, so a file mixing encodings loses
nothing and the ingest report says how many lines needed the fallback.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from puente.errors import InputError

csv.field_size_limit(sys.maxsize)


@dataclass
class RawRow:
    number: int
    values: dict[str, Any]
    problem: str | None = None
    problem_args: dict[str, Any] = field(default_factory=dict)
    raw_text: str = ""


class Source:
    """An open input file: ``headers``, ``rows()``, progress in bytes, encoding notes."""

    def __init__(self, path: Path, fmt: str, max_row_bytes: int, delimiter: str = "auto",
                 encoding: str = "auto") -> None:
        self.path = path
        self.size = path.stat().st_size
        self.fmt = fmt
        self.max_row_bytes = max_row_bytes
        self.delimiter = delimiter
        self.fallback_lines = 0
        self.declared_encoding = encoding
        self.fixed_encoding: str | None = None
        self.bytes_read = 0
        self.headers: list[str] = []

    @property
    def encoding(self) -> str:
        if self.fixed_encoding:
            return self.fixed_encoding
        return "utf-8" if not self.fallback_lines else f"utf-8 + cp1252 on {self.fallback_lines} lines"

    def rows(self) -> Iterator[RawRow]:
        if self.fmt == "csv":
            return self._csv_rows()
        if self.fmt == "xlsx":
            return self._xlsx_rows()
        return self._jsonl_rows()

    # -- CSV ---------------------------------------------------------------------------
    def _lines(self, handle: BinaryIO) -> Iterator[str]:
        if self.declared_encoding != "auto":
            yield from self._decoded_lines(handle, self.declared_encoding)
            return
        head = handle.read(4)
        handle.seek(0)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            yield from self._decoded_lines(handle, "utf-16")
            return
        first = True
        for raw in handle:
            self.bytes_read += len(raw)
            if first:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                first = False
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.fallback_lines += 1
                yield raw.decode("cp1252", errors="replace")

    def _decoded_lines(self, handle: BinaryIO, encoding: str) -> Iterator[str]:
        """A whole file in one declared encoding (a profile's ``encoding``, or UTF-16 by its BOM)."""
        self.fixed_encoding = encoding
        try:
            text = io.TextIOWrapper(handle, encoding=encoding, newline="")
            for number, line in enumerate(text, start=1):
                self.bytes_read = handle.tell() if not handle.closed else self.size
                yield line.removeprefix("\ufeff") if number == 1 else line
        except LookupError:
            raise InputError("unknown_encoding", path=str(self.path), encoding=encoding) from None
        except UnicodeDecodeError as exc:
            raise InputError("bad_encoding", path=str(self.path), encoding=encoding,
                             error=str(exc.reason)) from None

    def _csv_rows(self) -> Iterator[RawRow]:
        with self.path.open("rb") as handle:
            lines = self._lines(handle)
            header_line = next(lines, "")
            if not header_line.strip():
                raise InputError("empty_file", path=str(self.path))
            delimiter = self.delimiter if self.delimiter != "auto" else _sniff(header_line)
            self.headers = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
            if len(set(self.headers)) != len(self.headers):
                raise InputError("duplicate_headers", path=str(self.path))
            physical: list[str] = []  # the lines the csv reader took for the current record

            def tapped() -> Iterator[str]:
                for line in lines:
                    physical.append(line)
                    yield line

            reader = csv.reader(tapped(), delimiter=delimiter)
            consumed = 0  # lines the csv reader had consumed before this record
            try:
                for cells in reader:
                    number = consumed + 2  # the header is line 1
                    consumed = reader.line_num
                    taken, physical[:] = physical[:], []
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue
                    if len(taken) > 1 and len(cells) != len(self.headers):
                        # A stray quote swallowed the following lines: read each line on its own,
                        # so one bad quote costs one row, not the rest of the file.
                        for offset, line in enumerate(taken):
                            if line.strip():
                                sub = next(csv.reader([line], delimiter=delimiter), [])
                                yield self._make_row(number + offset, sub, line.rstrip("\r\n"))
                        continue
                    yield self._make_row(number, cells, "".join(taken).rstrip("\r\n"))
            except csv.Error as exc:
                raise InputError("bad_csv", path=str(self.path), line=consumed + 2, error=str(exc)) from None

    def _make_row(self, number: int, cells: list[Any], raw_text: str) -> RawRow:
        if len(raw_text) > self.max_row_bytes:
            return RawRow(number, {}, "row_too_long", {"size": len(raw_text), "limit": self.max_row_bytes},
                          raw_text=raw_text[:2000])
        if len(cells) > len(self.headers) and not any(str(c).strip() for c in cells[len(self.headers):]):
            cells = cells[: len(self.headers)]  # trailing empty cells (a delimiter at the end of each line)
        if len(cells) != len(self.headers):
            return RawRow(number, {}, "wrong_column_count", {"found": len(cells), "expected": len(self.headers)},
                          raw_text=raw_text)
        return RawRow(number, dict(zip(self.headers, cells)), raw_text=raw_text)

    # -- Excel -------------------------------------------------------------------------
    def _xlsx_rows(self) -> Iterator[RawRow]:
        import zipfile

        from openpyxl import load_workbook

        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
            raise InputError("bad_xlsx", path=str(self.path), error=str(exc)) from None
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        try:
            header = next(rows)
        except StopIteration:
            raise InputError("empty_file", path=str(self.path)) from None
        self.headers = [str(h).strip() if h is not None else "" for h in header]
        while self.headers and not self.headers[-1]:
            self.headers.pop()
        for number, values in enumerate(rows, start=2):
            cells = list(values[: len(self.headers)])
            if all(v is None or str(v).strip() == "" for v in cells):
                continue
            extra = [v for v in values[len(self.headers):] if v not in (None, "")]
            raw_text = json.dumps([_jsonable(v) for v in values], ensure_ascii=False)
            self.bytes_read = int(self.size * min(1.0, number / max(sheet.max_row or number, 1)))
            if extra:
                yield RawRow(number, {}, "wrong_column_count",
                             {"found": len(self.headers) + len(extra), "expected": len(self.headers)}, raw_text)
                continue
            cells += [None] * (len(self.headers) - len(cells))
            yield self._make_row(number, cells, raw_text)
        book.close()

    # -- JSON Lines ----------------------------------------------------------------------
    def _jsonl_rows(self) -> Iterator[RawRow]:
        seen: dict[str, None] = {}
        with self.path.open("rb") as handle:
            any_line = False
            for number, line in enumerate(self._lines(handle), start=1):
                if not line.strip():
                    continue
                any_line = True
                if len(line) > self.max_row_bytes:
                    yield RawRow(number, {}, "row_too_long", {"size": len(line), "limit": self.max_row_bytes},
                                 raw_text=line[:2000])
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield RawRow(number, {}, "bad_json", {"error": exc.msg}, raw_text=line.rstrip("\n"))
                    continue
                if not isinstance(obj, dict):
                    yield RawRow(number, {}, "bad_json", {"error": "not an object"}, raw_text=line.rstrip("\n"))
                    continue
                for key in obj:
                    seen.setdefault(str(key), None)
                self.headers = list(seen)
                yield RawRow(number, {str(k): v for k, v in obj.items()}, raw_text=line.rstrip("\n"))
            if not any_line:
                raise InputError("empty_file", path=str(self.path))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _sniff(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def detect_format(path: Path, declared: str) -> str:
    if declared != "auto":
        return declared
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    raise InputError("unknown_format", path=str(path))


def open_source(path: Path, fmt: str, max_row_bytes: int, delimiter: str = "auto", encoding: str = "auto") -> Source:
    if not path.exists():
        raise InputError("file_not_found", path=str(path))
    if path.is_dir():
        raise InputError("file_is_dir", path=str(path))
    fmt = detect_format(path, fmt)
    if path.stat().st_size == 0:
        raise InputError("empty_file", path=str(path))
    return Source(path, fmt, max_row_bytes, delimiter, encoding)

