"""`puente serve` and `puente users add|list|token`."""

from __future__ import annotations

import getpass
import os
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from puente.i18n import t
from puente.settings import setting

console = Console()
users_app = typer.Typer(no_args_is_help=True, help="API and dashboard accounts / cuentas de la API y el tablero.")


def serve(
    host: str | None = typer.Option(None, help="Address to listen on (PUENTE_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (PUENTE_PORT)."),
    workers: int = typer.Option(1, min=1, help="Uvicorn worker processes (PostgreSQL stores only; DuckDB needs 1)."),
) -> None:
    """Serve the REST API and the dashboard."""
    import uvicorn

    from puente.api.app import create_app
    from puente.console import load_node

    node = load_node()
    from puente.store.base import dialect_of

    if workers > 1 and not dialect_of(node.store_url).multi_process:
        from puente.errors import UsageError

        raise UsageError("api_workers_duckdb")
    bind_host, bind_port = host or setting("host"), port or int(setting("port"))
    if not 0 < bind_port < 65536:  # PUENTE_PORT=99999: one line, not an OverflowError from the socket
        from puente.errors import UsageError

        raise UsageError("port_out_of_range", port=bind_port)
    console.print(t("api_serving", url=f"http://{bind_host}:{bind_port}/", node=node.name))
    # idle keep-alive connections are kept 75 s (Uvicorn's default is 5 s): a client reusing a connection just as
    # the server closes it sees a dropped request, and under load connections often sit idle for seconds
    options: dict[str, Any] = {"host": bind_host, "port": bind_port, "log_level": "warning", "timeout_keep_alive": 75}
    if workers > 1:
        os.environ["PUENTE_HOME"] = str(node.home)
        uvicorn.run("puente.api.serve_app:app", workers=workers, **options)
    else:
        uvicorn.run(create_app(node), **options)


def pull(
    url: str = typer.Argument(..., help="The partner node's base URL, e.g. https://mx-node.example:8765."),
    token_env: str = typer.Option("PUENTE_PARTNER_TOKEN", help="Environment variable holding the partner-node "
                                                               "token the partner issued to this node."),
    full: bool = typer.Option(False, help="Ask for every allowed record again (after a lost bundle)."),
) -> None:
    """Pull the next bundle from a partner node over HTTP and import it (verified before it is parsed)."""
    from puente.api.client import pull as pull_bundle
    from puente.console import load_node
    from puente.errors import ConfigError

    token = os.environ.get(token_env, "")
    if not token:
        raise ConfigError("api_no_partner_token", env=token_env)
    report = pull_bundle(load_node(), url, token, full=full)
    console.print(t("api_pulled", url=url, summary=f"{report.records} records, {report.deleted} deleted "
                                                   f"(bundle {report.bundle_id} #{report.sequence})"))
    if report.skipped:
        console.print(t("api_pull_skipped", first=report.skipped[0], last=report.skipped[1], sender=report.sender,
                        url=url))


def _ask(prompt: str, instead: str) -> str:
    """A password typed at the terminal; without one (a script, a pipe), one line naming the option to use."""
    import sys

    from puente.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError("api_password_no_terminal", option=instead)
    try:
        return getpass.getpass(t(prompt))
    except EOFError:  # Ctrl-D at the prompt
        raise UsageError("api_password_no_terminal", option=instead) from None


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(..., help="analyst, steward, admin or partner-node."),
    partner: str | None = typer.Option(None, help="For partner-node accounts: the partner node's name."),
    password_env: str | None = typer.Option(None, help="Read the password from this environment variable "
                                                          "(otherwise it is asked for)."),
) -> None:
    """Create an account (partner-node accounts have no password: give them a token)."""
    from puente.api import auth
    from puente.console import load_node

    auth.check_new_user(username, role, partner)
    password = None
    if role != "partner-node":
        password = os.environ.get(password_env, "") if password_env else _ask("api_password_prompt", "--password-env")
    with load_node().open_store() as store:
        auth.add_user(store, username, role, password, partner)
    console.print(t("api_user_added", username=username, role=role))


@users_app.command("disable")
def users_disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable an account and revoke every token and session it holds (e.g. a leaked partner-node token)."""
    from puente.api import auth
    from puente.console import load_node

    with load_node().open_store() as store:
        revoked = auth.set_disabled(store, username, True)
    console.print(t("api_user_disabled", username=username, tokens=revoked))


@users_app.command("passwd")
def users_passwd(
    username: str = typer.Argument(..., help="Login name."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the new password from the first line of standard input."),
) -> None:
    """Set an account's password (asked twice, or --password-stdin) and revoke its tokens and sessions."""
    import sys

    from puente.api import auth
    from puente.console import load_node
    from puente.errors import UsageError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = _ask("api_new_password_prompt", "--password-stdin")
        if _ask("api_new_password_again", "--password-stdin") != password:
            raise UsageError("api_passwords_differ")
    with load_node().open_store() as store:
        revoked = auth.set_password(store, username, password)
    console.print(t("api_password_set", username=username, tokens=revoked))


@users_app.command("enable")
def users_enable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Enable a disabled account again (its old tokens stay revoked: issue a new one)."""
    from puente.api import auth
    from puente.console import load_node

    with load_node().open_store() as store:
        auth.set_disabled(store, username, False)
    console.print(t("api_user_enabled", username=username))


@users_app.command("list")
def users_list() -> None:
    """List accounts, roles and locks."""
    from puente.api import auth
    from puente.console import load_node

    table = Table(t("col_name"), "role", "partner", "failed", "locked until", "disabled")
    with load_node().open_store() as store:
        for username, role, partner, failed, locked, disabled in auth.list_users(store):
            table.add_row(username, role, partner or "-", str(failed), str(locked or "-"), str(disabled))
    console.print(table)


@users_app.command("token")
def users_token(
    username: str = typer.Argument(...),
    label: str = typer.Option("", help="What the token is for."),
    days: float | None = typer.Option(None, help="Expire after this many days (default: never)."),
) -> None:
    """Issue an API token (printed once; only its hash is stored)."""
    from puente.api import auth
    from puente.console import load_node

    with load_node().open_store() as store:
        token = auth.issue_token(store, username, "api", label, days)
    console.print(token, highlight=False, soft_wrap=True)


@users_app.command("connect")
def users_connect(
    partner: str = typer.Argument(..., help="The partner node's name."),
    url: str = typer.Argument(..., help="The partner node's API base URL."),
    token_env: str = typer.Option("PUENTE_PARTNER_TOKEN", help="Environment variable holding the token the "
                                                               "partner issued to this node."),
) -> None:
    """Remember a partner node's API (for hit/no-hit messages and bundle pulls); the token goes in keys/."""
    from puente.api.partners import connect, token_path
    from puente.console import load_node
    from puente.errors import ConfigError

    token = os.environ.get(token_env, "")
    if not token:
        raise ConfigError("api_no_partner_token", env=token_env)
    node = load_node()
    with node.open_store() as store:
        connect(node, store, partner, url, token)
    console.print(t("api_connected", partner=partner, url=url, path=str(token_path(node, partner))))
