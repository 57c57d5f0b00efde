"""Review8: the guarantee holes review7 left open (tests/test_review_*.py, bench/results/analytics.md "Review7"),
closed one by one, and the new attacks of this round. Each test fails without its fix."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from puente.node import Node
from tests._puente_cli import one_line_error, run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    Node.init(tmp_path / "us", "us-test", "US")
    return tmp_path / "us"


# -- 7. an unknown --lang is an error, not a silent English ---------------------------------------------------
@pytest.mark.parametrize("lang", ["fr", "pt-BR", "english"])
def test_an_unknown_lang_option_is_one_line_exit_2(home: Path, lang: str) -> None:
    """`--lang fr` printed everything in English without a word."""
    proc = run(home, "--lang", lang, "status")
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc)
    assert repr(lang) in line and "en, es" in line


def test_an_unknown_puente_lang_setting_is_one_line(home: Path) -> None:
    proc = run(home, "status", env={"PUENTE_LANG": "fr"})
    assert proc.returncode == 3
    assert "PUENTE_LANG" in one_line_error(proc)


def test_an_unsupported_locale_falls_back_to_english_and_es_is_case_blind(home: Path) -> None:
    """LANG=fr_FR is the machine's locale, not a choice made for Puente: English, no error (documented)."""
    assert run(home, "status", lang="fr_FR.UTF-8").returncode == 0
    assert "falta" not in run(home.parent / "nowhere", "status", lang="fr_FR.UTF-8").stderr
    es = run(home.parent / "nowhere", "--lang", "ES", "status")
    assert "no hay un nodo" in one_line_error(es)


# -- 3. the hit/no-hit secret's server path stays on the server ---------------------------------------------------
def test_the_missing_hits_secret_error_shows_no_server_path_to_an_api_user(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`POST /hits/queries` without a shared secret answered `... (/srv/puente/us/hits/mx-test.secret)`."""
    from tests.api_seed import bearer, build_env

    client, tokens, us, _ = build_env(tmp_path)
    with client, caplog.at_level(logging.WARNING, logger="puente.api"):
        for lang in ("en", "es"):
            answer = client.post("/api/v1/hits/queries", json={"partner": "mx-test", "kind": "person"},
                                 headers={**bearer(tokens["analyst"]), "Accept-Language": lang})
            assert answer.status_code == 400
            detail = answer.json()["detail"]
            assert "\n" not in detail and ".key" not in detail and str(tmp_path) not in detail, detail
            assert "mx-test" in detail and ("secreto" in detail if lang == "es" else "secret" in detail)
    assert str(us.home) in caplog.text  # the operator still learns where the file should be
