"""The link and hits commands end to end, two nodes exchanging files."""

from __future__ import annotations

import json

import pyarrow as pa
from share_support import agreement_doc, install

from bench import synth
from puente.cli import main


def _load(node, people) -> None:
    sub = people[people.owner_node == node.name]
    with node.open_store() as store:
        store.insert_arrow("person", pa.Table.from_pandas(
            sub[["id", "owner_node", "given_names", "surname1", "surname2", "birth_date", "curp"]],
            preserve_index=False))


def test_link_and_hits_commands(make_node, tmp_path, capsys):
    us, mx = make_node("us-test", "US"), make_node("mx-test", "MX")
    install(us, mx, agreement_doc(us, mx, {"person": {"fields": {
        f: "match_only" for f in ("given_names", "surname1", "surname2", "birth_date", "curp")}}}))
    people, _ = synth.spanish_people(80, seed=1)
    _load(us, people)
    _load(mx, people)
    run = lambda home, *args: main(["--home", str(home), *args])
    assert run(us.home, "link", "run", "--kind", "person") == 0
    assert "scored pairs" in capsys.readouterr().out
    for option in ("--engine", "-e", "--backend"):  # named as `analyze --engine` names it; --backend as before
        assert run(us.home, "link", "run", "--kind", "person", option, "nosuch") != 0
        assert "unknown backend 'nosuch' (use duckdb or spark)" in capsys.readouterr().err
    assert run(us.home, "link", "review", "list", "--json", "--limit", "2") == 0
    listed = capsys.readouterr().out
    assert "evidence" in listed
    key = tmp_path / "shared.key"
    assert run(us.home, "hits", "secret", "--partner", "mx-test", "--out", str(key)) == 0
    assert run(mx.home, "hits", "secret", "--partner", "us-test", "--import", str(key)) == 0
    q, a = tmp_path / "q.json", tmp_path / "a.json"
    assert run(us.home, "hits", "query", "--partner", "mx-test", "--out", str(q)) == 0
    assert run(mx.home, "hits", "receive", str(q), "--out", str(a)) == 0
    assert run(us.home, "hits", "receive", str(a)) == 0
    assert "hit at mx-test" in capsys.readouterr().out
    ref = json.loads(a.read_text())["hits"][0]["ref"]
    r, d = tmp_path / "r.json", tmp_path / "d.json"
    assert run(us.home, "hits", "request", ref, "--partner", "mx-test", "--reason", "case 17", "--out", str(r)) == 0
    assert run(mx.home, "hits", "receive", str(r)) == 0
    request_id = json.loads(r.read_text())["request_id"]
    assert run(mx.home, "hits", "requests", "--refuse", request_id, "--reason", "no basis", "--out", str(d)) == 0
    assert run(us.home, "hits", "receive", str(d)) == 0
    capsys.readouterr()
    assert run(us.home, "hits", "requests") == 0
    assert "refused" in capsys.readouterr().out
    # a user error is one line, no traceback
    assert run(us.home, "--lang", "es", "hits", "query", "--partner", "nadie") == 3
    err = capsys.readouterr().err
    assert "secreto" in err and "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run(mx.home, "hits", "receive", str(bad)) == 4
