"""`puente link ...` (entity resolution, review) and `puente hits ...` (hit/no-hit by file exchange)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from puente.errors import InputError, UsageError
from puente.i18n import t

link_app = typer.Typer(no_args_is_help=True, help="Entity resolution across nodes / resolución de entidades.")
review_app = typer.Typer(no_args_is_help=True, help="Review matches: list, confirm, split / revisar vínculos.")
hits_app = typer.Typer(no_args_is_help=True, help="Privacy-preserving hit/no-hit / consulta hit/no-hit.")
link_app.add_typer(review_app, name="review")

KINDS = ["person", "organization", "vehicle", "firearm"]


def _ctx() -> tuple[Any, Any]:
    from puente.console import console, load_node

    return load_node(), console


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "analyst"


def _kind_of(record_id: str) -> str:
    parts = record_id.split(":")
    if len(parts) < 3:
        raise UsageError("link_bad_record_id", record=record_id)
    return parts[1]


@link_app.command("run")
def link_run(
    kind: str = typer.Option("all", "--kind", "-k", help="person, organization, vehicle, firearm or all."),
    backend: str = typer.Option("duckdb", "--engine", "-e", "--backend",
                                help="duckdb (default) or spark, named as `analyze --engine` names them "
                                     "(--backend: the earlier spelling, still accepted)."),
    threshold: float | None = typer.Option(None, help="Match probability to join records (default per kind)."),
) -> None:
    """Resolve the node's own and partner records into entities (Splink, trained with EM)."""
    from puente.link import runs

    node, console = _ctx()
    kinds = KINDS if kind == "all" else [kind]
    with node.open_store() as store:
        for k in kinds:
            try:
                report = runs.run(store, k, backend=backend, threshold=threshold)
            except UsageError as exc:
                if kind == "all" and exc.key == "link_no_records":
                    console.print(t("link_run_skipped", kind=k, reason=exc.message()))
                    continue
                raise
            console.print(t("link_run_done", kind=report.kind, records=report.records, pairs=report.pairs,
                            clusters=report.clusters, cross=report.cross_node_clusters, run_id=report.run_id))
            for step in report.skipped:
                console.print(t("link_run_untrained", kind=report.kind, records=report.records, step=step))


def _evidence(items: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['field']}: {e['level']} ({e['weight']:+.1f})" for e in items if e.get("weight") is not None)


@review_app.command("list")
def review_list(
    kind: str = typer.Option("person", "--kind", "-k"),
    low: float = typer.Option(0.3, help="Lowest match probability shown."),
    high: float = typer.Option(1.0, help="Highest match probability shown."),
    cross_node: bool = typer.Option(False, "--cross-node", help="Only pairs whose records come from two nodes."),
    limit: int = typer.Option(50),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Scored pairs with the evidence for each, least certain first."""
    from puente.link import runs

    node, console = _ctx()
    with node.open_store() as store:
        rows = runs.review_list(store, kind, low, high, limit, cross_node)
    if not rows:
        console.print(t("link_no_pairs"))
        return
    if as_json:
        for row in rows:
            console.print_json(json.dumps(row, default=str))
        return
    table = Table(t("col_record_l"), t("col_record_r"), t("col_probability"), t("col_weight"), t("col_evidence"),
                  t("col_decision"))
    for r in rows:
        table.add_row(r["record_l"], r["record_r"], f"{r['match_probability']:.3f}", f"{r['match_weight']:.1f}",
                      _evidence(r["evidence"]), r["decision"] or "")
    console.print(table)


def _decide(record_l: str, record_r: str, decision: str, analyst: str, reason: str) -> None:
    from puente.link import runs

    node, console = _ctx()
    with node.open_store() as store:
        decision_id = runs.decide(store, _kind_of(record_l), record_l, record_r, decision, analyst, reason)
    console.print(t("link_decision_saved", decision_id=decision_id, decision=decision, a=record_l, b=record_r))


@review_app.command("confirm")
def review_confirm(record_l: str, record_r: str, analyst: str | None = typer.Option(None, "--analyst"),
                   reason: str = typer.Option("", "--reason")) -> None:
    """The two records are the same entity (holds on every re-run)."""
    _decide(record_l, record_r, "confirm", analyst or _user(), reason)


@review_app.command("split")
def review_split(record_l: str, record_r: str, analyst: str | None = typer.Option(None, "--analyst"),
                 reason: str = typer.Option("", "--reason")) -> None:
    """The two records are different entities (holds on every re-run)."""
    _decide(record_l, record_r, "split", analyst or _user(), reason)


# -- hits --------------------------------------------------------------------------------
def _write(path: Path, message: dict[str, Any]) -> None:
    path.write_text(json.dumps(message, ensure_ascii=False, default=str), encoding="utf-8")


def _read(path: Path) -> Any:
    if not path.is_file():
        raise InputError("file_not_found", path=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError("hits_bad_file", path=str(path), error=str(exc).splitlines()[0]) from None


@hits_app.command("secret")
def hits_secret(partner: str = typer.Option(..., "--partner"),
                import_file: Path | None = typer.Option(None, "--import", help="File with the partner's secret."),
                out: Path | None = typer.Option(None, "--out", help="Also write the new secret here, for the partner.")
                ) -> None:
    """Create (or import) the secret this node shares with one partner for hit/no-hit."""
    from puente.link import clk, hits

    node, console = _ctx()
    value = _read_text(import_file) if import_file else hits.new_secret()
    path = hits.save_secret(node.home, partner, value)
    if out and not import_file:
        out.write_text(value + "\n", encoding="utf-8")
        out.chmod(0o600)
    console.print(t("hits_secret_saved", partner=partner, path=str(path), key_id=clk.key_id(bytes.fromhex(value))))


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("file_not_found", path=str(path))
    return path.read_text(encoding="utf-8").strip()


@hits_app.command("query")
def hits_query(
    partner: str = typer.Option(..., "--partner", help="The partner node to ask."),
    kind: str = typer.Option("person", "--kind", "-k"),
    fields: str | None = typer.Option(None, help="Comma-separated fields to encode (default per kind)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Query file to deliver to the partner."),
    actor: str | None = typer.Option(None, "--as", help="Who asks (for the audit log)."),
) -> None:
    """Encode our records (keyed Bloom filters) into a query for the partner."""
    actor = actor or _user()
    from puente.link import hits
    from puente.link.specs import ALIASES

    node, console = _ctx()
    kind = ALIASES.get(kind, kind)
    secret = hits.load_secret(node.home, partner)
    with node.open_store() as store:
        message = hits.make_query(store, node, partner, secret, kind, fields.split(",") if fields else None,
                                  actor=actor)
    target = out or Path(f"{message['query_id']}.json")
    _write(target, message)
    console.print(t("hits_query_written", count=message["count"], partner=partner, path=str(target),
                    query_id=message["query_id"]))


@hits_app.command("receive")
def hits_receive(
    message_file: Path = typer.Argument(..., help="A message from the partner: query, answer, request or decision."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write our reply, if any."),
    actor: str | None = typer.Option(None, "--as"),
) -> None:
    """Process a partner's message: answer a query, read an answer, file a request or a decision."""
    actor = actor or _user()
    from puente.link import hits

    node, console = _ctx()
    message = _read(message_file)
    if not isinstance(message, dict) or not isinstance(message.get("from"), str) or not message["from"]:
        raise InputError("hits_bad_file", path=str(message_file), error=t("hits_no_sender"))
    kind_of_message = message.get("type")
    partner = message["from"]
    secret = hits.load_secret(node.home, partner)
    with node.open_store() as store:
        if kind_of_message == "hits.answer":
            results = hits.accept_answer(store, node, secret, message, actor=actor)
            console.print(t("hits_results", hits=len(results), partner=partner))
            for r in results:
                console.print(f"  {r['local_id']} -> {r['ref']}")
        elif kind_of_message == "hits.followup":
            console.print(hits.receive_followup(store, node, secret, message))
        elif kind_of_message == "hits.decision":
            outcome = hits.accept_decision(store, node, secret, message)
            console.print(f"{outcome['request_id']}: {outcome['decision']} {outcome.get('record_id') or ''}")
        else:
            answer = hits.answer_query(store, node, secret, message, actor=actor)
            target = out or Path(f"answer-{answer['query_id']}.json")
            _write(target, answer)
            if answer["status"] == "rejected":
                console.print(t("hits_answer_rejected", partner=partner, reason=answer["reason"], path=str(target)))
            else:
                console.print(t("hits_answer_written", partner=partner, hits=len(answer["hits"]),
                                rejected=len(answer["rejected"]), path=str(target)))


@hits_app.command("request")
def hits_request(
    ref: str = typer.Argument(..., help="The partner's reference of a hit."),
    partner: str = typer.Option(..., "--partner"),
    reason: str = typer.Option(..., "--reason", help="Why the record is needed (case number, legal basis)."),
    out: Path | None = typer.Option(None, "--out", "-o"),
    actor: str | None = typer.Option(None, "--as"),
) -> None:
    """Ask the partner's steward for the record behind a hit."""
    actor = actor or _user()
    from puente.link import hits

    node, console = _ctx()
    secret = hits.load_secret(node.home, partner)
    with node.open_store() as store:
        message = hits.request_followup(store, node, partner, secret, ref, reason, actor)
    target = out or Path(f"{message['request_id']}.json")
    _write(target, message)
    console.print(f"{message['request_id']} -> {target}")


@hits_app.command("requests")
def hits_requests(
    status: str | None = typer.Option(None, help="pending, approved or refused."),
    approve: str | None = typer.Option(None, "--approve", help="Approve this received request."),
    refuse: str | None = typer.Option(None, "--refuse", help="Refuse this received request."),
    reason: str = typer.Option("", "--reason"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write the decision for the partner."),
    steward: str | None = typer.Option(None, "--as"),
) -> None:
    """List follow-up requests; a steward approves or refuses a received one."""
    steward = steward or _user()
    from puente.link import hits

    node, console = _ctx()
    with node.open_store() as store:
        if approve or refuse:
            request_id = approve or refuse
            partner = store.scalar("SELECT partner FROM hits_requests WHERE request_id = ?", [request_id])
            if partner is None:
                raise UsageError("hits_unknown_request", request_id=request_id)
            secret = hits.load_secret(node.home, partner)
            message = hits.decide_followup(store, node, secret, str(request_id), bool(approve), steward, reason)
            target = out or Path(f"decision-{request_id}.json")
            _write(target, message)
            console.print(f"{request_id}: {message['decision']} -> {target}")
            return
        rows = hits.list_requests(store, status)
    if not rows:
        console.print(t("hits_no_requests"))
        return
    table = Table("id", "dir", "partner", "ref", "by", "reason", "status", "decided by")
    for r in rows:
        table.add_row(r["request_id"], r["direction"], r["partner"], r["ref"], str(r["requested_by"]),
                      str(r["reason"]), r["status"], str(r["decided_by"] or ""))
    console.print(table)
