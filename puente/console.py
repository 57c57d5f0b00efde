"""What every command line of every stage shares: the consoles, one message line, the node the
command works on, and who runs it.

This is a low layer (it imports only settings, the terminal filter and, when asked, the node), so
that each stage's ``cli.py`` can use it without importing the ``puente`` command (``puente.cli``),
which imports the stages.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from puente.settings import setting
from puente.terminal import safe

if TYPE_CHECKING:
    from puente.node import Node

console = Console()
err_console = Console(stderr=True)


def say(text: str, err: bool = False) -> None:
    """One message line: never wrapped; user values (file names, cells) are not read as markup, and
    control characters in them (ANSI escapes, CR, bidi overrides) are shown escaped, never sent raw."""
    (err_console if err else console).print(safe(text), markup=False, highlight=False, soft_wrap=True)


class State:
    home: Path = Path(setting("home"))
    interrupt_message = "interrupted_generic"  # what a Ctrl-C left behind, said by the running command


state = State()


def load_node() -> Node:
    """The node the command works on (``--home`` or PUENTE_HOME)."""
    from puente.node import Node

    return Node.load(state.home)


def actor() -> str:
    """Who runs the command, as the audit log records it."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
