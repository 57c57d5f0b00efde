"""Broken inputs: each gives one clear line (and an exit code), or quarantine entries with row
number, field and reason; never a traceback; and always read = stored + updated + conflicts + quarantined + duplicates.
The command runs in this process through the CLI's ``main`` (tests/_puente_cli.cli); one test runs
it as a user does, `python -m puente` in a subprocess, to check the process itself (exit status,
stderr without a traceback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _puente_cli import cli, one_line_error, run

from puente.node import Node

HEADER = "Folio;Fecha del evento;Municipio;Sustancia;Cantidad;Unidad\n"
_ACCOUNT = re.compile(r"rows read (\d+) = stored (\d+) \+ updated (\d+) \+ conflicts (\d+) \+ quarantined (\d+) "
                      r"\+ duplicates (\d+)")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken")
    Node.init(root / "mx", "mx-test", "MX")
    return root / "mx"


def account(stdout: str) -> tuple[int, ...]:
    match = _ACCOUNT.search(stdout)
    assert match, stdout
    read, *parts = (int(g) for g in match.groups())
    assert read == sum(parts), stdout  # the row account always balances
    return (read, *parts)


def quarantine_of(home: Path, name: str) -> list[tuple[int, str | None, str, str]]:
    node = Node.load(home)
    with node.open_store() as store:
        return [(int(r[0]), r[1], r[2], r[3]) for r in store.query(
            "SELECT source_row, field, reason_key, reason_en FROM quarantine WHERE source_file LIKE ? "
            "ORDER BY source_row", [f"%{name}"])]


def test_bad_rows_go_to_quarantine_with_row_field_and_reason(home: Path) -> None:
    path = home.parent / "malas.csv"
    path.write_text(HEADER + "\n".join([
        "B1;31/02/2023;Culiacán;fentanilo;2,5;kg",  # row 2: impossible date
        "B2;01/03/2023;Culiacán;fentanilo;-3;kg",  # row 3: negative quantity
        "B3;01/03/2023;Culiacán;aspirina;3;kg",  # row 4: unknown drug
        "B4;01/03/2023;Culiacán;fentanilo;mucho;kg",  # row 5: wrong type
        "B5;ayer;Culiacán;fentanilo;3;cubetas",  # row 6: two bad fields
        "B6;01/03/2023;Navolato;fentanilo;;kg",  # row 7: required value missing
        "B7;01/03/2023;Navolato;fentanilo;2,5;pastillas",  # row 8: half a pill
        "B8;01/03/2023;Culiacán;fentanilo;3;kg",  # row 9: good
        "B9;02/03/2023;Culia",  # row 10: truncated mid-row (the file ends here)
    ]), encoding="utf-8")
    proc = cli(home, "ingest", str(path), "--profile", "seizure-mx")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert account(proc.stdout) == (9, 1, 0, 0, 8, 0)
    rows = quarantine_of(home, "malas.csv")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (2, "date", "bad_date"), (3, "quantity", "below_minimum"), (4, "drug", "unknown_term"),
        (5, "quantity", "bad_number"), (6, "date, unit", "bad_date"), (7, "quantity", "missing_value"),
        (8, None, "bad_pill_count"), (10, None, "wrong_column_count"),
    ]
    assert "'31/02/2023' is not a valid date" in rows[0][3]
    assert "'cubetas' is not in the units vocabulary" in rows[4][3]
    # the listing shows them, in Spanish too
    listing = cli(home, "--lang", "es", "quarantine", "--limit", "100")
    assert "'aspirina' no está en el vocabulario drugs" in listing.stdout
    assert "fila truncada" in listing.stdout


def test_reingesting_a_bad_file_does_not_duplicate_quarantine(home: Path) -> None:
    path = home.parent / "otra_vez.csv"
    path.write_text(HEADER + "R1;31/02/2023;Culiacán;fentanilo;1;kg\nR2;01/02/2023;Culiacán;fentanilo;1;kg\n",
                    encoding="utf-8")
    first = account(cli(home, "ingest", str(path), "-p", "seizure-mx").stdout)
    second = account(cli(home, "ingest", str(path), "-p", "seizure-mx").stdout)
    assert first == (2, 1, 0, 0, 1, 0) and second == (2, 0, 0, 0, 1, 1)
    assert len(quarantine_of(home, "otra_vez.csv")) == 1


def test_duplicated_rows_are_counted_not_stored_twice(home: Path) -> None:
    path = home.parent / "repetidas.csv"
    row = "D1;05/05/2023;Mazatlán;fentanilo;1,5;kg\n"
    path.write_text(HEADER + row + row + row + "D2;05/05/2023;Mazatlán;cocaína;1;kg\n", encoding="utf-8")
    assert account(cli(home, "ingest", str(path), "-p", "seizure-mx").stdout) == (4, 2, 0, 0, 0, 2)


def test_stray_quote_costs_one_row_not_the_rest_of_the_file(home: Path) -> None:
    path = home.parent / "comilla.csv"
    path.write_text(HEADER + 'Q1;01/03/2023;"Culiacán;fentanilo;3;kg\n'
                    + "".join(f"Q{i};01/03/2023;Navolato;fentanilo;{i};kg\n" for i in range(2, 6)), encoding="utf-8")
    assert account(cli(home, "ingest", str(path), "-p", "seizure-mx").stdout) == (5, 4, 0, 0, 1, 0)
    assert [r[0] for r in quarantine_of(home, "comilla.csv")] == [2]


def test_trailing_delimiters_are_not_extra_columns(home: Path) -> None:
    path = home.parent / "punto_y_coma_final.csv"
    path.write_text(HEADER + "T1;01/03/2023;Navolato;fentanilo;3;kg;\nT2;01/03/2023;Navolato;fentanilo;4;kg;;x\n",
                    encoding="utf-8")
    assert account(cli(home, "ingest", str(path), "-p", "seizure-mx").stdout) == (2, 1, 0, 0, 1, 0)
    assert [(r[0], r[2]) for r in quarantine_of(home, "punto_y_coma_final.csv")] == [(3, "wrong_column_count")]


def test_latin1_file_is_read_and_reported(home: Path) -> None:
    path = home.parent / "latin1.csv"
    path.write_bytes((HEADER + "L1;01/02/2023;Mazatlán;heroína;1;kg\nL2;02/02/2023;Culiacán;cocaína;2;kg\n")
                     .encode("latin-1"))
    proc = cli(home, "ingest", str(path), "-p", "seizure-mx")
    assert account(proc.stdout) == (2, 2, 0, 0, 0, 0)
    assert "cp1252 on 2 lines" in proc.stdout  # the header is plain ASCII
    node = Node.load(home)
    with node.open_store() as store:
        got = store.query("SELECT place_text, place_id, drug FROM seizure WHERE source_file = 'latin1.csv' "
                          "ORDER BY source_id")
    assert got == [("Mazatlán", "MX-25012", "heroin"), ("Culiacán", "MX-25006", "cocaine")]


def test_file_mixing_utf8_and_latin1_lines_loses_nothing(home: Path) -> None:
    path = home.parent / "mezcla.csv"
    lines = [HEADER.encode("utf-8"), "M1;01/02/2023;Mazatlán;heroína;1;kg\n".encode(),
             "M2;02/02/2023;Culiacán;cocaína;2;kg\n".encode("latin-1"),
             "M3;03/02/2023;Lázaro Cárdenas, Mich.;fentanilo;3;kg\n".encode()]
    path.write_bytes(b"".join(lines))
    proc = cli(home, "ingest", str(path), "-p", "seizure-mx")
    assert account(proc.stdout) == (3, 3, 0, 0, 0, 0)
    assert "cp1252 on 1 lines" in proc.stdout
    node = Node.load(home)
    with node.open_store() as store:
        got = store.query("SELECT place_id FROM seizure WHERE source_file = 'mezcla.csv' ORDER BY source_id")
    assert got == [("MX-25012",), ("MX-25006",), ("MX-16052",)]


@pytest.mark.slow  # writes and reads a 100 MB line
def test_a_100_mb_line_is_quarantined_not_fatal(home: Path) -> None:
    path = home.parent / "enorme.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "G1;01/02/2023;Culiacán;fentanilo;1;kg\n")
        handle.write("G2;01/02/2023;Culiacán;fentanilo;1;" + "x" * (100 * 1024 * 1024) + "\n")
        handle.write("G3;01/02/2023;Culiacán;fentanilo;2;kg\n")
    proc = cli(home, "ingest", str(path), "-p", "seizure-mx")
    assert account(proc.stdout) == (3, 2, 0, 0, 1, 0)
    (row, _field, key, reason), = quarantine_of(home, "enorme.csv")
    assert (row, key) == (3, "row_too_long") and "longer than the limit" in reason
    path.unlink()


@pytest.mark.parametrize(("name", "content", "expected", "code"), [
    ("vacio.csv", b"", "is empty", 4),
    ("blancos.csv", b"\n\n", "is empty", 4),
    ("sin_cantidad.csv", b"Folio;Fecha del evento;Sustancia;Unidad\nX;01/01/2023;fentanilo;kg\n",
     "has no column for required field(s) quantity of profile 'seizure-mx'", 4),
    ("repetido.csv", b"Folio;Folio;Cantidad\n1;2;3\n", "repeats the column name 'Folio' (columns 1 and 2)", 4),
    ("falso.xlsx", b"Folio;Cantidad\n1;2\n", "is not a readable Excel (.xlsx) file", 4),
    ("datos.pdf", b"%PDF-1.4", "cannot tell the format", 4),
    ("utf16_mal.csv", b"\xff\xfe" + "Folio\n".encode("utf-16-le") + b"\x00\xd8", "is not valid utf-16", 4),
])
def test_unreadable_files_give_one_clear_line(home: Path, name: str, content: bytes, expected: str,
                                              code: int) -> None:
    path = home.parent / name
    path.write_bytes(content)
    proc = cli(home, "ingest", str(path), "-p", "seizure-mx")
    assert proc.returncode == code
    assert expected in one_line_error(proc)


def test_missing_file_directory_and_profile(home: Path) -> None:
    missing = cli(home, "ingest", str(home.parent / "no_existe.csv"), "-p", "seizure-mx")
    assert missing.returncode == 4 and "file not found" in one_line_error(missing)
    folder = cli(home, "ingest", str(home.parent), "-p", "seizure-mx")
    assert folder.returncode == 4 and "is a directory" in one_line_error(folder)
    profile = cli(home, "ingest", str(home.parent / "x.csv"), "-p", "no-such-profile")
    assert profile.returncode == 2 and "unknown profile 'no-such-profile'" in one_line_error(profile)
    spanish = cli(home, "ingest", str(home.parent / "no_existe.csv"), "-p", "seizure-mx", lang="es_MX.UTF-8")
    assert "no se encontró el archivo" in one_line_error(spanish)


def test_header_only_says_so(home: Path) -> None:
    path = home.parent / "solo_encabezado.csv"
    path.write_text(HEADER, encoding="utf-8")
    proc = run(home, "ingest", str(path), "-p", "seizure-mx")
    assert proc.returncode == 0 and proc.stderr == ""
    assert account(proc.stdout) == (0, 0, 0, 0, 0, 0)
    assert "has a header but no data rows" in proc.stdout
