"""`puente audit verify` and `puente audit show`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from puente.i18n import t

app = typer.Typer(no_args_is_help=True, help="The audit log / registro de auditoría.")


@app.command()
def verify() -> None:
    """Check the local log (hashes, signatures, head, checkpoints given to partners) and partners' checkpoints."""
    from puente.audit.verify import verify_log, verify_partner_checkpoints
    from puente.console import console, load_node
    from puente.errors import AuditError

    node = load_node()
    with node.open_store() as store:
        report = verify_log(store, node.name, node.public_key, node.home)
        partner_count, partner_problems = verify_partner_checkpoints(store)
    problems = report.problems + partner_problems
    for p in problems:
        console.print(f"  [{p.position}] " + t(p.key, **{"position": p.position, "detail": p.detail, **p.args}))
    if problems:
        console.print(t("audit_failed", count=len(problems)))
        raise AuditError("audit_verify_failed", position=problems[0].position)
    console.print(t("audit_ok", size=report.size, root=report.root.hex(), partner=partner_count))


@app.command()
def show(
    limit: int = typer.Option(50, help="Entries to show (latest)."),
    action: str | None = typer.Option(None, help="Only this action (export, import, read, purge, ...)."),
) -> None:
    """List the latest audit entries and the signed checkpoint."""
    from puente.audit import log
    from puente.console import console, load_node

    node = load_node()
    with node.open_store() as store:
        rows = log.entries(store, limit, action)
        checkpoint = log.latest_checkpoint(store, node)
    table = Table("#", t("col_time"), t("col_actor"), t("col_action"), t("col_records"), t("col_clause"),
                  t("col_reason"))
    for r in rows:
        table.add_row(str(r["index"]), r["at"], r["actor"], r["action"], str(r["records"]), r["clause"] or "-",
                      r["reason"])
    console.print(table)
    console.print(t("audit_checkpoint", size=checkpoint.size, root=checkpoint.root.hex(), at=checkpoint.at))


def _actor() -> str:
    from puente.console import actor

    return actor()


@app.command()
def checkpoint(
    to: str = typer.Option(..., "--to", help="Partner node that witnesses this node's log."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Request file (default checkpoint-<partner>.json)."),
    url: str | None = typer.Option(None, "--url", help="Send it to the partner's API and keep its cosignature."),
    token_env: str = typer.Option("PUENTE_PARTNER_TOKEN", help="Environment variable holding the partner-node "
                                                               "token the partner issued to this node."),
) -> None:
    """Send the latest signed checkpoint to a partner to countersign (run it on a schedule: see docs/operations.md)."""
    import os

    from puente.audit.witness import accept_cosignature, checkpoint_request, encode
    from puente.console import console, load_node
    from puente.errors import ConfigError

    node = load_node()
    with node.open_store() as store:
        request = checkpoint_request(node, store, to)
    size = request["checkpoint"]["size"]
    if url is None:
        target = out or Path(f"checkpoint-{to}.json")
        target.write_bytes(encode(request))
        console.print(t("audit_checkpoint_written", size=size, partner=to, path=str(target)))
        return
    token = os.environ.get(token_env, "")
    if not token:
        raise ConfigError("api_no_partner_token", env=token_env)
    from puente.audit.witness import send_checkpoint

    doc = send_checkpoint(url, token, request)
    with node.open_store() as store:
        cosigned = accept_cosignature(node, store, doc, _actor())
    from puente.audit.head import witness_path

    console.print(t("audit_cosigned", witness=cosigned.witness, size=cosigned.checkpoint.size,
                    path=str(witness_path(node.home, cosigned.witness))))


@app.command()
def witness(
    request: Path = typer.Argument(..., help="A checkpoint request from a partner ('puente audit checkpoint')."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Cosignature file (default <request>.cosig.json)."),
) -> None:
    """Countersign a partner's checkpoint after checking its log only grew since the last one held here."""
    from puente.audit.witness import decode, encode
    from puente.audit.witness import witness as countersign
    from puente.console import console, load_node
    from puente.errors import UsageError

    node = load_node()
    if not request.is_file():
        raise UsageError("file_not_found", path=str(request))
    with node.open_store() as store:
        doc = countersign(node, store, decode(request.read_bytes()), _actor())
    target = out or request.with_suffix(".cosig.json")
    target.write_bytes(encode(doc))
    console.print(t("audit_witnessed", origin=doc["checkpoint"]["node"], size=doc["checkpoint"]["size"],
                    path=str(target)))


@app.command()
def cosigned(cosignature: Path = typer.Argument(..., help="A cosignature returned by 'puente audit witness'.")) -> None:
    """Keep a partner's cosignature of this node's checkpoint (outside the store; 'audit verify' checks it)."""
    from puente.audit.head import witness_path
    from puente.audit.witness import accept_cosignature, decode
    from puente.console import console, load_node
    from puente.errors import UsageError

    node = load_node()
    if not cosignature.is_file():
        raise UsageError("file_not_found", path=str(cosignature))
    with node.open_store() as store:
        done = accept_cosignature(node, store, decode(cosignature.read_bytes()), _actor())
    console.print(t("audit_cosigned", witness=done.witness, size=done.checkpoint.size,
                    path=str(witness_path(node.home, done.witness))))
