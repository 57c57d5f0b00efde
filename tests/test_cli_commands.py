"""The core commands: init, ingest, status, export, quarantine, in English and Spanish (--lang es,
or a Spanish locale). Most run in-process through the real entry point (``puente.cli.main``) to keep
the suite fast; the node is created and files ingested by the real command in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _puente_cli import invoke, one_line_error, run

FIXTURE = Path(__file__).parent / "fixtures" / "aseguramientos_mx.csv"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    home = root / "nodo"
    code, out, _ = invoke(home, "init", "--name", "mx-fgr", "--country", "mx")
    assert code == 0 and "node 'mx-fgr' (MX) created" in out
    assert (home / "keys" / "signing.key").stat().st_mode & 0o777 == 0o600
    bad = root / "malas.csv"
    bad.write_text("Folio;Fecha del evento;Municipio;Sustancia;Cantidad;Unidad\n"
                   "X1;31/02/2023;Culiacán;fentanilo;1;kg\n", encoding="utf-8")
    assert invoke(home, "ingest", str(FIXTURE), "-p", "seizure-mx")[0] == 0
    # issue 12: a file of which every row is rejected is ingested (quarantined) but exits 4
    assert invoke(home, "ingest", str(bad), "-p", "seizure-mx")[0] == 4
    return home


def test_init_refuses_a_second_node_and_bad_input(home: Path) -> None:
    again = run(home, "init", "--name", "mx-fgr", "--country", "MX")  # a real process, once
    assert again.returncode == 2 and "a node already exists" in one_line_error(again)
    wrong = invoke(home.parent / "otro", "init", "--name", "x", "--country", "CA")
    assert wrong[0] == 2 and "country must be US or MX" in _one_line(wrong)
    name = invoke(home.parent / "otro", "init", "--name", "mal nombre", "--country", "US", lang="es_MX.UTF-8")
    assert "solo admite letras" in _one_line(name)


def test_status_counts_dates_and_places(home: Path) -> None:
    code, out, _ = invoke(home, "status")
    assert code == 0
    line = next(x for x in out.splitlines() if "seizure" in x)
    for cell in ("mx-fgr", "20", "2023-01-03", "2023-12-29", "20/20 (100%)"):
        assert cell in line
    assert "2 ingest batches; 1 rows in quarantine" in out
    _, spanish, _ = invoke(home, "--lang", "es", "status")
    assert "lugares" in spanish and "2 lotes ingeridos; 1 filas en cuarentena" in spanish
    spanish_locale = run(home, "status", lang="es_MX.UTF-8")  # the locale alone, in a real process
    assert "2 lotes ingeridos; 1 filas en cuarentena" in spanish_locale.stdout


def test_status_of_an_empty_node(tmp_path: Path) -> None:
    assert invoke(tmp_path / "vacio", "init", "--name", "us-empty", "--country", "US")[0] == 0
    _, out, _ = invoke(tmp_path / "vacio", "status", lang="es_MX.UTF-8")
    assert "el nodo aún no tiene registros" in out


def test_quarantine_lists_reasons_in_both_languages(home: Path) -> None:
    _, english, _ = invoke(home, "quarantine")
    assert "malas.csv" in english and "'31/02/2023' is not a valid date" in english
    assert "showing 1 of 1 rows in quarantine" in english
    _, spanish, _ = invoke(home, "quarantine", lang="es_MX.UTF-8")
    assert "'31/02/2023' no es una fecha válida" in spanish and "motivo" in spanish


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "geojson"])
def test_export_writes_files(home: Path, fmt: str) -> None:
    target = home.parent / f"salida.{fmt}"
    code, out, _ = invoke(home, "export", "seizure", "--format", fmt, "--out", str(target))
    assert code == 0 and f"wrote 20 seizure records to {target}" in out
    assert target.stat().st_size > 1000
    if fmt == "geojson":
        assert len(json.loads(target.read_text(encoding="utf-8"))["features"]) == 20


def _one_line(result: tuple[int, str, str]) -> str:
    lines = [line for line in result[2].splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("puente: ") and "Traceback" not in result[2], result[2]
    return lines[0]


def test_export_errors_are_one_line(home: Path) -> None:
    fmt = invoke(home, "export", "seizure", "--format", "xml")
    assert fmt[0] == 2 and "unknown export format 'xml'" in _one_line(fmt)
    ftm = invoke(home, "--lang", "es", "export", "seizure", "--format", "ftm")
    assert ftm[0] == 2 and "la exportación FollowTheMoney es para personas" in _one_line(ftm)
    kind = invoke(home, "export", "barco")
    assert kind[0] == 2 and "unknown record kind 'barco'" in _one_line(kind)
    target = invoke(home, "export", "seizure", "--out", "/proc/no/such/dir/x.csv")
    assert target[0] == 4 and "cannot use the file" in _one_line(target)


def test_commands_without_a_node(tmp_path: Path) -> None:
    for args in (["status"], ["quarantine"], ["export", "seizure"], ["ingest", "x.csv", "-p", "seizure-mx"]):
        result = invoke(tmp_path / "nada", *args, lang="es_MX.UTF-8")
        assert result[0] == 3 and "no hay un nodo" in _one_line(result)
