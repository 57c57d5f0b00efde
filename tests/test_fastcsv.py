"""The columnar path's CSV split (:mod:`puente.ingest.fastcsv`) gives, for every line of a file it accepts, the
cells of Python's csv module (what the row reader reads) and the line's number: Arrow's C++ reader on the whole
file, the csv module for lines Arrow does not read as n cells (extra trailing delimiters), and both fallbacks
(a file with an SOH byte: lines split in SQL; Arrow declining the file: the csv module for every quoted line)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from puente.ingest import fastcsv
from puente.ingest.columnar import scratch

_CHARS = st.sampled_from(['a', 'Z', '7', ' ', '\t', '"', ',', ';', '|', 'é', 'ñ', '€', '\x01', "'", '\\', '""'])
_CELL = st.lists(_CHARS, max_size=6).map("".join)


@st.composite
def csv_text(draw: st.DrawFn) -> tuple[str, str, int]:
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    n = draw(st.integers(2, 5))
    buffer = io.StringIO()
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    csv.writer(buffer, delimiter=delim, lineterminator=newline).writerow([f"h{i}" for i in range(n)])
    for _ in range(draw(st.integers(0, 12))):
        cells = draw(st.lists(_CELL, min_size=n, max_size=n))
        quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL] * 3 + [csv.QUOTE_ALL]))
        line = io.StringIO()
        csv.writer(line, delimiter=delim, quoting=quoting, lineterminator="").writerow(cells)
        extra = draw(st.lists(st.sampled_from(["", " ", "\t", " \t "]), max_size=2))  # trailing delimiters
        buffer.write(line.getvalue() + "".join(delim + e for e in extra) + newline)
    text = buffer.getvalue()
    if text.endswith(newline) and draw(st.booleans()):
        text = text[: -len(newline)]  # no newline after the last line
    return text, delim, n


def _split(tmp: Path, text: str, delim: str) -> tuple[list[str] | None, list[tuple[Any, ...]]]:
    path = tmp / "f.csv"
    path.write_bytes(text.encode("utf-8"))
    con = scratch(str(tmp))
    try:
        headers = fastcsv.fast_csv(con, path, 1_000_000, delim)
        rows = con.execute("SELECT * FROM src ORDER BY _row").fetchall() if headers is not None else []
    finally:
        con.close()
    return headers, rows


def _expected(text: str, delim: str, n: int) -> list[tuple[Any, ...]]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [(k + 1, *next(csv.reader([line.removesuffix("\r")], delimiter=delim))[:n])
            for k, line in enumerate(lines) if k]


_settings = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@_settings
@given(sample=csv_text(), arrow=st.booleans())
def test_the_split_gives_the_csv_modules_cells(tmp_path_factory: pytest.TempPathFactory,
                                               sample: tuple[str, str, int], arrow: bool) -> None:
    text, delim, n = sample
    tmp = tmp_path_factory.mktemp("fastcsv")
    if arrow:
        headers, rows = _split(tmp, text, delim)
    else:  # Arrow declines the file: the csv module splits every quoted line
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fastcsv, "read_arrow", lambda *a: None)
            headers, rows = _split(tmp, text, delim)
    assert headers == [f"h{i}" for i in range(n)]
    assert rows == _expected(text, delim, n)


def test_each_way_of_splitting_gives_the_same_cells(tmp_path: Path) -> None:
    """A fixed file through Arrow alone, Arrow and the csv module (a line with trailing delimiters), and the
    SQL split of lines (an SOH byte in a cell)."""
    base = 'a,b,c\nx,"y, ""q""",z\n"",,"é"\n1,2,3\n'
    for n, text in enumerate((base, base + "4,5,6, ,\t\n", base + 'soh,"\x01",x\r\n'.replace("\r\n", "\n"))):
        tmp = tmp_path / str(n)
        tmp.mkdir()
        headers, rows = _split(tmp, text, "auto")
        assert headers == ["a", "b", "c"]
        assert rows == _expected(text, ",", 3)
        assert rows[0] == (2, "x", 'y, "q"', "z")


def test_arrow_reads_a_line_with_trailing_delimiters_as_odd() -> None:
    """The lines Arrow leaves to the csv module, by their text."""
    import pyarrow as pa

    odd: set[str] = set()
    table = fastcsv.read_arrow(pa.BufferReader(b'h,i\n"a,b",c\nd,e, \nf,"g"\n'), ",", 2, odd)
    assert table is not None and table.to_pylist() == [{"c0": "a,b", "c1": "c"}, {"c0": "f", "c1": "g"}]
    assert odd == {"d,e, "}


@pytest.mark.parametrize("soh", [False, True])
def test_a_file_not_in_utf8_is_left_to_the_row_reader(tmp_path: Path, soh: bool) -> None:
    """Arrow checks the lines' UTF-8 as it reads them (Python's decoder when the file has an SOH byte): the same
    verdict as Python's decoder on every sequence here (surrogates, overlong forms, past U+10FFFF, cut short)."""
    for n, sequence in enumerate((b"\xed\xa0\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"\xff",
                                  b"\xc3", b"\xe2\x82", b"\xef\xbf\xbe", b"\xf0\x9f\x98\x80", b"\xed\x9f\xbf")):
        valid = True
        try:
            sequence.decode("utf-8")
        except UnicodeDecodeError:
            valid = False
        path = tmp_path / f"{n}.csv"
        path.write_bytes(b"a,b\nx,y\n" + (b"\x01" if soh else b"") + b"p" + sequence + b",q\n")
        con = scratch(str(tmp_path))
        headers = fastcsv.fast_csv(con, path, 1_000_000, "auto")
        assert (headers is not None) == valid, sequence
        if valid:
            assert con.execute("SELECT c0 FROM src WHERE _row = 3").fetchone() == (("\x01" if soh else "") + "p"
                                                                                   + sequence.decode("utf-8"),)
        con.close()
