"""Attack10 (WITHHELD): a bundle made under an agreement that has since been narrowed.

The partner exported under v1 (seizures with their notes and every drug); both sides then signed v2, which drops
the notes and shares fentanyl only. Held: the v1 bundle, imported after v2 is installed, is refused whole (the
manifest names v1, the agreement here is v2), nothing stored, the refusal audited; the next export under v2
sends the records again in v2's shape and deletes the ones v2 no longer shares, so nothing v2 withholds stays at
the receiver.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from share_support import SEIZURE_RULES, agreement_doc, install, pair

from puente.errors import BundleError
from puente.share.export import export_bundle
from puente.share.receive import import_bundle


def test_a_bundle_made_under_a_superseded_version_is_refused_and_v2_takes_back_what_it_withholds(make_node: Any) -> None:
    us, mx = pair(make_node)
    v1_rules = copy.deepcopy(SEIZURE_RULES)
    v1_rules["fields"]["notes"] = "keep"
    install(us, mx, agreement_doc(us, mx, {"seizure": v1_rules}))
    with us.open_store() as store:
        first = export_bundle(us, store, mx.name)
        old = export_bundle(us, store, mx.name, full=True)  # made under v1, kept back
    with mx.open_store() as store:
        report = import_bundle(mx, store, first)
        assert report.records > 0
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = ? AND notes IS NOT NULL", [us.name]) > 0
    v2_rules = copy.deepcopy(SEIZURE_RULES)
    v2_rules["records"] = [{"field": "drug", "in": ["fentanyl"]}]
    install(us, mx, agreement_doc(us, mx, {"seizure": v2_rules}, version=2))
    with mx.open_store() as store:
        with pytest.raises(BundleError) as err:
            import_bundle(mx, store, old)
        assert "v1" in str(err.value.message()) and "v2" in str(err.value.message())
        assert store.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'import_rejected'") >= 1
    with us.open_store() as store:
        fresh = export_bundle(us, store, mx.name)
    with mx.open_store() as store:
        import_bundle(mx, store, fresh)
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = ? AND notes IS NOT NULL", [us.name]) == 0
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = ? AND drug <> 'fentanyl'", [us.name]) == 0
        assert store.scalar("SELECT COUNT(*) FROM seizure WHERE owner_node = ?", [us.name]) > 0


def test_a_bundle_lost_on_the_way_is_named_when_the_next_one_is_imported(make_node: Any, tmp_path: Any) -> None:
    """Broken before: bundle #1 lost (never imported), #2 imported: the import said only "bundle #2 imported" and
    #1's records were silently missing at the receiver for good (an incremental export never resends them). Now
    the import names the bundles never imported and the command that resends them, in its output and in the
    receiver's audit entry."""
    from _puente_cli import cli

    us, mx = pair(make_node)
    install(us, mx, agreement_doc(us, mx))
    with us.open_store() as store:
        export_bundle(us, store, mx.name)  # #1: lost on the way
    extra = tmp_path / "more.csv"
    extra.write_text("source_id,date,place,agency,drug,form,quantity,unit\n"
                     'US-900,04/02/2025,"Nogales, AZ",CBP,fentanyl,powder,3,kg\n', encoding="utf-8")
    assert cli(us.home, "ingest", str(extra), "--profile", "seizure-us").returncode == 0
    assert cli(us.home, "share", "export", "--to", mx.name, "-o", str(tmp_path / "b2.bundle")).returncode == 0
    proc = cli(mx.home, "share", "import", str(tmp_path / "b2.bundle"))
    assert proc.returncode == 0, proc.stderr
    assert "bundle #2 from us-hsi imported: 1 records" in proc.stdout
    assert "bundles #1 to #1 from us-hsi were never imported here" in " ".join(proc.stdout.split())
    assert "--full" in proc.stdout
    with mx.open_store() as store:
        reason = store.scalar("SELECT reason FROM audit_log WHERE action = 'import' ORDER BY idx DESC LIMIT 1")
    assert "bundles #1-#1 of us-hsi were never imported here" in reason


def test_a_push_over_the_api_tells_the_sender_which_bundles_never_arrived(tmp_path: Any) -> None:
    """The same over HTTP: the sender pushing a bundle learns from the answer which of its bundles this node never
    imported (``never_imported``: [first, last]), so it can resend them with ``--full``."""
    from api_seed import bearer, build_env

    client, tokens, _us, mx = build_env(tmp_path)
    head = {**bearer(tokens["partner-node"]), "Content-Type": "application/vnd.puente.bundle"}
    with client, mx.open_store() as store:
        first = client.post("/api/v1/bundles/import", content=export_bundle(mx, store, "us-test", full=True),
                            headers=head)
        assert first.status_code == 200 and first.json()["never_imported"] is None
        export_bundle(mx, store, "us-test", full=True)  # lost on the way
        third = client.post("/api/v1/bundles/import", content=export_bundle(mx, store, "us-test", full=True),
                            headers=head)
    assert third.status_code == 200
    seq = third.json()["sequence"]
    assert third.json()["never_imported"] == [seq - 1, seq - 1]
