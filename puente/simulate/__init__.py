"""The binational scenario simulator: agency files for a U.S. and a Mexican node, and the truth.

    from puente.simulate import simulate
    summary = simulate(Path("sim"), seed=7, scale=20_000)

See docs/simulator.md for the files, their columns and the truth.
"""

from puente.simulate.run import Summary, read_manifest, simulate

__all__ = ["Summary", "read_manifest", "simulate"]
