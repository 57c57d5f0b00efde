"""An outside reviewer's attacks on ATOMIC (review7): an export whose bundle file cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from puente.node import Node
from tests.share_support import agreement_doc, ingest, install

FIXTURES = Path(__file__).parent / "fixtures" / "share"


def _run(home: Path, *args: str) -> int:
    from puente.cli import main

    return main(["--home", str(home), *args])


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_a_bundle_that_cannot_be_written_is_not_recorded_as_sent(make_node, tmp_path: Path, where: str) -> None:  # type: ignore[no-untyped-def]
    """`share export -o /no/such/dir/b.bundle` committed the export (sequence, audit entry, records marked sent)
    and only then failed to write the file: the next bundle left those records out, so the partner never got
    them (short of a --full resend nobody knew was needed)."""
    us, mx = make_node("us-hsi", "US"), make_node("mx-fgr", "MX")
    ingest(us, FIXTURES / "seizures_us.csv", "seizure-us")
    install(us, mx, agreement_doc(us, mx))
    with us.open_store() as store:
        before = (store.scalar("SELECT COUNT(*) FROM audit_log"), store.scalar("SELECT COUNT(*) FROM share_sent"))
    (tmp_path / "a-directory").mkdir()
    bad = tmp_path / "missing-dir" / "b1.bundle" if where == "missing-dir" else tmp_path / "a-directory"
    assert _run(us.home, "share", "export", "--to", "mx-fgr", "-o", str(bad)) == 4
    with us.open_store() as store:
        after = (store.scalar("SELECT COUNT(*) FROM audit_log"), store.scalar("SELECT COUNT(*) FROM share_sent"))
    assert after == before, "the failed export was committed"
    assert not list(tmp_path.glob("**/.*.partial"))
    good = tmp_path / "b1.bundle"
    assert _run(us.home, "share", "export", "--to", "mx-fgr", "-o", str(good)) == 0
    assert _run(mx.home, "share", "import", str(good)) == 0  # sequence 1: nothing was skipped
    with Node.load(mx.home).open_store() as store:
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = 'us-hsi'") == 4
    assert _run(us.home, "audit", "verify") == 0
