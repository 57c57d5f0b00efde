"""`puente audit verify` and `puente audit show`."""

from __future__ import annotations

import typer
from rich.table import Table

from puente.i18n import t

app = typer.Typer(no_args_is_help=True, help="The audit log / registro de auditoría.")


@app.command()
def verify() -> None:
    """Check the local log (hashes, signatures, head, checkpoints given to partners) and partners' checkpoints."""
    from puente.audit.verify import verify_log, verify_partner_checkpoints
    from puente.cli import console, load_node
    from puente.errors import AuditError

    node = load_node()
    with node.open_store() as store:
        report = verify_log(store, node.name, node.public_key)
        partner_count, partner_problems = verify_partner_checkpoints(store)
    problems = report.problems + partner_problems
    for p in problems:
        console.print(f"  [{p.position}] " + t(p.key, position=p.position, detail=p.detail))
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
    from puente.cli import console, load_node

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
