"""Reading a CSV file for the columnar path (:mod:`puente.ingest.columnar`): a well-formed UTF-8 file is loaded
into ``src`` (one text column per header, ``_row`` the line number) when every line is provably read the same as
by the row reader (:mod:`puente.ingest.readers`); otherwise nothing is loaded and the row reader feeds the
columnar path. Arrow's C++ CSV reader reads the lines (checked against the grammar in SQL) and splits the cells,
in threads and without Python objects; Python's ``csv`` module splits what Arrow does not read as n cells."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from puente.ingest.columnar import _ident, _lit, python_functions
from puente.ingest.readers import _sniff, sniff_encoding

_CSV_FIELD_LIMIT = 100_000  # under the csv module's default field_size_limit (131,072 characters)


def fast_csv(con: duckdb.DuckDBPyConnection, path: Path, max_row_bytes: int,
             delimiter: str) -> list[str] | None:
    """Load a well-formed UTF-8 CSV into ``src`` with DuckDB; None (nothing loaded) if any line is
    not provably read the same as by the row reader."""
    # checked in 1 MB blocks, so the whole file is never in Python's memory; UTF-8 by Arrow as it reads the lines
    # (else by Python's decoder, :func:`_utf8`)
    head = b""
    cr = crlf = 0
    soh = False
    previous = b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if not head:
                head = block[: 1 << 16]
            if b"\x00" in block:
                return None
            soh = soh or b"\x01" in block
            cr += block.count(b"\r")
            crlf += block.count(b"\r\n") + (previous.endswith(b"\r") and block.startswith(b"\n"))
            previous = block
    if not head.strip() or sniff_encoding(head) or cr != crlf:
        return None
    if b"\n" not in head and len(head) >= 1 << 16:
        return None  # a header line longer than 64 KB: left to the row reader
    data = head
    try:
        first = data.split(b"\n", 1)[0].decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
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
    # the lines (LF, CRLF: the grammar has no bare CR), numbered from 1 (the header), a last empty one dropped:
    # read by Arrow's C++ CSV reader in threads as one column (its delimiter a byte the file lacks, no quoting)
    # when the file has no SOH byte (1M lines: ~0.2-0.6 CPU s, against ~1 s on one thread in SQL)
    lines = None if soh else read_lines(path)
    if lines is not None:
        con.register("_lines", lines)
        try:
            con.execute("CREATE TABLE lines AS SELECT n, l FROM _lines")
        finally:
            con.unregister("_lines")
        del lines
    elif not _utf8(path):
        return None
    else:
        # a file without any CR needs no rtrim (1M lines: 0.6-0.7 CPU s and over 1 s wall)
        line = "rtrim(l, chr(13))" if cr else "l"
        con.execute(f"""
            CREATE TABLE lines AS
            SELECT n, {line} AS l FROM (
                SELECT unnest(ls) AS l, generate_subscripts(ls, 1) AS n, len(ls) AS total
                FROM (SELECT string_split(content, chr(10)) AS ls FROM read_text(?)))
            WHERE n > 1 AND NOT (n = total AND l = '')""", [str(path)])
    bad = con.execute(f"""
        SELECT count(*) FILTER (length(l) > ? OR NOT regexp_full_match(l, {_lit(line_re)})), count(*)
        FROM lines""", [max_row_bytes]).fetchone()
    if bad is None or bad[0]:
        con.execute("DROP TABLE lines")
        return None
    lines_read = int(bad[1])
    n = len(headers)
    con.execute("CREATE VIEW raw_lines AS SELECT n AS _row, l AS _raw FROM lines")  # the text of a quarantined row
    # every line of this grammar is one record (no LF, CR or NUL in a cell): Arrow's C++ CSV reader splits the
    # whole file in threads, with no Python objects, into the cells Python's csv module gives (tests/test_fastcsv.py),
    # line k + 2 being its record k (1M lines, 32% quoted: ~0.4-0.6 CPU s against ~1.5 s on one thread for the
    # csv module in an Arrow UDF). A line it does not read as n cells (extra trailing delimiters) is left to the
    # csv module; if Arrow declines the file, every quoted line is
    odd: set[str] = set()
    with pa.memory_map(str(path)) as source:
        cells = read_arrow(source, delim, n, odd)
    rows = None
    if cells is not None and odd:  # the other lines, in order
        rows = pa.array(con.execute("SELECT n FROM lines WHERE NOT list_contains(?, l) ORDER BY n",
                                    [sorted(odd)]).fetchnumpy()["n"], pa.int64())
    elif cells is not None:
        rows = pa.array(np.arange(2, lines_read + 2, dtype=np.int64))
    rest, params = "TRUE", list[Any]()  # the lines the csv module splits
    by_arrow = pa.table({**{_ident(i): pa.array([], pa.string()) for i in range(n)}, "_row": pa.array([], pa.int64())})
    if cells is not None and rows is not None and len(rows) == cells.num_rows:
        by_arrow = cells.append_column("_row", rows)
        rest, params = ("list_contains(?, l)", [sorted(odd)]) if odd else ("FALSE", [])
    del cells

    def split_quoted(values: pa.Array) -> pa.Array:
        return pa.array(list(csv.reader(values.to_pylist(), delimiter=delim)), pa.list_(pa.string()))

    cols = ", ".join(f"cells[{i + 1}] AS {_ident(i)}" for i in range(n))
    names = ", ".join(_ident(i) for i in range(n))
    with python_functions(con, {"py_csv_split": (split_quoted, ["VARCHAR"], "VARCHAR[]")}) as suffix:
        # a line past the csv module's field-size limit: a regex
        split = (f"CASE WHEN contains(l, '\"') AND length(l) <= {_CSV_FIELD_LIMIT} THEN py_csv_split{suffix}(l) "
                 f"WHEN contains(l, '\"') THEN list_transform(regexp_extract_all({_lit(delim)} || l, {_lit(extract)}, 1), "
                 f"c -> CASE WHEN c[1] = '\"' THEN replace(c[2:-2], '\"\"', '\"') ELSE c END) "
                 f"ELSE string_split(l, {_lit(delim)}) END")
        con.register("_by_arrow", by_arrow)
        try:
            con.execute(f"""CREATE TABLE src AS
                SELECT n AS _row, {cols} FROM (SELECT n, l, {split} AS cells FROM lines WHERE {rest})
                UNION ALL SELECT _row, {names} FROM _by_arrow""", params)
        finally:
            con.unregister("_by_arrow")
    return headers


def _utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def read_lines(path: Path) -> pa.Table | None:
    """The file's lines after the header as a table (``n``: the line number, ``l``: the line without its LF or
    CRLF) read by Arrow, for a file without SOH bytes or bare CRs; None if Arrow declines it (a line not in
    UTF-8 (Arrow's check agrees with Python's decoder: tests/test_fastcsv.py), longer than Arrow's block, ...)."""
    try:
        with pa.memory_map(str(path)) as source:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=["l"], skip_rows=1),
                parse_options=pacsv.ParseOptions(delimiter="\x01", quote_char=False, escape_char=False,
                                                 newlines_in_values=False, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types={"l": pa.string()}, strings_can_be_null=False,
                                                     quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    return table.add_column(0, "n", pa.array(np.arange(2, table.num_rows + 2, dtype=np.int64)))


def read_arrow(source: Any, delim: str, n: int, odd: set[str]) -> pa.Table | None:
    """The records after the header (lines of the grammar) split by Arrow's CSV reader into string columns
    ``c0``..; a line it does not read as n cells is left out, its text added to ``odd``. None if Arrow declines
    the file (e.g. a line longer than its block)."""
    names = [_ident(i) for i in range(n)]

    def invalid(row: Any) -> str:
        odd.add(row.text)
        return "skip"

    try:
        return pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delim, quote_char='"', double_quote=True, escape_char=False,
                                             newlines_in_values=False, ignore_empty_lines=False,
                                             invalid_row_handler=invalid),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None


__all__ = ["fast_csv", "read_arrow", "read_lines"]
