"""Where fentanyl goes: lab → Mexican border city → port of entry → U.S. corridor → destination.

Port choice inside each CBP field office follows crossing volumes (data/port_volumes.csv); the
planted route shifts (scenario.yaml ``route_shifts``) change port and corridor weights from their
start month. Sampling is vectorised per (port, month) group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from puente.simulate.config import Scenario, month_index
from puente.simulate.world import World


class RouteModel:
    def __init__(self, sc: Scenario, world: World) -> None:
        self.sc = sc
        self.world = world
        self.corridors = sc.p["corridors"]
        self.shifts = sc.p["route_shifts"]
        months = len(sc.periods)
        # port weights inside each field office, per month (the port shift changes them)
        self.aor_ports: dict[str, tuple[list[str], np.ndarray]] = {}
        for aor, codes in sc.p["aor_ports"].items():
            base = np.array([sc.ports[c].volume for c in codes], dtype=float)
            table = np.tile(base / base.sum(), (months, 1))
            for shift in self.shifts:
                if shift["type"] == "port" and shift["port"] in codes:
                    j = codes.index(shift["port"])
                    start = month_index(str(shift["start"]), sc.start)
                    for m in range(months):
                        share = shift["weight_after"] if m >= start else shift["weight_before"]
                        others = np.delete(table[m], j)
                        others = others / others.sum() * (1 - share)
                        table[m] = np.insert(others, j, share)
            self.aor_ports[aor] = (codes, table)
        # corridor weights per port and month (the corridor shift adds one from its start)
        self.port_corridors: dict[str, tuple[list[str], np.ndarray]] = {}
        corridor_shift = {s["corridor"]: s for s in self.shifts if s["type"] == "corridor"}
        for code in sc.ports:
            names = [c for c, spec in self.corridors.items() if code in spec["ports"]]
            if not names:
                continue
            table = np.ones((months, len(names)))
            for j, name in enumerate(names):
                if name in corridor_shift:
                    shift = corridor_shift[name]
                    start = month_index(str(shift["start"]), sc.start)
                    others = len(names) - 1
                    for m in range(months):
                        share = shift["weight_after"] if m >= start else shift["weight_before"]
                        table[m, j] = share / (1 - share) * others if others else 1.0
            self.port_corridors[code] = (names, table / table.sum(axis=1, keepdims=True))
        self.destinations: dict[str, tuple[list[str], np.ndarray]] = {}
        for name, spec in self.corridors.items():
            pops = np.array([sc.cities.loc[d, "population"] for d in spec["destinations"]], dtype=float)
            self.destinations[name] = (list(spec["destinations"]), pops / pops.sum())
        # national port weights per month: CBP southwest field office pounds × port weights
        cbp = sc.cbp_fentanyl
        sw = cbp[cbp["aor"].isin(list(self.aor_ports))]
        pivot = sw.pivot_table(index="period", columns="aor", values="pounds", aggfunc="sum").reindex(
            sc.periods).fillna(0.0)
        codes = list(sc.ports)
        self.port_codes = [c for c in codes if any(c in v[0] for v in self.aor_ports.values())]
        national = np.zeros((months, len(self.port_codes)))
        for aor, (aor_codes, table) in self.aor_ports.items():
            col = pivot[aor].to_numpy() if aor in pivot else np.zeros(months)
            for j, code in enumerate(aor_codes):
                national[:, self.port_codes.index(code)] += col * table[:, j]
        national += 1e-9
        self.national = national / national.sum(axis=1, keepdims=True)
        self.sw_monthly = pivot.sum(axis=1).to_numpy()

    def ports_in_aor(self, aor: str, months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        codes, table = self.aor_ports[aor]
        out = np.empty(len(months), dtype=object)
        for m in np.unique(months):
            idx = np.flatnonzero(months == m)
            out[idx] = rng.choice(codes, size=len(idx), p=table[m])
        return out

    def national_ports(self, months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.empty(len(months), dtype=object)
        for m in np.unique(months):
            idx = np.flatnonzero(months == m)
            out[idx] = rng.choice(self.port_codes, size=len(idx), p=self.national[m])
        return out

    def complete(self, ports: np.ndarray, months: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Given a port and month per load: border city, organisation, lab, corridor and destination."""
        n = len(ports)
        border = np.array([self.sc.ports[p].twin for p in ports], dtype=object)
        org = np.empty(n, dtype=object)
        lab = np.empty(n, dtype=object)
        corridor = np.empty(n, dtype=object)
        dest = np.empty(n, dtype=object)
        for city in np.unique(border):
            idx = np.flatnonzero(border == city)
            org[idx] = rng.choice(self.world.orgs_for_city(str(city)), size=len(idx))
        self._labs(org, months, lab, rng)
        for code in np.unique(ports):
            for m in np.unique(months[ports == code]):
                idx = np.flatnonzero((ports == code) & (months == m))
                names, table = self.port_corridors[str(code)]
                corridor[idx] = rng.choice(names, size=len(idx), p=table[m])
        for name in np.unique(corridor):
            idx = np.flatnonzero(corridor == name)
            dests, probs = self.destinations[str(name)]
            dest[idx] = rng.choice(dests, size=len(idx), p=probs)
        return pd.DataFrame({"org": org, "lab": lab, "border_city": border, "port": ports, "corridor": corridor,
                             "destination": dest, "month": months})

    def _labs(self, org: np.ndarray, months: np.ndarray, out: np.ndarray, rng: np.random.Generator) -> None:
        for oid in np.unique(org):
            labs = [self.world.labs[x] for x in self.world.orgs[str(oid)].labs]
            for m in np.unique(months[org == oid]):
                idx = np.flatnonzero((org == oid) & (months == m))
                active = [lab.id for lab in labs if lab.start <= m and (lab.found < 0 or lab.found > m)] or \
                    [lab.id for lab in labs]
                out[idx] = rng.choice(active, size=len(idx))

    def mx_routes(self, months: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Loads still in Mexico: a crossing they were heading for, chosen as for U.S. loads."""
        return self.complete(self.national_ports(months, rng), months, rng)
