"""Attack10 (USER ERRORS): the command line's bad input in Spanish, one line each.

Broken before: a usage error of the parser (unknown option or command, a bad value, a missing argument) printed
Typer's four English lines (usage, a hint, a blank line, ``Error: No such option: --bogus``) whatever the
language; ``users add`` with no terminal and nothing piped exited 1 with nothing but getpass's warnings, and
asked for the password before it refused an unknown role. Held before (kept as guards): a missing file, an
unknown profile, kind, format or analysis, a bad country, ``--limit -3``, no agreement with the partner.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _puente_cli import cli, one_line_error, run

from puente.node import Node

ES = "es_MX.UTF-8"
SPANISH = re.compile(r"(no tiene|necesita|valor no válido|vea:|vea '|no existe|falta|rol desconocido|desconocid|"
                     r"no se encontró|debe ser|no hay)")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("a10err")
    Node.init(base / "node", "us-a10", "US")
    return base / "node"


PARSER = [
    (("audit", "verify", "--bogus"), "no existe la opción --bogus (vea 'puente audit verify --help')"),
    (("serve", "--port", "0"), "valor no válido para --port"),
    (("nocmd",), "no existe el comando 'nocmd' (vea 'puente --help')"),
    (("share", "nocmd"), "no existe el comando 'nocmd' (vea 'puente share --help')"),
    (("ingest",), "falta el argumento FILES (vea 'puente ingest --help')"),
    (("status", "--purpos", "x"), "no existe la opción --purpos"),
]


@pytest.mark.parametrize(("args", "expected"), PARSER, ids=[" ".join(a) for a, _ in PARSER])
def test_parser_errors_are_one_line_in_spanish(home: Path, args: tuple[str, ...], expected: str) -> None:
    proc = cli(home, *args, lang=ES)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert expected in line, line
    assert "Usage:" not in proc.stderr and "Error:" not in proc.stderr


def test_parser_errors_in_english_name_the_command(home: Path) -> None:
    line = one_line_error(cli(home, "audit", "verify", "--bogus"))
    assert line == "puente: no such option --bogus (see 'puente audit verify --help')"


def test_a_command_line_error_in_a_real_process_names_puente_not_python(home: Path) -> None:
    proc = run(home, "--lang", "es", "nocmd")
    assert proc.returncode == 2
    assert one_line_error(proc) == "puente: no existe el comando 'nocmd' (vea 'puente --help')"


def test_users_add_with_no_input_says_so_in_one_line(home: Path) -> None:
    proc = run(home, "--lang", "es", "users", "add", "bob", "--role", "analyst")  # stdin: nothing (subprocess.run)
    assert proc.returncode == 2
    assert "no se escribió una contraseña en una terminal" in one_line_error(proc)
    proc = run(home, "--lang", "es", "users", "add", "bob", "--role", "king")
    assert proc.returncode == 2
    assert "rol desconocido 'king'" in one_line_error(proc)  # refused before any password is asked for
    assert "Contraseña" not in proc.stdout + proc.stderr


HELD = [
    ("ingest", "no-such.csv", "--profile", "seizure-us"),
    ("ingest", "x.csv", "--profile", "nope"),
    ("export", "nokind"),
    ("export", "seizure", "--format", "xml"),
    ("analyze", "nothing"),
    ("quarantine", "--limit", "-3"),
    ("share", "export", "--to", "nobody", "-o", "x.bundle"),
]


@pytest.mark.parametrize("args", HELD, ids=[" ".join(a) for a in HELD])
def test_other_bad_input_is_one_spanish_line(home: Path, args: tuple[str, ...]) -> None:
    proc = cli(home, *args, lang=ES)
    assert proc.returncode not in (0, 1, 70)
    assert SPANISH.search(one_line_error(proc)), proc.stderr


@pytest.mark.parametrize("days", ["-1", "0", "nan", "inf", "99999999"])
def test_a_token_lifetime_outside_reason_is_refused_in_one_line(home: Path, days: str) -> None:
    """Broken before: ``users token NAME --days -1`` issued a token already expired (exit 0), ``--days 0`` one
    that never expires (0 read as "no expiry"), and nan, inf or 99999999 were "unexpected error; this is a bug"
    (exit 70). Now each is one line, exit 2, and no token is issued."""
    from puente.api import auth

    with Node.load(home).open_store() as store:
        if not store.scalar("SELECT COUNT(*) FROM api_users WHERE username = 'tok'"):
            auth.add_user(store, "tok", "analyst", "a-long-password-1")
        before = store.scalar("SELECT COUNT(*) FROM api_tokens")
    proc = cli(home, "users", "token", "tok", "--days", days, lang=ES)
    assert proc.returncode == 2
    assert "--days debe ser un número de días mayor que 0" in one_line_error(proc)
    with Node.load(home).open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM api_tokens") == before
    assert cli(home, "users", "token", "tok", "--days", "30").returncode == 0


@pytest.mark.parametrize("threshold", ["2", "0", "-0.5", "nan"])
def test_a_link_threshold_that_is_no_probability_is_refused(home: Path, threshold: str) -> None:
    """Broken before: ``link run --threshold 2`` ran and joined nothing (no probability exceeds 2), silently."""
    proc = cli(home, "link", "run", "--kind", "person", "--threshold", threshold, lang=ES)
    assert proc.returncode == 2
    assert "--threshold es una probabilidad de coincidencia" in one_line_error(proc)


def test_a_huge_limit_shows_everything_and_zero_workers_are_refused(home: Path) -> None:
    """Broken before: ``quarantine --limit 99999999999999999999`` was "unexpected error (ConversionException …
    INT64); this is a bug", exit 70; ``serve --workers 0`` (or -3) served as if 1 had been asked."""
    proc = cli(home, "quarantine", "--limit", "99999999999999999999", lang=ES)
    assert proc.returncode == 0, proc.stderr
    proc = cli(home, "serve", "--workers", "0", lang=ES)
    assert proc.returncode == 2
    assert "valor no válido para --workers" in one_line_error(proc)
