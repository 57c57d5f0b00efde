"""The ingest fault corpus (issue 11 §4): duplicate headers and keys in every format, a stray CR,
NUL bytes, unpaired surrogates, encodings (UTF-16/32 with and without a BOM, NUL-only files,
GB18030), control characters on the terminal, and concurrent ingests on PostgreSQL.

Every case runs the real command in-process (``puente.cli.main``) on both stores and ends with
the right exit code, the printed row account balanced *and* matching what the store holds (the
batch row, the records of the batch, the quarantine rows of the file), or, for a refused file,
nothing of it stored at all. SIGINT, where a real process is the point, is in test_ingest_signals.py.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from _files import write_xlsx as xlsx
from _puente_cli import invoke

from puente.node import Node

HEADER = "case_id,date,place,drug,quantity,unit,notes"
GOOD = ["F1,01/02/2023,\"Culiacán, Sin.\",fentanyl,1.5,kg,niño", "F2,01/03/2023,El Paso TX,cocaine,2,lb,ok",
        "F3,01/04/2023,Nogales AZ,heroin,3,kg,"]
_ACCOUNT = re.compile(r"rows read (\d+) = stored (\d+) \+ updated (\d+) \+ conflicts (\d+) \+ quarantined (\d+) "
                      r"\+ duplicates (\d+)")


def csv_bytes(*rows: str, encoding: str = "utf-8", newline: str = "\n") -> bytes:
    return newline.join([HEADER, *rows, ""]).encode(encoding)


def ingest(node: Node, path: Path, profile: str = "seizure-us", lang: str = "C.UTF-8") -> tuple[int, str, str]:
    return invoke(node.home, "ingest", str(path), "-p", profile, lang=lang)


def assert_balanced(node: Node, path: Path, out: str) -> tuple[int, ...]:
    """The printed account balances and is what the store holds for this file's batch."""
    match = _ACCOUNT.search(out)
    assert match, out
    read, stored, updated, conflicts, quarantined, duplicates = (int(g) for g in match.groups())
    assert read == stored + updated + conflicts + quarantined + duplicates, out
    assert conflicts == 0, out  # no case of this corpus repeats an identity
    with node.open_store() as store:
        (batch_id, *counts), = store.query(
            "SELECT batch_id, rows_read, stored, updated, conflicts, quarantined, duplicates FROM batches "
            "WHERE source_file = ?", [str(path)])
        assert tuple(counts) == (read, stored, updated, conflicts, quarantined, duplicates)
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE batch_id = ?", [batch_id]) == stored + updated
        assert store.scalar("SELECT COUNT(*) FROM quarantine WHERE source_file = ?", [str(path)]) == quarantined
    return read, stored, updated, quarantined, duplicates


def assert_nothing_stored(node: Node) -> None:
    with node.open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure") == 0
        assert store.scalar("SELECT COUNT(*) FROM batches") == 0
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 0


def refusal(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 4, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("puente: ") and "Traceback" not in err, err
    return lines[0]


def quarantine_of(node: Node, path: Path) -> list[tuple[int, str, str, str]]:
    with node.open_store() as store:
        return [(int(r[0]), r[1], r[2], r[3]) for r in store.query(
            "SELECT source_row, reason_key, reason_en, raw FROM quarantine WHERE source_file = ? ORDER BY source_row",
            [str(path)])]


# -- duplicate headers and keys, every format ------------------------------------------------
def test_csv_duplicate_header_is_refused_naming_the_column(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("case_id,date,drug,quantity,unit,quantity\nD1,01/02/2023,fentanyl,1,kg,9\n", encoding="utf-8")
    line = refusal(ingest(node, path))
    assert "repeats the column name 'quantity' (columns 4 and 6)" in line
    assert_nothing_stored(node)


def test_xlsx_duplicate_header_is_refused_not_overwritten(node: Node, tmp_path: Path) -> None:
    """The attack: a second 'quantity' column silently replaced every stored quantity."""
    path = xlsx(tmp_path / "dup.xlsx", [["case_id", "date", "drug", "quantity", "unit", "quantity"],
                                        *[[f"X{i}", "01/02/2023", "fentanyl", i, "kg", 999] for i in range(1, 30)]])
    line = refusal(ingest(node, path))
    assert "repeats the column name 'quantity' (columns 4 and 6)" in line
    assert_nothing_stored(node)
    spanish = refusal(ingest(node, path, lang="es_MX.UTF-8"))
    assert "repite el nombre de columna 'quantity'" in spanish


def test_xlsx_unnamed_columns_twice_are_named_by_position(node: Node, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "blank.xlsx", [["case_id", None, "drug", None, "quantity", "unit"],
                                          ["B1", "a", "fentanyl", "b", 1, "kg"]])
    assert "repeats the column name '(empty)' (columns 2 and 4)" in refusal(ingest(node, path))


def test_jsonl_duplicate_key_quarantines_that_row_only(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text(
        '{"case_id": "J1", "date": "01/02/2023", "drug": "fentanyl", "quantity": 1, "quantity": 999, "unit": "kg"}\n'
        '{"case_id": "J2", "date": "01/02/2023", "drug": "fentanyl", "quantity": 2, "unit": "kg"}\n', encoding="utf-8")
    code, out, _ = ingest(node, path)
    assert code == 0
    assert assert_balanced(node, path, out) == (2, 1, 0, 1, 0)
    (row, key, reason, _raw), = quarantine_of(node, path)
    assert (row, key) == (1, "duplicate_key") and "the key 'quantity' appears twice" in reason
    with node.open_store() as store:
        assert store.query("SELECT source_id, quantity FROM seizure") == [("J2", 2.0)]  # 999 stored nowhere


# -- a stray CR, NUL bytes, unpaired surrogates cost their row, not the file ------------------
@pytest.mark.parametrize(("row", "key", "reason"), [
    ('C1,01/02/2023,El Paso TX,fentanyl,1,lb,"ab\rcd"', "bad_character", "column 'notes' holds a CR"),  # quoted
    ("C1,01/02/2023,El Paso TX,fentanyl,1,lb,ab\rcd", "stray_cr_row", "a bare carriage return (CR)"),  # unquoted
    ("C1,01/02/2023,El Paso\x00 TX,fentanyl,1,lb,x", "bad_character", "column 'place' holds a NUL (0x00)"),
    ('C1,01/02/2023,El Paso TX,fentanyl,1,lb,"\x00\x00"', "bad_character", "column 'notes' holds a NUL (0x00)"),
], ids=["cr-quoted", "cr-unquoted", "nul", "nul-quoted"])
def test_cr_or_nul_costs_its_row_on_both_stores(node: Node, tmp_path: Path, row: str, key: str,
                                                reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(GOOD[0], row, *GOOD[1:]))
    code, out, err = ingest(node, path)
    assert code == 0 and "Traceback" not in err, err
    assert assert_balanced(node, path, out) == (4, 3, 0, 1, 0)
    (number, got_key, got_reason, raw), = quarantine_of(node, path)
    assert (number, got_key) == (3, key) and reason in got_reason
    assert "\x00" not in raw and ("\x00" not in row or "\u2400" in raw)  # NUL kept visibly, never as a NUL
    listing = invoke(node.home, "quarantine")
    assert listing[0] == 0 and "\r" not in listing[1] and "\x00" not in listing[1]


def test_crlf_file_with_a_crlf_inside_a_quoted_cell_is_fine(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(csv_bytes(GOOD[0], 'L1,01/02/2023,El Paso TX,fentanyl,1,lb,"line one\r\nline two"',
                               newline="\r\n"))
    code, out, _ = ingest(node, path)
    assert code == 0 and assert_balanced(node, path, out) == (2, 2, 0, 0, 0)
    with node.open_store() as store:
        assert store.scalar("SELECT notes FROM seizure WHERE source_id = 'L1'") == "line one line two"  # cleaned


def test_classic_mac_line_endings_are_read(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(csv_bytes(*GOOD, newline="\r"))
    code, out, _ = ingest(node, path)
    assert code == 0 and assert_balanced(node, path, out) == (3, 3, 0, 0, 0)


@pytest.mark.parametrize(("value", "char"), [("\\u0000", "NUL (0x00)"), ("\\ud800", "U+D800")], ids=["nul", "surrogate"])
def test_jsonl_escaped_nul_or_lone_surrogate_costs_its_row(node: Node, tmp_path: Path, value: str, char: str) -> None:
    path = tmp_path / "esc.jsonl"
    path.write_text(
        '{"case_id": "E1", "date": "01/02/2023", "drug": "fentanyl", "quantity": 1, "unit": "kg"}\n'
        f'{{"case_id": "E2", "date": "01/02/2023", "drug": "fentanyl", "quantity": 1, "unit": "kg", '
        f'"notes": "a{value}b"}}\n', encoding="utf-8")
    code, out, _ = ingest(node, path)
    assert code == 0 and assert_balanced(node, path, out) == (2, 1, 0, 1, 0)
    (row, key, reason, _raw), = quarantine_of(node, path)
    assert (row, key) == (2, "bad_character") and f"column 'notes' holds a {char}" in reason


# -- encodings ---------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32-be", "utf-32",
                                      "utf-8-sig"])
def test_utf16_and_utf32_with_or_without_bom(node: Node, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(csv_bytes(*GOOD, encoding=encoding))  # "utf-16"/"utf-32" write a BOM, -le/-be do not
    if encoding.startswith(("utf-16-", "utf-32-")):
        assert not path.read_bytes().startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    code, out, err = ingest(node, path)
    assert code == 0, err
    assert assert_balanced(node, path, out) == (3, 3, 0, 0, 0)
    with node.open_store() as store:
        assert store.query("SELECT place_text, notes FROM seizure ORDER BY source_id")[0] == ("Culiacán, Sin.", "niño")


def test_utf16_jsonl_without_bom(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "u16.jsonl"
    path.write_bytes('{"case_id": "U1", "date": "01/02/2023", "drug": "fentanyl", "quantity": 1, "unit": "kg", '
                     '"notes": "acción"}\n'.encode("utf-16-le"))
    code, out, _ = ingest(node, path)
    assert code == 0 and assert_balanced(node, path, out) == (1, 1, 0, 0, 0)


def test_a_file_of_only_nul_bytes_is_refused(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "zeros.csv"
    path.write_bytes(b"\x00" * (1 << 20))
    assert "holds only NUL bytes" in refusal(ingest(node, path))
    assert_nothing_stored(node)


def test_binary_header_is_refused(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "binario.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x9a\x00\x01\nrest")
    assert "has NUL bytes (0x00) in its first line" in refusal(ingest(node, path))
    assert_nothing_stored(node)


def test_gb18030_is_refused_not_stored_as_mojibake(node: Node, tmp_path: Path) -> None:
    rows = [f"G{i},01/02/2023,El Paso TX,fentanyl,{i},kg,{name}" for i, name in
            enumerate(["王伟", "李娜", "张敏"], start=1)]
    path = tmp_path / "gb.csv"
    path.write_bytes(csv_bytes(*rows, encoding="gb18030"))
    line = refusal(ingest(node, path))
    assert "gb.csv line 2 is neither UTF-8 nor Latin-1 text" in line and "encoding: gb18030" in line
    assert_nothing_stored(node)
    # the profile's encoding then reads it right
    node.profiles_dir.mkdir(exist_ok=True)
    (node.profiles_dir / "gb.yaml").write_text("name: seizure-gb\nextends: seizure-us\nencoding: gb18030\n",
                                               encoding="utf-8")
    code, out, _ = ingest(node, path, profile="seizure-gb")
    assert code == 0 and assert_balanced(node, path, out) == (3, 3, 0, 0, 0)
    with node.open_store() as store:
        assert [r[0] for r in store.query("SELECT notes FROM seizure ORDER BY source_id")] == ["王伟", "李娜", "张敏"]


def test_latin1_with_spanish_text_still_falls_back(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(csv_bytes("L1,01/02/2023,Culiacán,fentanyl,1,kg,PEÑA ÁVILA", encoding="cp1252"))
    code, out, _ = ingest(node, path)
    assert code == 0 and assert_balanced(node, path, out) == (1, 1, 0, 0, 0)
    assert "cp1252 on 1 lines" in out


# -- control characters never reach the terminal raw ------------------------------------------------
def test_ansi_escapes_in_file_names_and_values_are_escaped(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b[31m\u202ename.csv"
    path.write_bytes(csv_bytes("A1,01/02/2023,El Paso TX,fentanyl,lots\x1b[2J\x07,kg,x"))
    code, out, err = ingest(node, path)
    assert code == 4 and assert_balanced(node, path, out) == (1, 0, 0, 1, 0)  # every row rejected: exit 4
    listing = invoke(node.home, "quarantine")[1]
    missing = invoke(node.home, "ingest", str(tmp_path / "gone\x1b]0;owned\x07.csv"), "-p", "seizure-us")
    for text in (out, err, listing, missing[2]):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "evil\\x1b[31m\\u202ename.csv" in out
    assert "lots\\x1b[2J\\x07" in listing
    assert missing[0] == 4 and "gone\\x1b]0;owned\\x07.csv" in missing[2]


def test_safe_keeps_text_and_escapes_controls() -> None:
    from puente.terminal import safe

    assert safe("Culiacán 王伟 niño\ttab") == "Culiacán 王伟 niño\ttab"
    assert safe("a\rb\nc\x00d\x9be\u2066") == "a\\rb\\nc\\x00d\\x9be\\u2066"


# -- PostgreSQL: concurrent ingests of one file take turns ---------------------------------------------
@pytest.mark.postgres
def test_unique_violation_is_a_store_error_not_a_bug(make_node, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    from puente.errors import StoreError

    node: Node = make_node("us-pg", "US", pg_url)
    with node.open_store() as store:
        data = pa.table({"file_hash": ["h"], "source_row": pa.array([1], pa.int64())})
        store.insert_arrow("quarantine", data)
        with pytest.raises(StoreError) as err, store.transaction():
            store.insert_arrow("quarantine", data)
        assert err.value.key == "write_conflict" and "run it again" in str(err.value)
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 1
