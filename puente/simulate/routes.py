"""Where fentanyl goes: lab → Mexican border city → port of entry → U.S. corridor → destination.

Port choice inside each CBP field office follows crossing volumes (data/port_volumes.csv); the
planted route shifts (drawn from the seed, see structure.py) change port and corridor weights from
their start month; an emerging corridor exists only when a shift opens it. Every choice is drawn for whole arrays at once from cumulative probability tables
indexed by (port, month), (organisation, month), corridor or border city.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from puente.simulate.config import Scenario, groups
from puente.simulate.world import World


def draw(cum: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each i, an option index drawn from the cumulative probabilities ``cum[rows[i]]``."""
    u = rng.random(len(rows))
    out = np.empty(len(rows), dtype=np.int64)
    for row, idx in groups(rows):
        table = cum[row]
        out[idx] = np.searchsorted(table, u[idx], side="right")
    return out


def _cumulative(weights: list[np.ndarray], width: int) -> np.ndarray:
    """Cumulative probabilities per row, padded with 1.0 (never drawn: u < 1 stops at the last real option)."""
    out = np.ones((len(weights), width))
    for i, w in enumerate(weights):
        c = np.cumsum(w / w.sum())
        c[-1] = 1.0
        out[i, : len(w)] = c
    return out


def _apply_port_shift(table: np.ndarray, j: int, shift: dict[str, Any]) -> None:
    """Give port ``j`` its share before and after the shift's start month; the others keep their proportions."""
    start = int(shift["start"])
    for m in range(len(table)):
        share = shift["weight_after"] if m >= start else shift["weight_before"]
        others = np.delete(table[m], j)
        table[m] = np.insert(others / others.sum() * (1 - share), j, share)


class RouteModel:
    """The route tables of one scenario and world, built once; the draws below sample them."""

    def __init__(self, sc: Scenario, world: World) -> None:
        self.sc = sc
        self.world = world
        self.corridors = world.structure.corridors
        self.shifts = world.structure.shifts
        self.months = len(sc.periods)
        self.codes = list(sc.ports)
        self.code_index = {c: i for i, c in enumerate(self.codes)}
        self.aor_ports = self._port_tables()
        self.corridor_names = list(self.corridors)
        self.corridor_cum = self._corridor_table()  # row = port index * months + month
        self._destination_tables()
        self._organisation_tables()
        self._lab_tables()
        self._national_tables()

    def _port_tables(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Cumulative port weights inside each field office, per month (the port shift changes them)."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for aor, codes in self.sc.p["aor_ports"].items():
            base = np.array([self.sc.ports[c].volume for c in codes], dtype=float)
            table = np.tile(base / base.sum(), (self.months, 1))
            for shift in self.shifts:
                if shift["type"] == "port" and shift["port"] in codes:
                    _apply_port_shift(table, codes.index(shift["port"]), shift)
            cum = np.cumsum(table, axis=1)
            cum[:, -1] = 1.0
            out[aor] = (np.array(codes, dtype=object), cum)
        return out

    def _corridor_table(self) -> np.ndarray:
        """Cumulative corridor weights per (port, month); the corridor shift adds one from its start month."""
        corridor_shift = {s["corridor"]: s for s in self.shifts if s["type"] == "corridor"}
        rows = []
        for code in self.codes:
            names = [c for c, spec in self.corridors.items() if code in spec["ports"]] or self.corridor_names
            for m in range(self.months):
                rows.append(self._corridor_weights(names, corridor_shift, m))
        return _cumulative(rows, len(self.corridor_names))

    def _corridor_weights(self, names: list[str], corridor_shift: dict[str, dict[str, Any]], m: int) -> np.ndarray:
        """One port's corridor weights in month ``m``: its corridors alike, a shifted corridor at its share."""
        w = np.zeros(len(self.corridor_names))
        for name in names:
            w[self.corridor_names.index(name)] = 1.0
        for name, shift in corridor_shift.items():
            j = self.corridor_names.index(name)
            if w[j] and len(names) > 1:
                share = shift["weight_after"] if m >= int(shift["start"]) else shift["weight_before"]
                w[j] = 0.0
                w = w / w.sum() * (1 - share)
                w[j] = share
        return w

    def _destination_tables(self) -> None:
        """Destinations per corridor, by population."""
        self.dest_names = [list(spec["destinations"]) for spec in self.corridors.values()]
        width = max(len(d) for d in self.dest_names)
        self.dest_table = np.array([names + [""] * (width - len(names)) for names in self.dest_names], dtype=object)
        self.dest_cum = _cumulative([np.array([self.sc.cities.loc[d, "population"] for d in names], dtype=float)
                                     for names in self.dest_names], width)

    def _organisation_tables(self) -> None:
        """Organisations per border city (the ones whose plazas include it)."""
        sc, world = self.sc, self.world
        self.cities = sorted({p.twin for p in sc.ports.values()})
        self.city_index = {c: i for i, c in enumerate(self.cities)}
        self.org_ids = list(world.orgs)
        self.city_orgs = _cumulative([np.array([1.0 if oid in world.orgs_for_city(c) else 0.0 for oid in self.org_ids])
                                      for c in self.cities], len(self.org_ids))
        self.port_city = np.array([self.city_index[sc.ports[c].twin] for c in self.codes])

    def _lab_tables(self) -> None:
        """Labs active per (organisation, month): a padded table of lab indices and how many there are."""
        world, months = self.world, self.months
        self.lab_ids = np.array(list(world.labs), dtype=object)
        lab_index = {lab: i for i, lab in enumerate(world.labs)}
        width = max(len(world.orgs[o].labs) for o in self.org_ids)
        self.lab_table = np.zeros((len(self.org_ids) * months, width), dtype=np.int64)
        self.lab_count = np.zeros(len(self.org_ids) * months, dtype=np.int64)
        for o, oid in enumerate(self.org_ids):
            labs = world.orgs[oid].labs
            for m in range(months):
                active = [lab for lab in labs if world.labs[lab].start <= m and
                          (world.labs[lab].found < 0 or world.labs[lab].found > m)] or labs
                self.lab_table[o * months + m, : len(active)] = [lab_index[x] for x in active]
                self.lab_count[o * months + m] = len(active)

    def _national_tables(self) -> None:
        """National port weights per month: CBP southwest field office seizure events × port weights.

        Events, not pounds: a load is one load wherever it is seen, so loads seized away from the
        port, loads still in Mexico and all loads (the truth's flows) split across field offices as
        the loads seized at their ports do (San Diego's loads are bigger, not more numerous)."""
        sc, months = self.sc, self.months
        cbp = sc.cbp_fentanyl
        sw = cbp[cbp["aor"].isin(list(self.aor_ports))]
        events = sw.pivot_table(index="period", columns="aor", values="events", aggfunc="sum").reindex(
            sc.periods).fillna(0.0)
        national = np.zeros((months, len(self.codes)))
        for aor, (aor_codes, cum) in self.aor_ports.items():
            col = events[aor].to_numpy() if aor in events else np.zeros(months)
            table = np.diff(cum, axis=1, prepend=0.0)
            for j, code in enumerate(aor_codes):
                national[:, self.code_index[code]] += col * table[:, j]
        national += 1e-12
        self.national_cum = np.cumsum(national / national.sum(axis=1, keepdims=True), axis=1)
        self.national_cum[:, -1] = 1.0
        self.sw_monthly = events.sum(axis=1).to_numpy()  # loads per month, as the ports see them

    # -- draws ---------------------------------------------------------------------------------
    def ports_in_aor(self, aor: str, months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        codes, cum = self.aor_ports[aor]
        out: np.ndarray = codes[draw(cum, months, rng)]
        return out

    def national_ports(self, months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out: np.ndarray = np.array(self.codes, dtype=object)[draw(self.national_cum, months, rng)]
        return out

    def labs_for(self, orgs: np.ndarray, months: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lookup = {o: i for i, o in enumerate(self.org_ids)}
        rows = np.array([lookup[o] for o in orgs], dtype=np.int64) * self.months + months
        pick = (rng.random(len(rows)) * self.lab_count[rows]).astype(np.int64)
        out: np.ndarray = self.lab_ids[self.lab_table[rows, pick]]
        return out

    def complete(self, ports: np.ndarray, months: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Given a port and month per load: border city, organisation, lab, corridor and destination."""
        port_idx = np.array([self.code_index[p] for p in ports], dtype=np.int64)
        city_idx = self.port_city[port_idx]
        org = np.array(self.org_ids, dtype=object)[draw(self.city_orgs, city_idx, rng)]
        lab = self.labs_for(org, months, rng)
        corridor_idx = draw(self.corridor_cum, port_idx * self.months + months, rng)
        dest_choice = draw(self.dest_cum, corridor_idx, rng)
        dest = self.dest_table[corridor_idx, dest_choice]
        return pd.DataFrame({"org": org, "lab": lab, "border_city": np.array(self.cities, dtype=object)[city_idx],
                             "port": ports, "corridor": np.array(self.corridor_names, dtype=object)[corridor_idx],
                             "destination": dest, "month": months})

    def mx_routes(self, months: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Loads still in Mexico: a crossing they were heading for, chosen as for U.S. loads."""
        return self.complete(self.national_ports(months, rng), months, rng)
