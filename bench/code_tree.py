"""Run Python against another checkout of the code (``PYTHONPATH`` = that tree), as the A/B benches do."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def run_with_code(code: Path, argv: list[str], quiet: bool = True) -> tuple[float, float]:
    """``python argv...`` with the code tree ``code`` first on the path; (wall seconds, CPU seconds of the child)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    before, started = os.times(), time.perf_counter()
    subprocess.run([sys.executable, *argv], check=True, env=env, cwd=str(code),
                   stdout=subprocess.DEVNULL if quiet else None)
    wall, after = time.perf_counter() - started, os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)
