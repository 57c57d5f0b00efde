"""Install benchmark: the core wheel in a fresh venv (size, distributions, `puente demo`) beside `[dev]`.

    python -m bench install [--extras dev] [--demo-scale 1000] [--keep DIR] [--out bench/results/install.md]

1. Builds the wheel from a clean copy of the repository (its git-tracked files as they are in the working
   tree: never puente-demo/, a node directory, .venv or build/ leftovers).
2. Installs it with `pip install -c constraints.txt WHEEL` into a fresh venv (the core), and
   `pip install -c constraints.txt 'puente[EXTRAS] @ WHEEL'` into another (the baseline: `[dev]`).
3. For each: the installed distributions (pip and setuptools of the venv included), the size of
   site-packages on disk, the largest distributions; for the core, that none of the extras' libraries
   (pyspark, anonlink, clkhash, recordlinkage, playwright) is installed and `pip check` is clean.
4. From the core venv, in an empty directory, with no PYTHONPATH: `puente --version` and
   `puente demo --no-serve` (two nodes, ingest, a signed share both ways).

Results are appended to bench/results/install.md as a dated section.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# what only an extra may bring: never in the core install
EXTRAS_LIBRARIES = ("pyspark", "anonlink", "clkhash", "recordlinkage", "playwright")

# run by the venv's own python: each installed distribution with the bytes its RECORD lists
_SIZES = """
import importlib.metadata as md, json, os
out = {}
for dist in md.distributions():
    total = 0
    for f in dist.files or ():
        path = dist.locate_file(f)
        try:
            total += os.stat(path).st_blocks * 512
        except OSError:
            pass
    out[dist.metadata["Name"].lower().replace("_", "-")] = total
print(json.dumps(out))
"""


def clean_copy(repo: Path, dest: Path) -> Path:
    """The repository's git-tracked files, with their working-tree content, copied to ``dest``."""
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        source = repo / name
        if name and source.is_file():  # a tracked file deleted in the working tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def build_wheel(src: Path, out: Path) -> Path:
    """`pip wheel --no-deps` (PEP 517, isolated build: the build backend comes from the index)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                   capture_output=True, text=True, check=True)
    (wheel,) = out.glob("puente-*.whl")
    return wheel


def wheel_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH and without any venv of ours: the installed copy must be the one run."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env


def make_venv(path: Path, requirement: str, constraints: Path) -> Path:
    """A fresh venv at ``path`` with ``requirement`` installed under ``constraints``; returns its bin/."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True, env=clean_env())
    bin_dir = path / "bin"
    proc = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "-c", str(constraints),
                           requirement], capture_output=True, text=True, env=clean_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {requirement} failed:\n{proc.stderr[-3000:]}")
    return bin_dir


def distributions(bin_dir: Path) -> dict[str, int]:
    """Installed distributions of the venv (normalized names) and the bytes each takes on disk."""
    proc = subprocess.run([str(bin_dir / "python"), "-c", _SIZES], capture_output=True, text=True, check=True,
                          env=clean_env())
    sizes: dict[str, int] = json.loads(proc.stdout)
    return sizes


def site_packages_bytes(venv: Path) -> int:
    """Bytes on disk (like `du`) of the venv's site-packages."""
    (site,) = venv.glob("lib/python3*/site-packages")
    return sum(os.lstat(Path(root) / name).st_blocks * 512
               for root, dirs, files in os.walk(site) for name in files + dirs)


def run_puente(bin_dir: Path, cwd: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "puente"), *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean_env(), "COLUMNS": "200"}, timeout=timeout, check=False)


@dataclass
class Install:
    label: str
    requirement: str
    seconds: float
    site_packages: int
    dists: dict[str, int]


def install(label: str, requirement: str, venv: Path) -> Install:
    started = time.perf_counter()
    bin_dir = make_venv(venv, requirement, REPO / "constraints.txt")
    seconds = time.perf_counter() - started
    return Install(label, requirement, seconds, site_packages_bytes(venv), distributions(bin_dir))


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f}"


def report(core: Install, full: Install | None, wheel: Path, files: list[str], demo: dict[str, str],
           load: tuple[float, float], top: int = 12) -> str:
    version = demo["version"]
    lines = [f"## {version}, {dt.date.today().isoformat()}", "",
             f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}; "
             f"load average {load[0]:.1f} at start, {load[1]:.1f} at the end. Wheel `{wheel.name}`: "
             f"{wheel.stat().st_size / 1e6:.1f} MB, {len(files)} files, built from the tracked files only. "
             "Fresh venvs (`python -m venv`, pip and setuptools included), `pip install -c constraints.txt`; "
             "sizes are bytes on disk (like `du`) of site-packages, and per distribution of the files its "
             "RECORD lists (compiled `.pyc` included).", "",
             "| install | distributions | site-packages MB | pip install s |", "|---|---:|---:|---:|"]
    for item in (core, full):
        if item is not None:
            lines.append(f"| {item.label} (`{item.requirement}`) | {len(item.dists)} | {_mb(item.site_packages)} | "
                         f"{item.seconds:.0f} |")
    absent = [name for name in EXTRAS_LIBRARIES if name not in core.dists]
    lines += ["", f"Extras' libraries absent from the core: {', '.join(absent) or 'none'}"
              + (f"; **present: {', '.join(n for n in EXTRAS_LIBRARIES if n in core.dists)}**"
                 if len(absent) < len(EXTRAS_LIBRARIES) else "") + f". `pip check`: {demo['pip_check']}.", "",
              f"From the core venv in an empty directory: `puente --version` → `{version}`; "
              f"`puente demo --no-serve --scale {demo['scale']}`: exit {demo['rc']}, {demo['wall']} s wall, "
              f"{demo['cpu']} s CPU (the command and its children); {demo['imported']}.", "",
              f"Largest distributions of the core (top {top}):", "", "| distribution | MB |", "|---|---:|"]
    lines += [f"| {name} | {_mb(size)} |" for name, size in sorted(core.dists.items(), key=lambda kv: -kv[1])[:top]]
    if full is not None:
        extra = {name: size for name, size in full.dists.items() if name not in core.dists}
        lines += ["", f"Only in {full.label}: {len(extra)} distributions, {_mb(sum(extra.values()))} MB; the largest:",
                  "", "| distribution | MB |", "|---|---:|"]
        lines += [f"| {name} | {_mb(size)} |" for name, size in sorted(extra.items(), key=lambda kv: -kv[1])[:top]]
    return "\n".join(lines) + "\n"


def imported_line(line: str) -> str:
    """`bundle ID from us-node: 3674 records imported under ...` → `3674 records from us-node`."""
    sender, rest = line.split(" from ", 1)[1].split(": ", 1)
    return f"{rest.split(' imported')[0]} from {sender}"


def run_demo(bin_dir: Path, cwd: Path, scale: int) -> tuple[subprocess.CompletedProcess[str], float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = run_puente(bin_dir, cwd, "demo", "--no-serve", "--scale", str(scale))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, time.perf_counter() - started, cpu


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default="dev", help="the baseline install's extras ('' to skip it)")
    parser.add_argument("--demo-scale", type=int, default=1000, help="simulated events of the demo")
    parser.add_argument("--keep", type=Path, help="work here and keep the venvs (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "install.md")
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    work = args.keep or Path(tempfile.mkdtemp(prefix="puente-install-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        wheel = build_wheel(clean_copy(REPO, work / "src"), work / "dist")
        files = wheel_files(wheel)
        print(f"wheel {wheel.name}: {len(files)} files", flush=True)
        core = install("core", str(wheel), work / "venv-core")
        core.requirement = "WHEEL"
        print(f"core: {len(core.dists)} distributions, {_mb(core.site_packages)} MB", flush=True)
        bin_dir = work / "venv-core" / "bin"
        check = subprocess.run([str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True,
                               env=clean_env(), check=False)
        (work / "demo").mkdir(exist_ok=True)
        version = run_puente(bin_dir, work / "demo", "--version").stdout.strip()
        proc, wall, cpu = run_demo(bin_dir, work / "demo", args.demo_scale)
        imported = [imported_line(line) for line in proc.stdout.splitlines()
                    if line.startswith("bundle ") and " imported " in line]
        demo = {"version": version, "scale": str(args.demo_scale), "rc": str(proc.returncode), "wall": f"{wall:.0f}",
                "cpu": f"{cpu:.0f}", "imported": "; ".join(imported) or "no bundle imported",
                "pip_check": "clean" if check.returncode == 0 else check.stdout.strip().replace("\n", "; ")}
        print(f"demo: exit {proc.returncode}, {wall:.0f} s", flush=True)
        full = None
        if args.extras:
            full = install(f"[{args.extras}]", f"puente[{args.extras}] @ {wheel.as_uri()}", work / "venv-extras")
            full.requirement = f"puente[{args.extras}] @ WHEEL"
            print(f"[{args.extras}]: {len(full.dists)} distributions, {_mb(full.site_packages)} MB", flush=True)
        text = report(core, full, wheel, files, demo, (load_start, os.getloadavg()[0]))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    head = "" if args.out.exists() else (
        "# Install benchmark (`python -m bench install`)\n\nThe core install against the development install "
        "(`[dev]`), each in a fresh venv from the same wheel; see bench/install.py.\n")
    with args.out.open("a", encoding="utf-8") as out:
        out.write(head + "\n" + text)
    print(text)


if __name__ == "__main__":
    main()
