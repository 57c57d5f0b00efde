"""An outside reviewer's attacks on "one clear line, never a traceback" (review7): settings that are not numbers,
ports out of range, and a node whose embedded store file has gone missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.node import Node
from tests._puente_cli import one_line_error, run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    Node.init(tmp_path / "us", "us-test", "US")
    return tmp_path / "us"


@pytest.mark.parametrize(("env", "value"), [("PUENTE_PORT", "abc"), ("PUENTE_BATCH_ROWS", "1.5"),
                                            ("PUENTE_RATE_LIMIT", "lots"), ("PUENTE_POOL_TIMEOUT", "-3")])
def test_a_malformed_numeric_setting_is_one_line(home: Path, env: str, value: str) -> None:
    """PUENTE_PORT=abc crashed every command at import (int() of the demo's default port), with a traceback."""
    proc = run(home, "status", env={env: value})
    assert proc.returncode == 3
    line = one_line_error(proc)
    assert env in line and repr(value) in line


def test_decimal_settings_stay_decimals(home: Path) -> None:
    assert run(home, "status", env={"PUENTE_POOL_TIMEOUT": "2.5", "PUENTE_API_CACHE_MB": "0.5"}).returncode == 0


@pytest.mark.parametrize("how", [("serve", "--port", "99999"), ("serve",)])
def test_a_port_out_of_range_is_refused_before_binding(home: Path, how: tuple[str, ...]) -> None:
    """`serve --port 99999` (or PUENTE_PORT=99999) printed an OverflowError traceback and "this is a bug"."""
    proc = run(home, *how, env={"PUENTE_PORT": "99999"}, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "bug" not in proc.stderr
    assert "99999" in proc.stderr or "65535" in proc.stderr


def test_a_missing_store_file_is_not_silently_replaced_by_an_empty_one(home: Path) -> None:
    """A deleted (or unmounted) store.duckdb was re-created empty: `status` said "the node holds no records yet"
    and every later command wrote into the new, empty store."""
    (home / "store.duckdb").unlink()
    for args in (("status",), ("audit", "verify"), ("export", "seizure", "-o", str(home.parent / "s.csv"))):
        proc = run(home, *args)
        assert proc.returncode == 5, (args, proc.stdout, proc.stderr)
        assert "is missing" in one_line_error(proc)
    assert not (home / "store.duckdb").exists()
    es = run(home, "status", lang="es_MX.UTF-8")
    assert "falta el almacén" in one_line_error(es)


@pytest.mark.parametrize("url", ["https://256.256.256.256:8765", "http://[::1"])
def test_a_malformed_partner_address_is_one_line(home: Path, url: str) -> None:
    """`puente pull https://256.256.256.256:8765` ended in "unexpected error (InvalidURL ...); this is a bug"
    (httpx.InvalidURL is not an httpx.HTTPError)."""
    proc = run(home, "pull", url, env={"PUENTE_PARTNER_TOKEN": "pta_x"})
    assert proc.returncode == 4, proc.stderr
    assert "bug" not in one_line_error(proc)


@pytest.mark.parametrize("url", ["ftp://mx-node.example", "mx-node.example:8765", "https://"])
def test_connect_refuses_what_is_not_an_http_address(home: Path, url: str) -> None:
    """`users connect mx ftp://x` was accepted and the token saved; the failure came only at the first pull."""
    proc = run(home, "users", "connect", "mx-node", url, env={"PUENTE_PARTNER_TOKEN": "pta_x"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "http://" in one_line_error(proc)
    assert not (home / "keys" / "partner-mx-node.token").exists()
