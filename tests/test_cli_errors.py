"""Wrong use of the command line is one clear line in the user's language, never a traceback or Click's English
usage block (docs10): malformed or missing options and arguments, unknown commands, passwords with no terminal to
type them at, dates that do not exist in an agreement or a profile, a file that is not a hit/no-hit message, a
match threshold that is not a probability."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.node import Node
from tests._puente_cli import invoke

SPANISH = "es_MX.UTF-8"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("errors")
    Node.init(root / "us", "us-test", "US")
    return root / "us"


def _one_line(code: int, err: str, expected_code: int) -> str:
    assert "Traceback" not in err and "Usage:" not in err and "Error:" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("puente: "), lines[0]
    assert code == expected_code, err
    return lines[0]


# (arguments, what the English line says, what the Spanish line says, the command whose help it names)
USAGE = [
    (("simulate", "--scale", "abc"), "'abc' is not a whole number", "'abc' no es un número entero", "puente simulate"),
    (("serve", "--port", "0"), "'0' is below 1", "'0' es menor que 1", "puente serve"),
    (("ingest",), "missing argument FILES", "falta el argumento FILES", "puente ingest"),
    (("no-such-command",), "no such command 'no-such-command'", "no existe el comando 'no-such-command'", "puente"),
    (("quarantine", "--limt", "3"), "no such option --limt (did you mean --limit?)", "no existe la opción --limt",
     "puente quarantine"),
    (("share", "revoke", "--to", "mx", "--record", "r"), "missing option --reason", "falta la opción --reason",
     "puente share revoke"),
    (("status", "extra"), "unexpected extra argument(s): extra", "argumento(s) de más: extra", "puente status"),
    (("simulate", "--scale"), "option --scale needs a value", "la opción --scale necesita un valor", "puente simulate"),
    (("link", "run", "--threshold", "x"), "'x' is not a number", "'x' no es un número", "puente link run"),
]


@pytest.mark.parametrize(("args", "english", "spanish", "command"), USAGE, ids=[" ".join(c[0]) for c in USAGE])
def test_usage_errors_are_one_line_in_the_users_language(home: Path, args: tuple[str, ...], english: str,
                                                         spanish: str, command: str) -> None:
    line = _one_line(*invoke(home, *args)[::2], 2)
    assert english in line and f"(see '{command} --help')" in line, line
    line = _one_line(*invoke(home, *args, lang=SPANISH)[::2], 2)
    assert spanish in line and f"(vea '{command} --help')" in line, line


def test_an_unknown_command_after_lang_is_in_that_language(home: Path) -> None:
    """The command name is read before the root's --lang is applied: the line still follows --lang."""
    line = _one_line(*invoke(home, "--lang", "es", "no-such-command")[::2], 2)
    assert "no existe el comando 'no-such-command'" in line


def test_an_account_that_cannot_be_made_is_refused_before_its_password_is_asked(home: Path) -> None:
    """`users add bob --role wizard` asked for a password first (a GetPassWarning and a silent exit 1 in a script)."""
    line = _one_line(*invoke(home, "users", "add", "bob", "--role", "wizard")[::2], 2)
    assert "unknown role 'wizard'" in line


@pytest.mark.parametrize(("args", "option"), [(("users", "add", "bob", "--role", "analyst"), "--password-env"),
                                              (("users", "passwd", "analyst"), "--password-stdin")])
def test_a_password_with_no_terminal_to_type_it_names_the_option(home: Path, args: tuple[str, ...],
                                                                 option: str) -> None:
    line = _one_line(*invoke(home, *args)[::2], 2)
    assert option in line and "terminal" in line
    assert option in _one_line(*invoke(home, *args, lang=SPANISH)[::2], 2)


def test_an_agreement_date_that_does_not_exist_is_a_user_error(home: Path) -> None:
    """`valid_until: 2027-13-45` (unquoted) made the YAML loader raise ValueError: "unexpected error, a bug" (exit 70)."""
    path = home.parent / "baddate.yaml"
    path.write_text("agreement: us-mx\nversion: 1\nvalid_from: 2026-01-01\nvalid_until: 2027-13-45\n", encoding="utf-8")
    for command in ("sign", "show"):
        line = _one_line(*invoke(home, "share", "agreement", command, str(path))[::2], 3)
        assert "baddate.yaml is not valid" in line and "month" in line


def test_a_profile_date_that_does_not_exist_is_a_user_error(tmp_path: Path) -> None:
    Node.init(tmp_path / "us", "us-test", "US")
    (tmp_path / "us" / "profiles").mkdir(exist_ok=True)
    (tmp_path / "us" / "profiles" / "mine.yaml").write_text("name: mine\nkind: seizure\nadded: 2024-13-45\n",
                                                            encoding="utf-8")
    code, _, err = invoke(tmp_path / "us", "profiles")
    assert "mine.yaml is not valid" in _one_line(code, err, 3)


def test_a_file_that_is_not_a_hit_message_is_named(home: Path) -> None:
    """A JSON file with no sender was read as a query from partner 'None' (its secret: keys/hits-None.key)."""
    path = home.parent / "junk.json"
    path.write_text('{"kind": "x"}', encoding="utf-8")
    line = _one_line(*invoke(home, "hits", "receive", str(path))[::2], 4)
    assert "junk.json is not a hit/no-hit message" in line and "None" not in line


def test_a_match_threshold_must_be_a_probability(home: Path) -> None:
    """`link run --threshold 7` linked nothing and said nothing."""
    line = _one_line(*invoke(home, "link", "run", "--threshold", "7")[::2], 2)
    assert "above 0 and at most 1" in line


def test_a_pair_to_review_must_name_record_ids(home: Path) -> None:
    line = _one_line(*invoke(home, "link", "review", "confirm", "a", "b", "--analyst", "me", "--reason", "x")[::2], 2)
    assert "'a' is not a record id" in line and "?" not in line
