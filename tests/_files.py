"""Small helpers shared by the ingest tests: writing an Excel file; a real ingest process, watched and signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook

REPO = Path(__file__).resolve().parents[1]


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An .xlsx whose first sheet holds ``rows`` (the first is the header)."""
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def read_position(pid: int, path: Path) -> int:
    """How far process ``pid`` has read into ``path`` (Linux /proc fdinfo), 0 before it opens it."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        for fd in fds.iterdir():
            if os.path.realpath(fd) == str(path.resolve()):
                info = (fds.parent / "fdinfo" / fd.name).read_text()
                return int(info.split("pos:")[1].split()[0])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        pass
    return 0


def start_ingest(home: Path, path: Path, profile: str = "seizure-us",
                 columnar_temp: Path | None = None) -> subprocess.Popen[str]:
    """`puente ingest` in a real process, on the row path in chunks of 5,000 rows (so that several
    are written inside the file's one transaction before a signal arrives); with ``columnar_temp``,
    on the columnar path, its scratch directory made under that directory (to see it working)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUENTE_", "LC_", "LANG"))}
    env.update({"PYTHONPATH": str(REPO), "PUENTE_BATCH_ROWS": "5000", "LANG": "C.UTF-8"})
    if columnar_temp is None:
        env["PUENTE_COLUMNAR_MIN_BYTES"] = str(1 << 62)
    else:
        env.update({"PUENTE_COLUMNAR_MIN_BYTES": "0", "TMPDIR": str(columnar_temp)})
    # SIGINT as in a terminal's foreground job, even when the tests run where it is ignored: a
    # background job inherits SIG_IGN (and Python then keeps ignoring it); a handler is not inherited
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", "puente", "--home", str(home), "ingest", str(path),
                                 "-p", profile], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def signal_when(proc: subprocess.Popen[str], ready: Callable[[], bool], signum: int, timeout: float = 120) -> None:
    """Send ``signum`` to the running ``proc`` once ``ready()`` holds (it must not finish before)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the ingest finished before the signal: make the file larger"
        assert time.monotonic() < deadline, "no write seen before the deadline"
        time.sleep(0.02)
    assert proc.poll() is None, "the ingest finished before the signal: make the file larger"
    proc.send_signal(signum)
