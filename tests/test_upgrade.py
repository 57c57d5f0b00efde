"""Nodes made by earlier releases open with the current code, migrate in place, and keep every record, id,
quarantined row, field issue, agreement, bundle, account, token and audit entry.

Four fixtures (tests/fixtures/): ``release-0.1`` (commit b5f048d, the first release), ``release-12`` (commit
6630de3: statistics, field issues, a disabled account, a hit/no-hit exchange, the audit head file),
``release-13`` (commit 87232e6: the same, plus partner checkpoints chained as ``evidence``, a partner bundle
refused by the conformance check and a changed password) and ``release-14`` (commit 41b3785, the last release
that landed: the same, plus the per-identity budget's ``hits_identity`` rows and a query it refused, the
partner flagged). What each store held was recorded with its release (expected.json, by
tests/upgrade_snapshot.py); here the same snapshot is taken after the current code opened (and so migrated) a
copy. A section an older expected.json lacks (release-0.1 has no ``tables`` digests) is not compared.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from _puente_cli import invoke
from conftest import require
from upgrade_snapshot import snapshot

from puente.errors import ConfigError
from puente.node import Node

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Release:
    name: str  # the directory under tests/fixtures (and the tarball's stem)
    migrations: int  # schema_migrations rows the release had applied
    # audit entries the current code appends when it first opens such a node, and nothing else
    opening_actions: frozenset[str]
    new_kinds: frozenset[str]  # record kinds added to the model since (their tables start empty)
    # tables that must hold rows in every node of the fixture, so that the comparisons below rest on something
    # (release-12 also has hits_sent and hits_results on the asking node, hits_refs on the answering one)
    nonempty: frozenset[str]

    @property
    def expected(self) -> dict[str, Any]:
        """What each store held, recorded with the release (expected.json)."""
        return _expected(self.name)


@functools.cache
def _expected(name: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((FIXTURES / name / "expected.json").read_text(encoding="utf-8")))


_BASE = frozenset({"quarantine", "seizure", "share_agreements", "share_bundles", "share_sent", "api_users",
                   "api_tokens", "audit_log", "audit_records", "audit_published", "audit_partner"})
RELEASES = {
    # 0.1 kept the signed audit head in the store only: the current code writes audit/head.json and logs it
    # and both releases' checkpoints exchanged with partners (audit_published, audit_partner) are chained into the
    # log once, as one `evidence` entry (review8)
    "release-0.1": Release("release-0.1", 10, frozenset({"audit_head_file", "evidence"}), frozenset({"statistic"}),
                           _BASE),
    "release-12": Release("release-12", 17, frozenset({"evidence"}), frozenset(),
                          _BASE | {"statistic", "field_issues", "hits_queries", "hits_requests"}),
    # 13 had chained the partners' checkpoints already: opening it appends nothing
    "release-13": Release("release-13", 18, frozenset(), frozenset(),
                          _BASE | {"statistic", "field_issues", "hits_queries", "hits_requests"}),
    # 14 also holds hits_identity rows on each answering node (duckdb/mx-node, postgres/us-node): assert_identity
    "release-14": Release("release-14", 19, frozenset(), frozenset(),
                          _BASE | {"statistic", "field_issues", "hits_queries", "hits_requests"}),
}
LATEST = "release-14"  # the last release that landed
# tables that opening legitimately moves on: the audit log grows by the entries above (its old entries stay
# exactly as they were), and its head moves to the new size
APPENDED = {"audit_log", "audit_records", "audit_head"}
DUCKDB_NODES = [(release, name, relative) for release in RELEASES
                for name, relative in (("duckdb/us-node", False), ("duckdb/mx-node", True))]


@pytest.fixture(scope="session")
def unpack(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Where a release's fixture is unpacked: once per session, on first use (tests copy what they open)."""
    done: dict[str, Path] = {}

    def unpacked(release: str) -> Path:
        if release not in done:
            out = tmp_path_factory.mktemp(release)
            with tarfile.open(FIXTURES / release / f"{release}.tar.xz") as tar:
                tar.extractall(out, filter="data")
            done[release] = out
        return done[release]

    return unpacked


def copy_node(unpacked: Path, name: str, target: Path) -> Path:
    home = target / name.replace("/", "-")
    shutil.copytree(unpacked / name, home)
    return home


def set_store(home: Path, url: str) -> None:
    """Point node.toml at a store, keeping the rest of the older release's file as it was."""
    config = home / "node.toml"
    text, count = re.subn(r'(?m)^store = ".*"$', f"store = {json.dumps(url)}", config.read_text(encoding="utf-8"))
    assert count == 1
    config.write_text(text, encoding="utf-8")


def restore_postgres(unpacked: Path, pg_url: str) -> None:
    if shutil.which("psql") is None:
        require("postgres", "psql is not installed (needed to restore the plain-SQL dump)")
    proc = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg_url, "-f",
                           str(unpacked / "postgres" / "us-node.sql")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def assert_intact(home: Path, release: Release, name: str) -> int:
    """Everything the older store held is there; returns how many audit entries opening it appended."""
    expected = release.expected["stores"][name]
    old_entries = expected["counts"]["audit_log"]
    digest_columns = {table: d["columns"] for table, d in expected.get("tables", {}).items()}
    with Node.load(home).open_store() as store:  # opening runs the migrations
        now = snapshot(store, audit_below=old_entries, digest_columns=digest_columns)
        versions = {int(v) for (v,) in store.query("SELECT version FROM schema_migrations")}
    assert len(versions) >= release.migrations
    for table, count in expected["counts"].items():
        if table != "schema_migrations" and table not in APPENDED:
            assert now["counts"].get(table) == count, table
    # every id with its content hash and owner, per kind; a kind the model gained since has its table created, empty
    assert {k: v for k, v in now["kinds"].items() if k in expected["kinds"]} == expected["kinds"]
    assert all(now["counts"][k] == 0 for k in now["kinds"] if k not in expected["kinds"])
    assert set(now["kinds"]) - set(expected["kinds"]) <= release.new_kinds
    for table, rows in expected["rows"].items():  # quarantine, batches, agreements, bundles, peers...
        if table not in APPENDED:
            assert now["rows"][table] == rows, table
    # every value of every row of every table the release had, over the columns it had (release 12 on)
    # (the audit tables opening appends to are compared entry by entry below)
    for table, digest in expected.get("tables", {}).items():
        if table not in APPENDED:
            assert now["tables"].get(table) == digest, table
    # the audit log: every old entry exactly as it was (position, hash, signature), then only opening's own
    log = sorted(now["rows"]["audit_log"], key=lambda row: row[0])  # by position
    assert log[:old_entries] == sorted(expected["rows"]["audit_log"], key=lambda row: row[0])
    appended = log[old_entries:]
    assert {row[3] for row in appended} <= release.opening_actions and len(appended) <= len(release.opening_actions)
    assert now["counts"]["audit_log"] == old_entries + len(appended)
    assert [row[1] for row in now["rows"]["audit_head"]] == [old_entries + len(appended)]
    assert now["audit_records"] == expected["audit_records"]
    # the content the assertions above rest on is really there
    assert not [table for table in release.nonempty if not expected["counts"][table]]
    assert expected["counts"]["share_agreements"] == 1 and expected["counts"]["audit_log"] >= 3
    assert {row[1] for row in expected["rows"]["share_bundles"]} == {"sent", "received"}
    return len(appended)


def assert_tokens(home: Path, release: Release, name: str) -> None:
    """The accounts still mean what they meant: a live token opens, a disabled account's token does not, a
    changed password is the one that logs in; and a bundle the release refused is still on record as refused."""
    from puente.api.auth import authenticate

    tokens = release.expected.get("tokens", {}).get(name)
    if tokens is None:
        return  # release-0.1 kept no token in its expected.json
    changed = release.expected.get("changed_password") if name.endswith("us-node") else None
    with Node.load(home).open_store() as store:
        principal = authenticate(store, tokens["analyst"])
        if changed:  # release-13: the analyst changed the demo password, which revoked the token issued before
            from puente.api.auth import login
            from puente.api.demo_serve import DEMO_PASSWORD
            from puente.errors import UsageError

            assert principal is None
            assert login(store, "analyst", changed)[1].username == "analyst"
            with pytest.raises(UsageError):
                login(store, "analyst", DEMO_PASSWORD)
        else:
            assert principal is not None and principal.username == "analyst"
        assert authenticate(store, tokens["former-analyst"]) is None
        assert store.query("SELECT disabled FROM api_users WHERE username = 'former-analyst'") == [(True,)]
        refused = release.expected.get("refused", {}).get(name)
        if refused:  # release-13: a partner's smuggling bundle, refused by the conformance check
            reasons = store.query("SELECT reason FROM audit_log WHERE action = 'import_rejected'")
            assert len(reasons) == 1 and reasons[0][0].endswith(refused), reasons


def _identity_encodings(store: Any, home: Path, measured: dict[str, Any],
                        name: str) -> tuple[Callable[[list[str]], Any], Any, bytes]:
    """The encoder the partner used for its enumeration (the key of its direction, the fields its received query
    names in ``hits_queries``): a function of guessed birth dates to packed encodings, the layout, the key."""
    import pandas as pd

    from puente.link import clk, hits
    from puente.share import registry

    partner, me = measured["partner"], Node.load(home).name
    agreement, _ = registry.current(store, partner)
    key = hits.matching_key(hits.load_secret(home, partner), agreement.id, agreement.version, partner, me)
    (fields,), = store.query("SELECT fields FROM hits_queries WHERE query_id = 'rx-q-fixture14-0'")
    encoder = clk.Encoder(key, "person", str(fields).split(","))

    def encode(dates: list[str]) -> Any:
        return encoder.encode(pd.DataFrame([{**measured["who"], "birth_date": d} for d in dates]))

    return encode, encoder.layout, key


def assert_identity(home: Path, release: Release, name: str) -> None:
    """Release 14's per-identity budget (hits_identity) carries over: the day's signatures the release stored are
    the ones the current code computes, so the partner's encodings of that identity still count on that day, and
    the refused query is still on record as refused and flagged."""
    import datetime as dt

    from puente.link import identity

    measured = release.expected.get("identity", {}).get(name)
    if measured is None:
        return  # before release 14, or the node that asked
    day, worst, budget = dt.date.fromisoformat(measured["day"]), measured["worst"], measured["budget"]
    more = measured["refused"][:budget - worst + 1]  # alone within the budget; with the day's stored ones, past it
    assert release.expected["stores"][name]["counts"]["hits_identity"] > 0 and len(more) <= budget
    with Node.load(home).open_store() as store:
        flagged = store.query("SELECT reason FROM audit_log WHERE action = 'hits.query.flagged'")
        assert len(flagged) == 1 and "q-fixture14-1" in flagged[0][0], flagged
        assert store.query("SELECT status, encodings FROM hits_queries WHERE direction = 'received' AND reason LIKE ?",
                           [f"%describe one identity%budget is {budget} a day%"]) == [("flagged", len(measured["refused"]))]
        encode, lay, key = _identity_encodings(store, home, measured, name)
        with store.transaction():  # new dates: counted with the day's stored ones, they go past the budget
            past, _ = identity.count(store, measured["partner"], "q-upgrade-0", encode(more), lay, key, day)
        with store.transaction():  # the answered part again: exact copies of stored encodings count once
            again, _ = identity.count(store, measured["partner"], "q-upgrade-1", encode(measured["answered"]), lay,
                                      key, day)
    assert (past, again) == (worst + len(more), worst + len(more)) == (budget + 1, budget + 1)


def test_copied_node_of_the_first_release_refuses_its_original_store(unpack: Callable[[str], Path], tmp_path: Path) -> None:
    """A 0.1 node.toml names its store by absolute path: a copy must not silently open another store."""
    home = copy_node(unpack("release-0.1"), "duckdb/us-node", tmp_path)
    assert '"duckdb:///' in (home / "node.toml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        Node.load(home)
    assert err.value.key == "node_store_elsewhere"
    code, _, stderr = invoke(home, "status")
    assert code == 3 and 'store = "duckdb://store.duckdb"' in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(("release", "name", "relative"), DUCKDB_NODES)
def test_older_release_duckdb_node_opens_with_everything_intact(unpack: Callable[[str], Path], tmp_path: Path,
                                                                release: str, name: str, relative: bool) -> None:
    rel = RELEASES[release]
    home = copy_node(unpack(release), name, tmp_path)
    # as the error above says (relative), or the old absolute form pointing at the new place
    set_store(home, "duckdb://store.duckdb" if relative else f"duckdb://{(home / 'store.duckdb').resolve()}")
    head = home / "audit" / "head.json"
    head_before = head.read_bytes() if head.exists() else None
    appended = assert_intact(home, rel, name)
    assert_tokens(home, rel, name)
    # the signed head outside the store (release 12 wrote it; 0.1 had none, and opening writes and logs it):
    # byte for byte as it was when opening appended nothing
    assert head.read_bytes() == head_before if appended == 0 else head.exists()
    code, stdout, stderr = invoke(home, "audit", "verify")
    assert code == 0, stderr
    assert f"{rel.expected['stores'][name]['counts']['audit_log'] + appended} entries" in stdout
    # and the upgraded node still works: its status lists what it holds
    code, stdout, _ = invoke(home, "status")
    assert code == 0 and "seizure" in stdout
    assert_identity(home, rel, name)  # last: it counts more encodings (in the copy)


@pytest.mark.postgres
@pytest.mark.parametrize("release", list(RELEASES))
def test_older_release_postgres_node_opens_with_everything_intact(unpack: Callable[[str], Path], tmp_path: Path,
                                                                  pg_url: str, release: str) -> None:
    rel, name = RELEASES[release], "postgres/us-node"
    source = unpack(release)
    restore_postgres(source, pg_url)
    home = copy_node(source, name, tmp_path)
    set_store(home, pg_url)
    appended = assert_intact(home, rel, name)
    assert_tokens(home, rel, name)
    code, stdout, stderr = invoke(home, "audit", "verify")
    assert code == 0, stderr
    assert f"{rel.expected['stores'][name]['counts']['audit_log'] + appended} entries" in stdout
    assert_identity(home, rel, name)


def test_a_partner_refused_by_the_identity_budget_stays_flagged_that_day(unpack: Callable[[str], Path],
                                                                          tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The U.S. node that release 14 flagged for enumerating one Mexican person's birth date asks again after the
    upgrade: on the day of the refusal it is still refused (``hits_rej_flagged``), the next day it is answered
    and that day's identity signatures go, as release 14 did."""
    import datetime as dt

    from puente.link import hits

    measured = RELEASES["release-14"].expected["identity"]["duckdb/mx-node"]
    day = dt.date.fromisoformat(measured["day"])
    homes = {}
    for name in ("duckdb/us-node", "duckdb/mx-node"):
        homes[name] = copy_node(unpack("release-14"), name, tmp_path)
        set_store(homes[name], "duckdb://store.duckdb")
    us, mx = Node.load(homes["duckdb/us-node"]), Node.load(homes["duckdb/mx-node"])
    secret = hits.load_secret(us.home, mx.name)
    statuses = []
    with us.open_store() as sa, mx.open_store() as sb:
        ids = [i for (i,) in sa.query("SELECT id FROM person WHERE owner_node = ? AND birth_date IS NOT NULL "
                                      "ORDER BY id LIMIT 2", [us.name])]
        for when in (day, day + dt.timedelta(days=1)):
            monkeypatch.setattr(hits, "_now", lambda when=when: dt.datetime.combine(when, dt.time(12)))
            answer = hits.answer_query(sb, mx, secret, hits.make_query(sa, us, mx.name, secret, record_ids=ids))
            statuses.append(answer["reason_key"] if answer["status"] == "rejected" else answer["status"])
            if when == day:
                assert sb.scalar("SELECT COUNT(*) FROM hits_identity") == RELEASES["release-14"].expected["stores"][
                    "duckdb/mx-node"]["counts"]["hits_identity"]
        assert sb.scalar("SELECT COUNT(*) FROM hits_identity WHERE day <= ?", [day]) == 0
    assert statuses == ["hits_rej_flagged", "answered"]


def _open_twice(home: Path) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    from puente.store.migrations import migrate

    with Node.load(home).open_store() as store:  # the upgrade
        first = snapshot(store)
    with Node.load(home).open_store() as store:  # closed and opened again: nothing left to do
        second = snapshot(store)
        again = migrate(store)
    return first, second, again


@pytest.mark.parametrize("release", list(RELEASES))
def test_upgrading_a_duckdb_node_twice_changes_nothing_the_second_time(unpack: Callable[[str], Path], tmp_path: Path,
                                                                       release: str) -> None:
    home = copy_node(unpack(release), "duckdb/us-node", tmp_path)
    set_store(home, "duckdb://store.duckdb")
    first, second, again = _open_twice(home)
    assert again == [] and second == first
    assert first["counts"]["schema_migrations"] >= RELEASES[release].migrations


@pytest.mark.postgres
def test_upgrading_a_postgres_node_twice_changes_nothing_the_second_time(unpack: Callable[[str], Path], tmp_path: Path,
                                                                         pg_url: str) -> None:
    source = unpack(LATEST)
    restore_postgres(source, pg_url)
    home = copy_node(source, "postgres/us-node", tmp_path)
    set_store(home, pg_url)
    first, second, again = _open_twice(home)
    assert again == [] and second == first


@pytest.mark.parametrize("name", ["duckdb/us-node", "duckdb/mx-node"])
def test_first_release_export_entries_get_their_bundle_column(unpack: Callable[[str], Path], tmp_path: Path,
                                                              name: str) -> None:
    """Migration 201 back-fills ``audit_log.bundle_id`` from the text of release 0.1's export entries:
    the bundle each node sent, and nothing for its other entries (the import names a bundle too, but received)."""
    from puente.audit import queries as audit_queries

    home = copy_node(unpack("release-0.1"), name, tmp_path)
    set_store(home, "duckdb://store.duckdb")
    sent = {row[0] for row in RELEASES["release-0.1"].expected["stores"][name]["rows"]["share_bundles"]
            if row[1] == "sent"}
    with Node.load(home).open_store() as store:
        tagged = store.query("SELECT action, bundle_id FROM audit_log WHERE bundle_id IS NOT NULL")
        exported = audit_queries.exported_records(store)
        named = store.query("SELECT COUNT(*) FROM audit_records r JOIN audit_log l ON l.idx = r.idx "
                            "WHERE l.action = 'export'")[0][0]
    assert len(sent) == 1 and tagged == [("export", next(iter(sent)))]
    assert {b for b, _ in exported} == sent and len(exported) == named > 0


def test_a_store_migrated_by_a_newer_release_is_refused(unpack: Callable[[str], Path], tmp_path: Path) -> None:
    """The way back is not supported: once a later release applied a migration this code does not know, this
    code refuses the store, in one line, before writing anything (release 12 itself opened such a store and
    went on writing tables whose newer shape it did not know)."""
    from puente.errors import StoreError
    from puente.store.base import open_store

    home = copy_node(unpack(LATEST), "duckdb/us-node", tmp_path)
    node = Node.load(home)
    with node.open_store() as store:  # upgraded by this code; then a later release adds its migration
        store.execute("INSERT INTO schema_migrations VALUES (99999, 'a later release''s change', CURRENT_TIMESTAMP)")
        before = snapshot(store)
    for _ in range(2):  # refused, and closed again: the second try meets the same refusal, not a held lock
        with pytest.raises(StoreError) as err:
            open_store(node.store_url)
        assert err.value.key == "store_newer_release" and "99999 (a later release's change)" in str(err.value)
    code, _, stderr = invoke(home, "status")
    assert code == 5 and "99999" in stderr and "Traceback" not in stderr
    import duckdb

    with duckdb.connect(str(home / "store.duckdb"), read_only=True) as con:  # nothing was written
        assert con.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (before["counts"]["schema_migrations"],)
        assert con.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (before["counts"]["audit_log"],)
