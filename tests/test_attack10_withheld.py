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
