"""Reading a CSV file for the columnar path (:mod:`puente.ingest.columnar`): DuckDB loads a well-formed UTF-8
file into ``src`` (one text column per header, ``_row`` the line number) when every line is provably read the
same as by the row reader (:mod:`puente.ingest.readers`); otherwise nothing is loaded and the row reader feeds
the columnar path."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import duckdb
import pyarrow as pa

from puente.ingest.columnar import _ident, _lit, python_functions
from puente.ingest.readers import _sniff, sniff_encoding

_CSV_FIELD_LIMIT = 100_000  # under the csv module's default field_size_limit (131,072 characters)


def fast_csv(con: duckdb.DuckDBPyConnection, path: Path, max_row_bytes: int,
             delimiter: str) -> list[str] | None:
    """Load a well-formed UTF-8 CSV into ``src`` with DuckDB; None (nothing loaded) if any line is
    not provably read the same as by the row reader."""
    # checked in 1 MB blocks, so the whole file is never in Python's memory
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    cr = crlf = 0
    previous = b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if not head:
                head = block[: 1 << 16]
            if b"\x00" in block:
                return None
            cr += block.count(b"\r")
            crlf += block.count(b"\r\n") + (previous.endswith(b"\r") and block.startswith(b"\n"))
            previous = block
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    if not head.strip() or sniff_encoding(head) or cr != crlf:
        return None
    if b"\n" not in head and len(head) >= 1 << 16:
        return None  # a header line longer than 64 KB: left to the row reader
    data = head
    first = data.split(b"\n", 1)[0].decode("utf-8").removeprefix("\ufeff")
    if not first.strip():
        return None
    delim = delimiter if delimiter != "auto" else _sniff(first + "\n")
    if len(delim) != 1 or delim in "\"\r\n":
        return None
    try:
        header = next(csv.reader([first + "\n"], delimiter=delim))
    except csv.Error:
        return None
    headers = [h.strip() for h in header]
    if len(set(headers)) != len(headers) or not 2 <= len(headers) <= 1000:
        return None
    d = f"\\x{{{ord(delim):x}}}"
    cell = f'(?:"(?:[^"]|"")*"|[^"{d}]*)'
    line_re = f"{cell}(?:{d}{cell}){{{len(headers) - 1}}}(?:{d}[ \\t]*)*"
    extract = f'{d}("(?:[^"]|"")*"|[^"{d}]*)'  # on the line after one more delimiter: every match is non-empty
    del data
    # a file without any CR needs no rtrim (1M lines: 0.6-0.7 CPU s and over 1 s wall)
    line = "rtrim(l, chr(13))" if cr else "l"
    con.execute(f"""
        CREATE TABLE lines AS
        SELECT n, {line} AS l FROM (
            SELECT unnest(ls) AS l, generate_subscripts(ls, 1) AS n, len(ls) AS total
            FROM (SELECT string_split(content, chr(10)) AS ls FROM read_text(?)))
        WHERE n > 1 AND NOT (n = total AND l = '')""", [str(path)])
    bad = con.execute(f"""
        SELECT count(*) FROM lines
        WHERE length(l) > ? OR NOT regexp_full_match(l, {_lit(line_re)})""", [max_row_bytes]).fetchone()
    if bad is None or bad[0]:
        con.execute("DROP TABLE lines")
        return None
    n = len(headers)
    # a quoted line: Python's csv module (C) splits it, same cells as the regex below on a line of this
    # grammar (quoted cells whole, "" inside, no quote in a bare cell, no CR or NUL) at ~2/3 of the CPU;
    # a line past the module's field-size limit keeps the regex
    def split_quoted(values: pa.Array) -> pa.Array:
        return pa.array(list(csv.reader(values.to_pylist(), delimiter=delim)), pa.list_(pa.string()))

    with python_functions(con, {"py_csv_split": (split_quoted, ["VARCHAR"], "VARCHAR[]")}) as suffix:
        split = (f"CASE WHEN contains(l, '\"') AND length(l) <= {_CSV_FIELD_LIMIT} THEN py_csv_split{suffix}(l) "
                 f"WHEN contains(l, '\"') THEN list_transform(regexp_extract_all({_lit(delim)} || l, {_lit(extract)}, 1), "
                 f"c -> CASE WHEN c[1] = '\"' THEN replace(c[2:-2], '\"\"', '\"') ELSE c END) "
                 f"ELSE string_split(l, {_lit(delim)}) END")
        cols = ", ".join(f"cells[{i + 1}] AS {_ident(i)}" for i in range(n))
        con.execute(f"CREATE TABLE src AS SELECT n AS _row, {cols} FROM (SELECT n, l, {split} AS cells FROM lines)")
    con.execute("CREATE VIEW raw_lines AS SELECT n AS _row, l AS _raw FROM lines")  # the text of a quarantined row
    return headers

__all__ = ["fast_csv"]
