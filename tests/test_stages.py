"""The stage registry (puente/stages.py) is the one list of migrations, commands, routers and hooks, and
every name in it resolves; the import layers hold (import-linter)."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from puente import stages
from puente.store import migrations

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_name_resolves() -> None:
    for stage in stages.stages():
        for command in stage.commands:
            target = getattr(importlib.import_module(command.module), command.attribute)
            assert isinstance(target, typer.Typer) or callable(target), command
        for name in stage.routers:
            assert hasattr(importlib.import_module(name), "router"), name
        for hook, target in stage.hooks:
            module, _, function = target.partition(":")
            assert hook in stages.HOOKS and callable(getattr(importlib.import_module(module), function)), target
    assert {c.name for c in stages.commands()} >= {"audit", "share", "link", "hits", "analyze", "serve", "users",
                                                   "pull", "simulate"}


def test_migrations_come_from_the_registry() -> None:
    stages.load_migrations()
    versions = set(migrations._MIGRATIONS)
    # one range per stage: share 100-199, audit 200-299, link 300-399, api 400-499
    for low in (100, 200, 300, 400):
        assert any(low <= v < low + 100 for v in versions), low


def test_hooks() -> None:
    from puente.audit.head import ensure_head
    from puente.audit.log import ensure_evidence
    from puente.share.registry import current

    assert stages.implementations("store_opened") == [ensure_head, ensure_evidence]
    assert stages.hook("partner_agreement") is current
    with pytest.raises(KeyError):
        stages.implementations("no_such_hook")


def test_a_stage_not_in_the_build_is_skipped_but_a_broken_one_raises(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert stages.load("puente.nosuchstage.cli") is None
    assert stages.load("puente.api.routes_x", stages.Stage("nosuchstage")) is None
    (tmp_path / "puente_broken_stage.py").write_text("import puente_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):
        stages.load("puente_broken_stage")


def test_the_cli_lists_every_registered_command(tmp_path: Path) -> None:
    from _puente_cli import invoke

    code, out, err = invoke(tmp_path, "--help")
    assert code == 0, err
    for command in stages.commands():
        assert f" {command.name} " in out, command.name


def test_import_layers_hold() -> None:
    """The layers contract in pyproject.toml: no upward import, hence no cycle between packages."""
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(lint).exists():
        pytest.skip("import-linter is not installed (pip install -c constraints.txt -e '.[dev]')")
    result = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT, check=False,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and "0 broken" in result.stdout, result.stdout[-3000:]
