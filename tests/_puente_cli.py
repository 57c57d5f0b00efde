"""Run the `puente` command: in a subprocess (``python -m puente``) exactly as a user would (:func:`run`),
or in this process through the same ``main`` (:func:`cli`, :func:`invoke`), which is much faster and is
what a test uses unless the process itself is the point (exit status, tracebacks, locale at start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(home: Path, *args: str, env: dict[str, str] | None = None, lang: str = "C.UTF-8",
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`puente --home HOME ARGS...` with a neutral locale unless ``env`` says otherwise."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PUENTE_", "LC_", "LANG"))}
    full_env.update({"LANG": lang, "PYTHONPATH": str(REPO), "COLUMNS": "200"})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "puente", "--home", str(home), *args], capture_output=True, check=False,
                          text=True, env=full_env, timeout=timeout, cwd=home.parent if home.parent.exists() else None)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr (asserting there is no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("puente: "), lines[0]
    return lines[0]


def invoke(home: Path, *args: str, lang: str = "C.UTF-8") -> tuple[int, str, str]:
    """The same command in this process (faster than a subprocess): (exit code, stdout, stderr).
    Output is captured by redirecting the consoles, which print to sys.stdout/sys.stderr."""
    import contextlib
    import io

    from puente import cli
    from puente.cli import main
    from puente.i18n import set_language

    # the consoles were created at import, possibly under another width: pin it so tables never wrap
    cli.console.width = cli.err_console.width = 200

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in ("LANG", "LC_ALL", "LC_MESSAGES", "PUENTE_LANG", "COLUMNS")}
    os.environ.update({"LANG": lang, "COLUMNS": "200"})
    for key in ("LC_ALL", "LC_MESSAGES", "PUENTE_LANG"):
        os.environ.pop(key, None)
    set_language(None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--home", str(home), *args])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        set_language("en")
    return code, out.getvalue(), err.getvalue()


def cli(home: Path, *args: str, lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    """:func:`invoke` with :func:`run`'s result type, so a test can switch between the two freely."""
    code, out, err = invoke(home, *args, lang=lang)
    return subprocess.CompletedProcess(["puente", "--home", str(home), *args], code, out, err)
