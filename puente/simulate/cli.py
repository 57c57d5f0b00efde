"""`puente simulate --seed S --scale N --out DIR`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from puente.i18n import t

console = Console()


def simulate_command(
    out: Path = typer.Option(..., "--out", "-o", help="Output directory / directorio de salida."),
    seed: int = typer.Option(7, "--seed", help="Random seed: same seed, same bytes / semilla."),
    scale: int = typer.Option(20_000, "--scale", help="Event records to generate / eventos a generar."),
) -> None:
    """Write a binational scenario (U.S. and Mexican agency files) and its ground truth."""
    from puente.simulate import simulate

    summary = simulate(out, seed=seed, scale=scale,
                       progress=lambda step: console.print(t("sim_step", step=step), style="dim"))
    for entry in summary.files:
        console.print(f"  {entry['file']:<32} {entry['profile']:<24} {int(entry['rows']):>10,}")  # type: ignore[call-overload]
    console.print(t("sim_done", rows=summary.rows, files=len(summary.files), out=str(out), seconds=summary.seconds,
                    rate=summary.rows / max(summary.seconds, 1e-9), truth=str(out / "truth")))
