"""The `puente` command.

Every user error is a :class:`PuenteError`: :func:`main` prints it as one line in the
current language and exits with the error's code; never a traceback. Sub-command groups
of other packages (share, audit, link, hits, analyze, serve, ...) are listed in the stage
registry (puente/stages.py); the consoles and ``load_node`` they use live in puente/console.py.
"""

from __future__ import annotations

import os
import re
import sys
import time
from functools import partial
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from puente import interrupts, stages
from puente.console import console, err_console, load_node, say, state
from puente.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_OK, ConfigError, InputError, PuenteError, UsageError
from puente.i18n import LANGUAGES, language, set_language, t
from puente.settings import malformed, setting
from puente.terminal import safe

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Puente: binational trafficking intelligence node / nodo de inteligencia binacional.")
def _show_version(value: bool) -> None:
    if value:
        from puente import __version__

        say(f"puente {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    home: Path | None = typer.Option(None, "--home", help="Node directory / directorio del nodo (PUENTE_HOME)."),
    lang: str | None = typer.Option(None, "--lang", help="Message language: en or es / idioma: en o es."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                 help="Show the version and exit / mostrar la versión y salir."),
) -> None:
    if lang:
        if lang.strip().lower() not in LANGUAGES:  # an explicit choice: never a silent fall-back to English
            raise UsageError("lang_unknown", value=lang, known=", ".join(LANGUAGES))
        set_language(lang.strip().lower())
    elif setting("lang"):
        if setting("lang").strip().lower() not in LANGUAGES:
            raise ConfigError("lang_unknown_setting", value=setting("lang"), known=", ".join(LANGUAGES))
        set_language(setting("lang").strip().lower())
    state.home = home or Path(setting("home"))


def _advance(bar: Progress, task: TaskID, done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


@app.command()
def init(
    name: str = typer.Option(..., help="Node name, e.g. us-hsi or mx-fgr."),
    country: str = typer.Option(..., help="US or MX."),
    store: str | None = typer.Option(None, help="Store URL (default: DuckDB file in the node directory)."),
) -> None:
    """Create a node: name, country, store and signing keys."""
    from puente.node import Node

    node = Node.init(state.home, name, country, store)
    say(t("node_created", name=node.name, country=node.country, home=str(node.home), store=node.store_url))


@app.command()
def profiles() -> None:
    """List the ingest profiles (built-in and the node's own); a broken one is reported, not fatal."""
    from puente.ingest.profile import load_all

    user_dir = state.home / "profiles"
    table = Table(t("col_name"), t("col_kind"), t("col_source"), t("col_description"))
    lang = language()
    loaded = load_all(user_dir if user_dir.is_dir() else None)
    for profile in loaded.profiles.values():
        origin = profile.origin if profile.origin == "built-in" else Path(profile.origin).name
        table.add_row(*(escape(safe(c)) for c in (profile.name, profile.kind, origin, profile.describe(lang))))
    console.print(table)
    for error in loaded.errors[:-1]:
        say(f"puente: {error.message()}", err=True)
    if loaded.errors:
        raise loaded.errors[-1]


@app.command()
def fields(kind: str | None = typer.Argument(None, help="Record kind, e.g. seizure or person (none: list the kinds).")) -> None:
    """List a record kind's fields: type, required, label and the other headers that match it."""
    from puente.model import load_model
    from puente.model.reference import field_rows, one_of_note

    model = load_model()
    lang = language()
    if kind is None:
        table = Table(t("col_kind"), t("col_description"))
        for k in model.kinds.values():
            table.add_row(k.name, k.label(lang))
        console.print(table)
        say(t("fields_kinds_hint"))
        return
    chosen = model.kind(kind)
    say(t("fields_title", kind=chosen.name, label=chosen.label(lang)))
    table = Table(t("col_field"), t("col_type"), t("col_required"), t("col_label"), t("col_aliases"))
    for row in field_rows(chosen, lang):
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    if note := one_of_note(chosen, lang):
        say(note)


@app.command()
def ingest(
    files: list[Path] = typer.Argument(..., help="Files to ingest (CSV, XLSX or JSON Lines)."),
    profile: str = typer.Option(..., "--profile", "-p", help="Profile name (see `puente profiles`)."),
) -> None:
    """Ingest files: every row is stored, quarantined with a reason, or a duplicate."""
    from puente.ingest.pipeline import ingest_file
    from puente.ingest.profile import get_profile

    node = load_node()
    prof = get_profile(profile, node.profiles_dir)
    rejected: list[Path] = []
    state.interrupt_message = "interrupted"
    with node.open_store() as store:
        for path in files:
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                          console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
                task = bar.add_task(escape(safe(path.name)), total=None)
                report = ingest_file(node, store, path, prof, progress=partial(_advance, bar, task),
                                     on_wait=lambda: say(t("ingest_waiting"), err=True))
            say(f"{path.name}: {report.summary()}")
            if report.rows_read == 0:
                say(t("header_only", path=str(path)))
            if report.places_total:
                say("  " + t("ingest_places", resolved=report.places_resolved, total=report.places_total))
            if report.encoding.startswith("utf-8 +"):
                say("  " + t("ingest_encoding", encoding=report.encoding))
            elif report.encoding != "utf-8":
                say("  " + t("ingest_encoding_declared", encoding=report.encoding))
            if report.empty_cells:
                say("  " + t("ingest_empty_cells", count=report.empty_cells))
            if report.unmatched_headers:
                say("  " + t("ingest_extra", headers=", ".join(report.unmatched_headers)))
            if report.field_issues:
                say("  " + t("ingest_field_issues", count=report.field_issues))
            if report.quarantined or report.conflicts:
                say("  " + t("ingest_see_quarantine"))
            if report.all_rejected:
                rejected.append(path)
            interrupts.check()  # a Ctrl-C held off during the commit stops here, after the report
    if rejected:  # the other files are ingested; the exit code says some file gave nothing
        raise InputError("all_rows_quarantined", path=", ".join(map(str, rejected)))


@app.command()
def status() -> None:
    """What the node holds: counts by kind, date range, share of places resolved."""
    from puente.store.summary import summarize

    node = load_node()
    say(t("status_header", name=node.name, country=node.country, store=node.store_url))
    table = Table(t("col_kind"), t("col_owner"), t("col_records"), t("col_from"), t("col_to"), t("col_places"))
    with node.open_store() as store:
        for s in summarize(store):
            share = f"{s.resolved}/{s.places} ({100 * s.resolved / s.places:.0f}%)" if s.places else "-"
            table.add_row(s.kind, s.owner, str(s.records), str(s.first or "-"), str(s.last or "-"), share)
        quarantined = store.scalar("SELECT COUNT(*) FROM quarantine")
        batches = store.scalar("SELECT COUNT(*) FROM batches")
        issues = store.scalar("SELECT COUNT(*) FROM field_issues")
    if table.row_count:
        console.print(table)
    else:
        say(t("status_empty"))
    say(t("status_footer", batches=batches, quarantined=quarantined))
    if issues:
        say(t("status_field_issues", count=issues))


@app.command()
def export(
    kind: str = typer.Argument(..., help="Record kind, e.g. seizure or person; entity for resolved entities."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, parquet, jsonl, geojson or ftm."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file."),
    raw: bool = typer.Option(False, "--raw", help="CSV: keep formula cells (=, +, -, @) as stored."),
) -> None:
    """Write a record kind out (people, organizations, vehicles also as FollowTheMoney)."""
    from puente.export.writers import export_kind

    node = load_node()
    suffix = {"ftm": "ftm.json"}.get(fmt, fmt)
    target = out or Path(f"{kind}.{suffix}")
    with node.open_store() as store:
        count = export_kind(store, kind, fmt, target, raw=raw or None, local_node=node.name)
        from puente.audit.access import record_export
        from puente.console import actor

        record_export(store, node, actor(), kind, fmt, str(target), count)
    say(t("exported", count=count, kind=kind, path=str(target)))


@app.command()
def quarantine(limit: int = typer.Option(50, help="Rows to show (0: all).")) -> None:
    """List rejected rows with their reasons, then the values set to empty on stored records."""
    if limit < 0:
        raise UsageError("bad_limit", limit=limit)
    if limit >= 2**63:  # more rows than a store can count: all of them (the SQL LIMIT is a 64-bit integer)
        limit = 0
    node = load_node()
    lang = language()
    cap = "" if limit == 0 else f" LIMIT {int(limit)}"
    with node.open_store() as store:
        rows = store.query(
            f"SELECT source_file, source_row, source_column, kind, field, reason_{lang} FROM quarantine "
            f"ORDER BY created_at, source_file, source_row{cap}")
        total = store.scalar("SELECT COUNT(*) FROM quarantine")
        issues = store.query(
            f"SELECT source_file, source_row, kind, field, raw, reason_{lang} FROM field_issues "
            f"ORDER BY created_at, source_file, source_row, field{cap}")
        issue_total = store.scalar("SELECT COUNT(*) FROM field_issues")
    if not rows and not issues:
        say(t("no_quarantine"))
        return
    if rows:
        table = Table(t("col_file"), t("col_row"), t("col_kind"), t("col_field"), t("col_reason"))
        for source_file, row, column, kind, field, reason in rows:
            where = f"{row} ({column})" if column else str(row)  # a melted row names its column
            table.add_row(*(escape(safe(c)) for c in (Path(source_file).name, where, kind, field or "-", reason)))
        console.print(table)
    say(t("quarantine_shown", shown=len(rows), total=total))
    if issues:
        table = Table(t("col_file"), t("col_row"), t("col_kind"), t("col_field"), t("col_raw"), t("col_reason"))
        for source_file, row, kind, field, raw, reason in issues:
            table.add_row(*(escape(safe(c)) for c in (Path(source_file).name, str(row), kind, field, raw or "", reason)))
        console.print(table)
        say(t("field_issues_shown", shown=len(issues), total=issue_total))


@app.command()
def demo(
    out: Path = typer.Option(Path("puente-demo"), "--out", help="Directory for the demo nodes and files."),
    serve: bool | None = typer.Option(None, "--serve/--no-serve", help="End by serving both dashboards "
                                         "(default: only when run in a terminal; --no-serve exits, for scripts)."),
    port: int | None = typer.Option(None, min=1, max=65534, show_default="8765",
                                    help="Port of the U.S. node's dashboard (the Mexican node: +1)."),
    seed: int = typer.Option(7, "--seed", help="Seed of the simulated world (each seed is another world)."),
    scale: int = typer.Option(20_000, "--scale", help="Simulated event records (at least 1000)."),
) -> None:
    """Build a U.S. and a Mexican node, share between them under a signed agreement, then serve both dashboards."""
    from puente.api.demo_serve import connect_nodes, serve_nodes
    from puente.demo import run_demo

    port = port or int(setting("port"))
    started = time.monotonic()
    nodes = run_demo(out, console, seed=seed, scale=scale)
    for report in connect_nodes(nodes["US"], nodes["MX"], (port, port + 1)):
        say(t("demo_shared", sender=report.sender, records=report.records, bundle=report.bundle_id,
              kinds=", ".join(f"{k} {n}" for k, n in sorted(report.imported.items()) if n)))
    from puente.analyze.joint import write_joint  # both nodes compute the joint picture: the scorecards compare it

    for node, partner in ((nodes["US"], nodes["MX"]), (nodes["MX"], nodes["US"])):
        with node.open_store() as store:
            digest = write_joint(node, store, partner.name)
        say(t("joint_digest", partner=partner.name, records=sum(v["records"] for v in digest["inputs"].values()),
              inputs=digest["inputs_sha256"][:16], results=digest["results_sha256"][:16]))
    say(t("demo_next", home=str(out / "us-node")))
    console.print(t("demo_done", seconds=time.monotonic() - started, home=str(out)))
    if serve is None:
        serve = sys.stdin.isatty() and sys.stdout.isatty()
    if serve:
        serve_nodes([nodes["US"], nodes["MX"]], [port, port + 1], console=console)
    else:
        say(t("demo_serve_hint", out=str(out)))


def _command_in(argv: list[str]) -> str | None:
    """The sub-command a command line asks for (the first word that is not a global option)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in ("--home", "--lang"):
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def _register_groups(argv: list[str]) -> None:
    """Import only the group a command asks for (their libraries are slow to import); all of them
    for help or an unknown command, so that the listing and the error are complete."""
    wanted = _command_in(argv)
    if wanted is None and "--version" in argv:
        return
    core = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    contributed = stages.commands()  # the stages' command groups (puente/stages.py)
    for command in contributed:
        if wanted in core or (wanted is not None and wanted != command.name
                              and wanted in {c.name for c in contributed}):
            continue
        loaded = stages.load(command.module)
        if loaded is None:
            continue  # that stage is not part of this build (yet)
        group = getattr(loaded, command.attribute)
        if isinstance(group, typer.Typer):
            app.add_typer(group, name=command.name)
        else:
            app.command(name=command.name)(group)


def main(argv: list[str] | None = None) -> int:
    previous = interrupts.install()
    try:
        return _main(argv)
    finally:
        interrupts.restore(previous)


def _main(argv: list[str] | None) -> int:
    state.interrupt_message = "interrupted_generic"
    try:
        for env, value in malformed():  # before anything reads them: one line, never a traceback
            raise ConfigError("setting_not_a_number", env=env, value=value)
        _register_groups(sys.argv[1:] if argv is None else argv)
        result = app(args=argv, standalone_mode=False)
        # Typer returns an exit code instead of raising (e.g. 130 for a KeyboardInterrupt it caught)
        code = result if isinstance(result, int) and not isinstance(result, bool) else EXIT_OK
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except PuenteError as exc:
        if interrupts.received():  # the interrupt surfaced as another error on its way out
            return _interrupted()
        say(f"puente: {exc.message()}", err=True)
        return exc.exit_code
    except OSError as exc:  # a path the user gave cannot be read or written
        if interrupts.received():
            return _interrupted()
        detail = exc.strerror or str(exc)
        if exc.filename:
            detail += f": {exc.filename}"
        say(f"puente: {t('os_error', error=detail)}", err=True)
        return InputError.exit_code
    except typer.Exit as exc:
        code = int(exc.exit_code or 0)
    except typer.Abort:
        code = 1
    except Exception as exc:
        if interrupts.received():
            return _interrupted()
        if isinstance(exc, typer.exceptions.TyperException) and hasattr(exc, "show"):
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # `puente` or a group alone: its help
            else:  # an unknown command or option, a missing or malformed value: one line, not Click's usage block
                say(f"puente: {_usage_line(exc, sys.argv[1:] if argv is None else argv)}", err=True)
            return int(getattr(exc, "exit_code", 2))
        if os.environ.get("PUENTE_DEBUG"):
            raise
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
        say(f"puente: {t('unexpected_error', error=detail)}", err=True)
        return EXIT_BUG
    if code == EXIT_INTERRUPTED or interrupts.received():
        return _interrupted()
    return code


# Typer checks option values with pydantic: the error types it reports, as messages in the user's language
_VALUE_ERRORS = {"int_parsing": ("usage_not_integer", ""), "float_parsing": ("usage_not_number", ""),
                 "bool_parsing": ("usage_not_boolean", ""), "greater_than_equal": ("usage_at_least", "ge"),
                 "less_than_equal": ("usage_at_most", "le"), "greater_than": ("usage_more_than", "gt"),
                 "less_than": ("usage_less_than", "lt")}
_USAGE_TEXTS = [(re.compile(r"No such command '(.+)'\."), "usage_no_command"),
                (re.compile(r"Got unexpected extra argument\(s\) \((.+)\)"), "usage_extra_arguments"),
                (re.compile(r"Option '(.+)' requires an argument\."), "usage_needs_value"),
                (re.compile(r"Option '(.+)' does not take a value\."), "usage_takes_no_value"),
                (re.compile(r"Missing command\.()"), "usage_missing_command")]


def _usage_line(exc: Exception, argv: list[str]) -> str:
    """A usage error Typer raised (unknown command or option, missing or malformed value) as one line in the
    user's language that names the command's help, instead of Click's three-line usage block in English."""
    if "--lang" in argv[:-1]:  # an error in the command name comes before --lang was read
        chosen = argv[argv.index("--lang") + 1].strip().lower()
        if chosen in LANGUAGES:
            set_language(chosen)
    ctx, names = getattr(exc, "ctx", None), list[str]()
    while ctx is not None and ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(["puente", *(names or _command_words(argv))])
    param = getattr(exc, "param", None)
    name = "" if param is None else param.opts[0] if param.param_type_name == "option" else param.name.upper()
    kind = type(exc).__name__
    if kind == "MissingParameter" and param is not None:
        message = t("usage_missing_option" if name.startswith("-") else "usage_missing_argument", name=name)
    elif kind == "BadParameter" and param is not None:
        message = t("usage_bad_value", name=name, detail=_value_error(exc))
    elif kind == "NoSuchOption":
        message = t("usage_no_option", name=getattr(exc, "option_name", ""))
        if possible := getattr(exc, "possibilities", None):
            message += " " + t("usage_did_you_mean", options=", ".join(sorted(possible)))
    else:
        text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        message = next((t(key, name=m[1]) for pattern, key in _USAGE_TEXTS if (m := pattern.fullmatch(text))), text)
    return t("usage_line", message=message, command=command)


def _command_words(argv: list[str]) -> list[str]:
    """The (sub)command words of a command line, for an error Typer raised without its context."""
    group, words, skip = typer.main.get_command(app), [], False
    for token in argv:
        if skip or token in ("--home", "--lang"):
            skip = not skip
            continue
        sub = group.get_command(typer.Context(group), token) if hasattr(group, "get_command") else None
        if sub is None:
            break
        words.append(token)
        group = sub
    return words


def _value_error(exc: Exception) -> str:
    """Why a value was refused, from pydantic's error when Typer gives one (else Typer's own English text)."""
    errors = getattr(exc.__cause__, "errors", None)
    if callable(errors):
        first = (errors() or [{}])[0]
        if (known := _VALUE_ERRORS.get(first.get("type", ""))) is not None:
            key, bound = known
            return t(key, value=first.get("input", ""), limit=(first.get("ctx") or {}).get(bound, ""))
    return str(getattr(exc, "message", exc))


def _interrupted() -> int:
    say(f"puente: {t(state.interrupt_message)}", err=True)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
