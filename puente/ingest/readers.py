"""Streaming readers for CSV, Excel (.xlsx) and JSON Lines.

Each reader yields :class:`RawRow` objects: the 1-based row number in the file (the
header is row 1 for CSV/XLSX), a mapping header -> raw value, and a problem key when the
row itself is malformed (wrong number of columns, bad JSON, too long). Rows are never
dropped: malformed rows go to quarantine with their raw text.

CSV and JSON Lines are decoded line by line as UTF-8 (a BOM is ignored); a line that is
not valid UTF-8 is decoded as Windows-1252/Latin-1 and counted, so a file mixing encodings
loses nothing and the ingest report says how many lines needed the fallback. A line that
is not UTF-8 and does not read as Latin text either (runs of high bytes: GB18030, Big5,
Shift-JIS, Windows-1251...) refuses the file rather than storing mojibake: the profile's
``encoding`` then says how to read it. UTF-16 and UTF-32 are recognised by their BOM, or
without one by the pattern of NUL bytes in the first few KB. A file whose first line holds
NUL bytes in no such pattern (or that is only NULs) is refused: it is not text.

Integrity rules, the same for every format:

* a header (or JSON key) repeated within the header of a CSV or XLSX file refuses the
  file, naming the column; a JSON Lines object repeating a key is quarantined (each line
  is its own object, so one bad line costs one row);
* a value holding a NUL byte, an unpaired surrogate, or (CSV) a bare carriage return
  costs its row (quarantined with the column named), never the file: NUL must never
  reach PostgreSQL text, and a bare CR is a broken line ending, not data;
* a CSV record the csv module cannot parse costs the lines it spans, not the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
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
    column: str | None = None  # the melted column this row came from (puente/ingest/melt.py), else None


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
        self.detected_encoding: str | None = None
        self.bytes_read = 0
        self.headers: list[str] = []

    @property
    def encoding(self) -> str:
        if self.fixed_encoding:
            return self.fixed_encoding
        return "utf-8" if not self.fallback_lines else f"utf-8 + cp1252 on {self.fallback_lines} lines"

    def rows(self) -> Iterator[RawRow]:
        if self.fmt != "xlsx" and self.declared_encoding == "auto":
            self._sniff_encoding()
        if self.fmt == "csv":
            return self._csv_rows()
        if self.fmt == "xlsx":
            return self._xlsx_rows()
        return self._jsonl_rows()

    # -- CSV ---------------------------------------------------------------------------
    def _sniff_encoding(self) -> None:
        """UTF-16/32 by BOM or NUL pattern, old-Mac CR line endings; refuse NUL-filled files."""
        with self.path.open("rb") as handle:
            sample = handle.read(_SNIFF_BYTES)
            detected = sniff_encoding(sample)
            if detected:
                self.detected_encoding = detected
                return
            first_line = sample.split(b"\n", 1)[0]
            if b"\x00" in first_line:
                if not sample.strip(b"\x00") and not any(block.strip(b"\x00") for block in
                                                         iter(lambda: handle.read(1 << 20), b"")):
                    raise InputError("nul_file", path=str(self.path))
                raise InputError("nul_header", path=str(self.path))
            if b"\r" in sample and b"\n" not in sample:
                self.detected_encoding = "utf-8"  # classic Mac line endings: read with universal newlines

    def _lines(self, handle: BinaryIO) -> Iterator[str]:
        if self.declared_encoding != "auto" or self.detected_encoding:
            yield from self._decoded_lines(handle, self.detected_encoding or self.declared_encoding)
            return
        first = True
        for number, raw in enumerate(handle, start=1):
            self.bytes_read += len(raw)
            if first:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
                first = False
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                if not looks_latin(raw):
                    raise InputError("foreign_encoding", path=str(self.path), line=number) from None
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
            try:
                header = next(csv.reader([header_line], delimiter=delimiter))
            except csv.Error as exc:
                raise InputError("bad_csv", path=str(self.path), line=1, error=str(exc)) from None
            self.headers = self._checked_headers([h.strip() for h in header])
            physical: list[str] = []  # the lines the csv reader took for the current record

            def tapped() -> Iterator[str]:
                for line in lines:
                    physical.append(line)
                    yield line

            source = tapped()
            reader = csv.reader(source, delimiter=delimiter)
            consumed = 0  # lines the csv reader had consumed before this record
            while True:
                number = consumed + 2  # the header is line 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    # e.g. a bare CR in an unquoted cell: the record's lines go to quarantine and a
                    # fresh reader carries on with the next line (one bad record costs one row)
                    taken, physical[:] = physical[:], []
                    consumed += len(taken)
                    yield self._refused(number, exc, "".join(taken))
                    reader = csv.reader(source, delimiter=delimiter)
                    continue
                taken, physical[:] = physical[:], []
                consumed += len(taken)
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                if len(taken) > 1 and len(cells) != len(self.headers):
                    # A stray quote swallowed the following lines: read each line on its own,
                    # so one bad quote costs one row, not the rest of the file.
                    for offset, line in enumerate(taken):
                        if line.strip():
                            try:
                                sub = next(csv.reader([line], delimiter=delimiter), [])
                            except csv.Error as exc:
                                yield self._refused(number + offset, exc, line)
                                continue
                            yield self._make_row(number + offset, sub, line.rstrip("\r\n"))
                    continue
                yield self._make_row(number, cells, "".join(taken).rstrip("\r\n"))

    def _checked_headers(self, headers: list[str]) -> list[str]:
        """A name used twice refuses the file, naming it and both positions."""
        seen: dict[str, int] = {}
        for position, name in enumerate(headers, start=1):
            if name in seen:
                raise InputError("duplicate_header", path=str(self.path), column=name or "(empty)",
                                 first=seen[name], second=position)
            seen[name] = position
        return headers

    def _refused(self, number: int, exc: csv.Error, text: str) -> RawRow:
        """A record the csv module refused; one over the size limit is reported as too long, whatever broke."""
        if len(text) > self.max_row_bytes:
            return RawRow(number, {}, "row_too_long", {"size": len(text), "limit": self.max_row_bytes},
                          raw_text=visible_nul(text[:2000]))
        return _unparsable(number, exc, text)

    def _make_row(self, number: int, cells: list[Any], raw_text: str) -> RawRow:
        if len(raw_text) > self.max_row_bytes:
            return RawRow(number, {}, "row_too_long", {"size": len(raw_text), "limit": self.max_row_bytes},
                          raw_text=visible_nul(raw_text[:2000]))
        if len(cells) > len(self.headers) and not any(str(c).strip() for c in cells[len(self.headers):]):
            cells = cells[: len(self.headers)]  # trailing empty cells (a delimiter at the end of each line)
        if len(cells) != len(self.headers):
            return RawRow(number, {}, "wrong_column_count", {"found": len(cells), "expected": len(self.headers)},
                          raw_text=visible_nul(raw_text))
        values = dict(zip(self.headers, cells))
        if self.fmt == "xlsx" or "\x00" in raw_text or "\r" in raw_text:  # (a CSV record's own line end is stripped)
            problem = bad_character(values, bare_cr=self.fmt == "csv")
            if problem:
                return RawRow(number, {}, "bad_character", problem, raw_text=visible_nul(raw_text))
        return RawRow(number, values, raw_text=raw_text)

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
        headers = [str(h).strip() if h is not None else "" for h in header]
        while headers and not headers[-1]:
            headers.pop()
        self.headers = self._checked_headers(headers)
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
                                 raw_text=visible_nul(line[:2000]))
                    continue
                text = line.rstrip("\r\n")
                try:
                    obj = json.loads(line, object_pairs_hook=_unique_keys)
                except _DuplicateKey as dup:
                    yield RawRow(number, {}, "duplicate_key", {"column": dup.key}, raw_text=visible_nul(text))
                    continue
                except json.JSONDecodeError as exc:
                    yield RawRow(number, {}, "bad_json", {"error": exc.msg}, raw_text=visible_nul(text))
                    continue
                if not isinstance(obj, dict):
                    yield RawRow(number, {}, "bad_json", {"error": "not an object"}, raw_text=visible_nul(text))
                    continue
                if "\\u" in line or "\x00" in line:  # an escaped NUL or unpaired surrogate
                    problem = bad_character(obj, bare_cr=False)
                    if problem:
                        yield RawRow(number, {}, "bad_character", problem, raw_text=visible_nul(text))
                        continue
                for key in obj:
                    seen.setdefault(str(key), None)
                self.headers = list(seen)
                yield RawRow(number, {str(k): v for k, v in obj.items()}, raw_text=text)
            if not any_line:
                raise InputError("empty_file", path=str(self.path))


_SNIFF_BYTES = 1 << 16
# what a value may not hold: a NUL, an unpaired surrogate, and in CSV a CR that does not start a CRLF
_SUSPECT = re.compile("[\x00\ud800-\udfff]|\r(?!\n)")
_BAD_VALUE = re.compile("[\x00\ud800-\udfff]")
_CHAR_NAMES = {"\x00": "NUL (0x00)", "\r": "CR (carriage return)"}


def sniff_encoding(sample: bytes) -> str | None:
    """UTF-32 or UTF-16 from a BOM, else from where the NUL bytes fall (ASCII text in UTF-16LE
    is ``x 00 x 00``, in UTF-32BE ``00 00 00 x``...); None for everything else (read as UTF-8)."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return encoding
    usable = len(sample) // 4 * 4
    if usable < 4 or not sample.strip(b"\x00"):
        return None
    quads = usable // 4
    share = [sample[k:usable:4].count(0) / quads for k in range(4)]
    if share[1] > 0.9 and share[2] > 0.9 and share[3] > 0.9 and share[0] < 0.5:
        return "utf-32-le"
    if share[0] > 0.9 and share[1] > 0.9 and share[2] > 0.9 and share[3] < 0.5:
        return "utf-32-be"
    even, odd = (share[0] + share[2]) / 2, (share[1] + share[3]) / 2
    if odd > 0.7 and even < 0.3:
        return "utf-16-le"
    if even > 0.7 and odd < 0.3:
        return "utf-16-be"
    return None


_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")


def looks_latin(raw: bytes) -> bool:
    """Whether a line that is not UTF-8 reads as Latin-1/Windows-1252 text. In Spanish or
    English text accented letters stand alone between ASCII letters ("Culiacán", "PEÑA");
    double-byte encodings (GB18030, Big5, Shift-JIS, EUC-KR) and Cyrillic or Greek code pages
    write whole words as runs of high bytes."""
    return _HIGH_RUN.search(raw) is None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def bad_character(values: dict[str, Any], bare_cr: bool) -> dict[str, Any] | None:
    """The first column whose value (or key) holds a NUL, an unpaired surrogate or, for CSV, a
    bare CR: the arguments of a ``bad_character`` rejection, or None if every value is clean."""
    pattern = _SUSPECT if bare_cr else _BAD_VALUE
    for column, value in values.items():
        for text in (str(column), *_strings(value)):
            found = pattern.search(text)
            if found:
                char = found.group()
                name = _CHAR_NAMES.get(char, f"U+{ord(char):04X} (unpaired surrogate)")
                return {"column": visible_nul(str(column)), "char": name}
    return None


def visible_nul(text: str) -> str:
    """Raw text safe for any store: NUL as U+2400 (␀), an unpaired surrogate as U+FFFD."""
    if not _BAD_VALUE.search(text):
        return text
    return _BAD_VALUE.sub(lambda m: "\u2400" if m.group() == "\x00" else "\ufffd", text)


def _unparsable(number: int, exc: csv.Error, text: str) -> RawRow:
    """A CSV record the csv module refused (a bare CR outside quotes is the usual cause)."""
    key = "stray_cr_row" if "new-line character" in str(exc) else "bad_csv_row"
    return RawRow(number, {}, key, {"error": str(exc)}, raw_text=visible_nul(text.rstrip("\r\n")))


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

