"""`puente share ...`: agreements, export, import, revocation, retention."""

from __future__ import annotations

import datetime as dt
import errno
import os
from pathlib import Path

import typer
import yaml
from rich.table import Table

from puente.i18n import t

app = typer.Typer(no_args_is_help=True, help="Share with a partner node / compartir con un nodo socio.")
agreement_app = typer.Typer(no_args_is_help=True, help="Agreements / acuerdos.")
app.add_typer(agreement_app, name="agreement")


def _actor() -> str:
    from puente.console import actor

    return actor()


def _template(node_name: str, own_pem: str, partner: str, partner_pem: str, agreement_id: str) -> dict[str, object]:
    today = dt.date.today()
    return {
        "agreement": agreement_id, "version": 1,
        "parties": [{"node": node_name, "public_key": own_pem}, {"node": partner, "public_key": partner_pem}],
        "purpose": "Interdiction of fentanyl and precursor trafficking across the border",
        "handling": "TLP:AMBER", "retention_days": 365, "onward_transfer": False,
        "valid_from": today.isoformat(), "valid_until": today.replace(year=today.year + 1).isoformat(),
        "kinds": {"seizure": {
            "records": [{"field": "drug", "in": ["fentanyl", "methamphetamine"]}, {"field": "date", "from": "2020-01-01"}],
            "fields": {"date": {"transform": "truncate_date", "to": "week"}, "drug": "keep", "form": "keep",
                       "place": {"transform": "generalize_place", "to": "admin2"},
                       "destination": {"transform": "generalize_place", "to": "admin2"},
                       "quantity_kg": {"transform": "round", "step": 0.1}, "source_id": "pseudonymize",
                       "pill_stamp": "match_only", "notes": "drop"}}},
    }


@agreement_app.command("create")
def create(
    partner: str = typer.Option(..., "--partner", help="Partner node name."),
    partner_key: Path = typer.Option(..., "--partner-key", help="Partner's public key (PEM, keys/signing.pub)."),
    agreement_id: str = typer.Option(..., "--id", help="Agreement id, e.g. us-mx-fentanyl."),
    out: Path = typer.Option(Path("agreement.yaml"), "--out", "-o", help="Where to write the YAML."),
) -> None:
    """Write an agreement template naming both nodes' public keys (edit it, then both sign)."""
    from puente.console import console, load_node
    from puente.errors import UsageError

    node = load_node()
    try:
        partner_pem = partner_key.read_text(encoding="utf-8")
    except OSError:
        raise UsageError("share_bad_key_file", path=str(partner_key)) from None
    doc = _template(node.name, node.public_key_pem, partner, partner_pem, agreement_id)
    out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    console.print(t("share_agreement_created", path=str(out)))


@agreement_app.command("sign")
def sign(path: Path = typer.Argument(..., help="Agreement YAML.")) -> None:
    """Add this node's detached signature; once both parties have signed, install the agreement."""
    from puente.console import console, load_node
    from puente.share import registry
    from puente.share.agreement import Agreement, signature_path

    node = load_node()
    agreement = Agreement.load(path)
    agreement.sign(node.name, node.signing_key)
    agreement.save_signatures(path)
    console.print(t("share_agreement_signed", agreement=agreement.id, version=agreement.version, node=node.name,
                    path=str(signature_path(path))))
    problems = agreement.signature_problems()
    if problems:
        console.print(t("share_agreement_waiting", problems="; ".join(problems)))
        return
    with node.open_store() as store:
        registry.install(node, store, agreement, _actor())
    console.print(t("share_agreement_installed", agreement=agreement.id, version=agreement.version,
                    partner=agreement.partner_of(node.name)))


@agreement_app.command("show")
def show(
    path: Path | None = typer.Argument(None, help="Agreement YAML (default: the installed one with --partner)."),
    partner: str | None = typer.Option(None, "--partner", help="Show the installed agreement with this partner."),
) -> None:
    """Show an agreement: parties, signatures, terms, and the decision (with clause) for every field."""
    from puente.console import console, load_node
    from puente.model import load_model
    from puente.share import registry
    from puente.share.agreement import Agreement

    if path is not None:
        agreement, status = Agreement.load(path), "file"
    else:
        node = load_node()
        with node.open_store() as store:
            agreement, status = registry.current(store, partner or "")
    doc = agreement.doc
    console.print(f"[bold]{agreement.id}[/bold] v{agreement.version} ({status}) — {doc['purpose']}")
    console.print(f"  {doc['handling']}, retention {doc['retention_days']} days, onward transfer "
                  f"{'allowed' if agreement.onward_transfer else 'refused'}, {doc['valid_from']} .. "
                  f"{doc.get('valid_until') or '-'}")
    console.print("  signatures: " + ("; ".join(agreement.signature_problems()) or "both valid"))
    console.print("  in force: " + agreement.in_force().reason)
    table = Table()
    for title in ("kind", "field", "decision", "clause"):
        table.add_column(title, overflow="fold")
    for kind in agreement.kinds():
        for f in agreement.filters(kind):
            table.add_row(kind, f.column, f"records {f.op} {f.value}", f.clause)
        for name in load_model().kind(kind).fields:
            d = agreement.decide_field(kind, name)
            table.add_row(kind, name, d.action, d.clause)
    console.print(table)


@app.command("export")
def export(
    to: str = typer.Option(..., "--to", help="Partner node name."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Bundle file (default <partner>-<seq>.bundle)."),
    ttl_hours: int = typer.Option(168, help="Hours until the bundle expires."),
    full: bool = typer.Option(False, "--full", help="Resend every allowed record (e.g. after a lost bundle)."),
) -> None:
    """Write the next signed, incremental bundle for a partner."""
    from puente.console import console, load_node
    from puente.share.export import ExportReport, export_bundle

    node = load_node()
    report = ExportReport("", to, 0)
    # The bundle is written (to a temporary file beside the target) inside the export's transaction, and renamed
    # into place once it has committed: a target that cannot be written rolls the export back, instead of
    # recording records as sent that no file carries (the next bundle would then leave them out).
    partial: Path | None = None
    try:
        with node.open_store() as store, store.transaction():
            data = export_bundle(node, store, to, _actor(), ttl_hours, report=report, full=full)
            target = out or Path(f"{to}-{report.sequence:06d}.bundle")
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
            if not target.parent.is_dir():
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(target))
            special = target.exists() and not target.is_file()  # /dev/stdout, a pipe: written as it is
            partial = None if special else target.with_name(f".{target.name}.partial")
            with open(partial or target, "wb") as fh:
                fh.write(data)
                fh.flush()
                if partial is not None:
                    os.fsync(fh.fileno())
        if partial is not None:
            partial.replace(target)
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    console.print(t("share_exported", seq=report.sequence, partner=to, path=str(target), records=report.records,
                    deleted=report.deleted, revoked=report.revoked))
    for clause, count in sorted(report.denied.items()):
        console.print(t("share_denied", clause=clause, count=count))
    if report.onward_refused:
        console.print(t("share_onward_refused", count=report.onward_refused))


@app.command("import")
def import_(
    bundle: Path = typer.Argument(..., help="A bundle (or a purge receipt) from a partner."),
    receipt_out: Path | None = typer.Option(None, "--receipt-out", help="Where to write a purge receipt."),
) -> None:
    """Verify a bundle before reading it, then import it (or verify and record a purge receipt)."""
    from puente.console import console, load_node
    from puente.errors import BundleError, InputError
    from puente.settings import setting
    from puente.share.envelope import RECEIPT_TYPE, open_envelope
    from puente.share.receive import accept_receipt, import_bundle, refused

    node = load_node()
    if not bundle.is_file():  # the same errors (and exit code) as `ingest`
        raise InputError("file_is_dir" if bundle.is_dir() else "file_not_found", path=str(bundle))
    limit = int(setting("bundle_max_bytes"))
    with node.open_store() as store:
        size = bundle.stat().st_size
        if size > limit:
            error = BundleError("bundle_too_large", size=f"{size:,}", limit=f"{limit:,}")
            refused(node, store, _actor(), f"file {bundle.name}", error.message("en"))
            raise error
        data = bundle.read_bytes()
        try:
            is_receipt = open_envelope(data).payload_type == RECEIPT_TYPE
        except BundleError:
            is_receipt = False
        if is_receipt:
            try:
                receipt = accept_receipt(node, store, data, _actor())
            except BundleError as exc:
                refused(node, store, _actor(), f"purge receipt {bundle.name}", exc.message("en"), data)
                raise
            console.print(t("share_receipt_ok", partner=receipt.partner, records=receipt.records,
                            bundle=receipt.bundle_id))
            return
        report = import_bundle(node, store, data, _actor(), source=f"file {bundle.name}")
    console.print(t("share_imported", seq=report.sequence, sender=report.sender, records=report.records,
                    deleted=report.deleted, purged=report.purged))
    if report.skipped:
        console.print(t("share_import_skipped", first=report.skipped[0], last=report.skipped[1], sender=report.sender,
                        me=node.name))
    if report.receipt:
        target = receipt_out or bundle.with_suffix(".receipt")
        target.write_bytes(report.receipt)
        console.print(t("share_receipt_written", path=str(target), partner=report.sender))


@app.command("revoke")
def revoke(
    to: str = typer.Option(..., "--to", help="Partner the records were shared with."),
    record: list[str] = typer.Option([], "--record", "-r", help="Record id to revoke (repeatable)."),
    whole: bool = typer.Option(False, "--agreement", help="Revoke the whole agreement."),
    reason: str = typer.Option(..., "--reason", help="Why (goes into the audit log)."),
) -> None:
    """Revoke records (or the whole agreement); the next bundle carries the revocation."""
    from puente.console import console, load_node
    from puente.share.lifecycle import revoke_agreement, revoke_records

    node = load_node()
    with node.open_store() as store:
        if whole:
            revoke_agreement(node, store, to, reason, _actor())
            console.print(t("share_agreement_revoked", partner=to))
        else:
            count = revoke_records(node, store, to, record, reason, _actor())
            console.print(t("share_revoked", count=count, partner=to))


@app.command("purge-expired")
def purge_expired() -> None:
    """Delete partner records past their retention period (audited)."""
    from puente.console import console, load_node
    from puente.share.lifecycle import purge_expired as purge

    node = load_node()
    with node.open_store() as store:
        counts = purge(node, store, actor=_actor())
    console.print(t("share_purged", count=sum(counts.values())))
