"""The one registry of stages: which modules add store migrations, ``puente`` sub-commands and API
routers (Datasette's default plugins: a list of module names, loaded by name when needed).

A stage is a package of the data flow (share, audit, link, analyze, ...). To add one, or to add a
migration module, command group, router or hook implementation to a stage, add its module name
here; nothing else lists them. Hooks (HOOKS) let a lower layer ask a higher one without importing
it: the node asks the stages when it opens its store, the audit log's witness asks the share stage
for a partner's agreement.

This module imports no stage: it is a list of names, so every layer may read it (the store reads
the migration modules, the ``puente`` command the command groups, the API the routers), and each
is imported only when that part of the program runs. A stage whose package is not in this build
is skipped; an import error inside a stage's package is raised.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Command:
    module: str
    attribute: str  # a typer.Typer (a command group) or a function (one command)
    name: str  # the sub-command: ``puente <name>``


@dataclass(frozen=True)
class Stage:
    name: str
    migrations: tuple[str, ...] = ()  # modules that register numbered migrations (puente.store.migrations.register)
    commands: tuple[Command, ...] = ()
    routers: tuple[str, ...] = ()  # modules with a FastAPI ``router``
    hooks: tuple[tuple[str, str], ...] = ()  # (hook, "module:function") this stage implements (HOOKS)


# What a stage may answer for the layers below it, which cannot import it (Datasette's hook specs).
HOOKS = {
    "store_opened": "(node, store) -> None: a node opened its store (every implementation runs)",
    "partner_agreement": "(store, partner) -> (agreement, status): the agreement installed with a partner",
}


# Migration version ranges: share 100-199, audit 200-299, link 300-399, api 400-499, analyze 500-599.
STAGES: tuple[Stage, ...] = (
    Stage("audit", migrations=("puente.audit.schema",), commands=(Command("puente.audit.cli", "app", "audit"),),
          routers=("puente.api.routes_audit",),
          hooks=(("store_opened", "puente.audit.head:ensure_head"),  # the signed head kept outside the store
                 ("store_opened", "puente.audit.log:ensure_evidence"))),  # older stores: chain their checkpoints
    Stage("share", migrations=("puente.share.schema",), commands=(Command("puente.share.cli", "app", "share"),),
          routers=("puente.api.routes_share", "puente.api.routes_steward"), hooks=(("partner_agreement", "puente.share.registry:current"),)),
    Stage("link", migrations=("puente.link.schema",),
          commands=(Command("puente.link.cli", "link_app", "link"), Command("puente.link.cli", "hits_app", "hits")),
          routers=("puente.api.routes_link",)),
    Stage("analyze", commands=(Command("puente.analyze.cli", "analyze", "analyze"),),
          routers=("puente.api.routes_analyze",)),
    Stage("api", migrations=("puente.api.schema",),
          commands=(Command("puente.api.cli", "serve", "serve"), Command("puente.api.cli", "users_app", "users"),
                    Command("puente.api.cli", "pull", "pull"))),
    Stage("simulate", commands=(Command("puente.simulate.cli", "simulate_command", "simulate"),)),
)


def stages() -> tuple[Stage, ...]:
    """The stages of this build. (Entry points would let other distributions add stages, but reading
    them costs every command a scan of all installed packages; add that when a plug-in exists.)"""
    return STAGES


def load(module: str, stage: Stage | None = None) -> ModuleType | None:
    """Import one module a stage names; None when it, or the stage's package (``puente.<stage>``),
    is not part of this build."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # the package itself may not exist (yet); a missing dependency inside it is a real error
        missing = (exc.name or "") + "."
        if exc.name and any(f"{m}.".startswith(missing) for m in (module, f"puente.{stage.name}" if stage else "")):
            return None
        raise


def commands() -> list[Command]:
    return [c for s in stages() for c in s.commands]


def load_migrations() -> None:
    """Import every module that registers migrations (each registers itself on import)."""
    for stage in stages():
        for module in stage.migrations:
            load(module, stage)


def routers() -> list[ModuleType]:
    return [m for s in stages() for name in s.routers if (m := load(name, s)) is not None]


def implementations(hook: str) -> list[Callable[..., Any]]:
    """The functions that implement a hook, in stage order (stages not in this build left out)."""
    if hook not in HOOKS:
        raise KeyError(f"no hook {hook!r} (hooks: {', '.join(HOOKS)})")
    found = []
    for stage in stages():
        for name, target in stage.hooks:
            module_name, _, function = target.partition(":")
            if name == hook and (module := load(module_name, stage)) is not None:
                found.append(getattr(module, function))
    return found


def hook(name: str) -> Callable[..., Any]:
    """The one implementation of a hook that has a single answer (the first stage's)."""
    found = implementations(name)
    if not found:
        raise LookupError(f"no stage of this build implements the hook {name!r}")
    return found[0]
