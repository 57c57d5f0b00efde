"""The install and the node directory: the core imports without the extras, the package list is explicit,
`--version`, `python -m bench --help`, node directories that can be copied, and `init` on a PostgreSQL
database that does not exist yet."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from pathlib import Path

import pytest
from _puente_cli import invoke
from conftest import PG_URL, _pg_admin

import puente
from bench.install import (
    EXTRAS_LIBRARIES,
    build_wheel,
    clean_copy,
    distributions,
    make_venv,
    run_demo,
    run_puente,
    wheel_files,
)
from puente.errors import ConfigError, StoreError
from puente.node import Node

REPO = Path(__file__).resolve().parents[1]
EXTRAS = EXTRAS_LIBRARIES

# imports every module of the package and runs `puente --help` with the extras' libraries unimportable
_WITHOUT_EXTRAS = f"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
import puente
for info in pkgutil.walk_packages(puente.__path__, "puente."):
    if not info.name.endswith(".__main__") and info.name != "puente.api.serve_app":  # entry points
        importlib.import_module(info.name)
from puente.cli import main
sys.exit(main(["--help"]))
"""


def test_the_core_imports_and_runs_without_the_extras() -> None:
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "demo" in proc.stdout and "share" in proc.stdout  # every command group is still there


def test_spark_without_pyspark_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from puente.engine import spark

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(ConfigError) as err:
        spark.spark_session.__wrapped__()  # past the per-process cache
    assert "pip install 'puente[spark]'" in err.value.message("en")


def test_packages_are_listed_explicitly(tmp_path: Path) -> None:
    """`make demo` writes puente-demo/ (data and a node.toml) beside puente/: it must never be packaged."""
    from setuptools import find_namespace_packages

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    (tmp_path / "puente" / "web" / "static").mkdir(parents=True)
    (tmp_path / "puente" / "__init__.py").touch()
    (tmp_path / "puente-demo" / "us-node").mkdir(parents=True)
    (tmp_path / "puente-demo" / "us-node" / "node.toml").touch()
    (tmp_path / "puente_extra").mkdir()
    found = set(find_namespace_packages(str(tmp_path), include=include))
    assert found == {"puente", "puente.web", "puente.web.static"}


def test_version(tmp_path: Path) -> None:
    code, out, _ = invoke(tmp_path / "none", "--version")
    assert code == 0 and out.strip() == f"puente {puente.__version__}"
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "puente.__version__"}


def test_bench_has_a_help_text() -> None:
    from bench.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--help"]) == 0
    assert "python -m bench TOPIC" in out.getvalue()
    assert {"ingest", "share", "link", "api", "simulate"} <= {line.split()[0] for line in
                                                             out.getvalue().split("topics:")[1].splitlines() if line}
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["no-such-topic"]) == 2


def test_a_copied_node_directory_writes_to_its_own_store(tmp_path: Path) -> None:
    original = Node.init(tmp_path / "us", "us-node", "US")
    assert 'store = "duckdb://store.duckdb"' in (original.home / "node.toml").read_text(encoding="utf-8")
    shutil.copytree(original.home, tmp_path / "copy")
    copy = Node.load(tmp_path / "copy")
    assert copy.store_url == f"duckdb://{(tmp_path / 'copy' / 'store.duckdb').resolve()}"
    with copy.open_store() as store:
        store.execute("INSERT INTO node_meta VALUES ('copied', 'yes')")
    with Node.load(tmp_path / "us").open_store() as store:
        assert store.scalar("SELECT value FROM node_meta WHERE key = 'copied'") is None
    # a store outside the node directory stays absolute
    outside = Node.init(tmp_path / "mx", "mx-node", "MX", f"duckdb://{tmp_path / 'elsewhere.duckdb'}")
    assert f'"duckdb://{tmp_path / "elsewhere.duckdb"}"' in (outside.home / "node.toml").read_text(encoding="utf-8")
    assert Node.load(outside.home).store_url == outside.store_url


def test_a_copied_pre_relative_node_refuses_the_original_store(tmp_path: Path) -> None:
    original = Node.init(tmp_path / "us", "us-node", "US")
    config = original.home / "node.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(  # as 0.1 wrote it
        '"duckdb://store.duckdb"', f'"duckdb://{(original.home / "store.duckdb").resolve()}"'), encoding="utf-8")
    assert Node.load(original.home).store_url == original.store_url  # in place: fine
    shutil.copytree(original.home, tmp_path / "copy")
    with pytest.raises(ConfigError) as err:
        Node.load(tmp_path / "copy")
    assert err.value.key == "node_store_elsewhere"


@pytest.mark.postgres
def test_init_creates_a_missing_postgres_database_or_says_the_command(tmp_path: Path) -> None:
    admin = _pg_admin()
    name, role = "puente_test_" + uuid.uuid4().hex[:10], "puente_role_" + uuid.uuid4().hex[:8]
    try:
        node = Node.init(tmp_path / "pg", "pg-node", "MX", f"{PG_URL}/{name}")
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        with node.open_store() as store:
            assert store.scalar("SELECT value FROM node_meta WHERE key = 'name'") == "pg-node"
        admin.execute(f'CREATE ROLE "{role}" LOGIN')  # may not create databases
        other = PG_URL.replace("postgres@", f"{role}@") + f"/{name}_x"
        with pytest.raises(StoreError) as err:
            Node.init(tmp_path / "pg2", "pg-two", "MX", other)
        assert err.value.key == "pg_database_missing"
        assert f"createdb -h 127.0.0.1 -p 5432 -O {role} {name}_x" in err.value.message("en")
        assert not (tmp_path / "pg2" / "node.toml").exists()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def _imports(path: Path) -> set[str]:
    """Every module a source file imports (at any depth: lazy imports inside functions count)."""
    import ast

    package = path.relative_to(REPO).with_suffix("").parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else ()  # `from ..x import y` resolved
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_evaluation_code_is_outside_the_product() -> None:
    """Scoring against simulated truth and benchmark data sets lives in bench/, not in the package: only the
    simulator itself, `puente demo` and the CLI that wires both reach the simulator (lazy imports inside functions
    count too), and nothing in puente/ imports bench/."""
    allowed = {REPO / "puente" / "demo.py", REPO / "puente" / "cli.py"}
    reaching = {}
    for path in sorted((REPO / "puente").rglob("*.py")):
        if path in allowed or (REPO / "puente" / "simulate") in path.parents:
            continue
        bad = {name for name in _imports(path)
               if name.split(".")[0] == "bench" or name.startswith(("puente.simulate", "puente.demo"))
               or name in ("puente.link.simeval", "puente.link.synth", "puente.link.febrl")}
        if bad:
            reaching[str(path.relative_to(REPO))] = sorted(bad)
    assert reaching == {}
    assert not any((REPO / "puente" / "link" / f"{name}.py").exists() for name in ("simeval", "synth", "febrl"))


@pytest.mark.slow
def test_the_core_wheel_installs_without_the_extras_and_runs_the_demo(tmp_path: Path) -> None:
    """Issue 17's bar, end to end: the wheel built from the repository (with the leftovers of `make demo` and a
    node directory beside the package) holds only the package; `pip install -c constraints.txt WHEEL` into a
    fresh venv brings none of the extras' libraries; `puente --version` and `puente demo` run from that venv."""
    src = clean_copy(REPO, tmp_path / "src")
    for leftover in ("puente-demo/us-node/node.toml", "puente-node/node.toml", "puente-demo/simulated/us/x.csv"):
        (src / leftover).parent.mkdir(parents=True, exist_ok=True)
        (src / leftover).write_text('store = "duckdb:///elsewhere/store.duckdb"\n', encoding="utf-8")
    assert (src / "tests" / "test_packaging.py").exists() and (src / "bench" / "__main__.py").exists()
    files = wheel_files(build_wheel(src, tmp_path / "dist"))
    info = f"puente-{puente.__version__}.dist-info/"
    assert {name.split("/")[0] + "/" for name in files} == {"puente/", info}, sorted(files)[:20]
    assert not [name for name in files if name.endswith(("node.toml", ".duckdb")) or "puente-demo" in name]
    assert {"puente/cli.py", "puente/model/schema.yaml", "puente/web/static/app.css"} <= set(files)
    entry_points = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).read(info + "entry_points.txt").decode()
    assert "puente = puente.cli:main" in entry_points

    bin_dir = make_venv(tmp_path / "venv", str(next((tmp_path / "dist").glob("*.whl"))), REPO / "constraints.txt")
    installed = distributions(bin_dir)
    assert "puente" in installed and "duckdb" in installed
    assert [name for name in EXTRAS_LIBRARIES if name in installed] == []
    check = subprocess.run([str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout

    run = tmp_path / "elsewhere"
    run.mkdir()
    where = subprocess.run([str(bin_dir / "python"), "-c", "import puente; print(puente.__file__)"], cwd=run,
                           capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert Path(where.strip()).is_relative_to(tmp_path / "venv")  # the installed copy, not the repository's
    version = run_puente(bin_dir, run, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"puente {puente.__version__}"
    demo, _, _ = run_demo(bin_dir, run, 1000)
    assert demo.returncode == 0, (demo.stdout[-2000:], demo.stderr[-3000:])
    imported = [line for line in demo.stdout.splitlines() if line.startswith("bundle ") and " imported " in line]
    assert len(imported) == 2 and all(int(line.split(": ")[1].split()[0]) > 0 for line in imported), imported
    for home in ("us-node", "mx-node"):
        status = run_puente(bin_dir, run, "--home", f"puente-demo/{home}", "audit", "verify")
        assert status.returncode == 0, status.stdout + status.stderr
