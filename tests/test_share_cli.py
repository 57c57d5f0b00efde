"""The share and audit commands end to end, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.cli import main
from puente.i18n import set_language

FIXTURES = Path(__file__).parent / "fixtures" / "share"


def run(home: Path, *args: str) -> int:
    return main(["--home", str(home), *args])


def test_cli_exchange_revoke_receipt_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from puente.cli import console, err_console

    monkeypatch.setattr(console, "width", 250)
    monkeypatch.setattr(err_console, "width", 250)
    us, mx = tmp_path / "us", tmp_path / "mx"
    assert run(us, "init", "--name", "us-hsi", "--country", "US") == 0
    assert run(mx, "init", "--name", "mx-fgr", "--country", "MX") == 0
    assert run(us, "ingest", str(FIXTURES / "seizures_us.csv"), "-p", "seizure-us") == 0
    assert run(mx, "ingest", str(FIXTURES / "seizures_mx.csv"), "-p", "seizure-mx") == 0
    doc = tmp_path / "agreement.yaml"
    assert run(us, "share", "agreement", "create", "--partner", "mx-fgr", "--partner-key",
               str(mx / "keys" / "signing.pub"), "--id", "us-mx-1", "--out", str(doc)) == 0
    assert run(us, "share", "export", "--to", "mx-fgr") == 6  # no agreement installed yet: PolicyError
    assert run(us, "share", "agreement", "sign", str(doc)) == 0
    assert run(mx, "share", "agreement", "sign", str(doc)) == 0
    assert run(us, "share", "agreement", "sign", str(doc)) == 0
    capsys.readouterr()
    assert run(us, "share", "agreement", "show", "--partner", "mx-fgr") == 0
    shown = capsys.readouterr().out
    assert "kinds.seizure.fields.notes" in shown and "kinds.seizure.records[0]" in shown
    bundle = tmp_path / "b1.bundle"
    assert run(us, "share", "export", "--to", "mx-fgr", "--out", str(bundle)) == 0
    assert "4 records" in capsys.readouterr().out  # the cocaine seizure is withheld by records[0]
    assert run(mx, "share", "import", str(bundle)) == 0
    assert run(mx, "share", "import", str(bundle)) == 7  # replay
    assert "replay" in capsys.readouterr().err
    assert main(["--lang", "es", "--home", str(mx), "share", "import", str(bundle)]) == 7
    assert "paquete rechazado antes de leer sus registros" in capsys.readouterr().err
    set_language("en")
    from puente.node import Node

    with Node.load(us).open_store() as store:
        first = store.query("SELECT id FROM seizure WHERE source_id = 'US-001'")[0][0]
    assert run(us, "share", "revoke", "--to", "mx-fgr", "-r", first, "--reason", "court order") == 0
    b2 = tmp_path / "b2.bundle"
    assert run(us, "share", "export", "--to", "mx-fgr", "--out", str(b2)) == 0
    assert run(mx, "share", "import", str(b2)) == 0
    receipt = b2.with_suffix(".receipt")
    assert receipt.exists()
    assert run(us, "share", "import", str(receipt)) == 0
    assert "1 records purged" in capsys.readouterr().out
    with Node.load(mx).open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE id = ?", [first]) == 0
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = 'us-hsi'") == 3
    for home in (us, mx):
        assert run(home, "audit", "verify") == 0
        assert run(home, "audit", "show") == 0
    assert run(mx, "share", "purge-expired") == 0
    with Node.load(mx).open_store() as store:
        store.execute("UPDATE audit_log SET actor = 'someone else' WHERE idx = 1")
    capsys.readouterr()
    assert run(mx, "audit", "verify") == 9
    captured = capsys.readouterr()
    assert "[1] entry 1 was edited" in captured.out and "position 1" in captured.err
