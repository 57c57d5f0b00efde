"""The world's structure, drawn from the seed within the bounds of scenario.yaml.

How many organisations there are, where each is based, the plazas (border cities) it holds and the
municipalities of its labs; the *quiet* places, where the authorities never dismantle a lab (so some
labs are far from every dismantled one); the corridors, including the emerging ones that open during
the period; and the planted route shifts (how many, when, where). Nothing here depends on the scale:
a seed is one world, seen at any scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from puente.simulate.config import Scenario, month_index


@dataclass
class OrgSpec:
    id: str
    name: str
    base_state: str
    lab_states: list[str]
    plazas: list[str]
    lab_places: list[tuple[str, str]]  # (municipality, state)


@dataclass
class Structure:
    orgs: list[OrgSpec]
    quiet: set[tuple[str, str]]  # lab municipalities where no lab is ever dismantled
    quiet_centers: list[tuple[str, str]]
    corridors: dict[str, dict[str, Any]]  # established corridors and the emerging ones drawn
    shifts: list[dict[str, Any]]  # planted shifts, in route_shifts.csv's columns
    lab_pool: list[tuple[str, str]] = field(default_factory=list)  # every lab municipality of the scenario

    @property
    def enforced(self) -> list[tuple[str, str]]:
        """Lab municipalities where labs are found (other labs found fill the lab_site share there)."""
        return [p for p in self.lab_pool if p not in self.quiet]


def bounded(spec: Any, rng: np.random.Generator) -> float:
    """A number from scenario.yaml: itself, or a uniform draw in ``{min, max}`` (integers when both are)."""
    if isinstance(spec, dict):
        lo, hi = spec["min"], spec["max"]
        if isinstance(lo, int) and isinstance(hi, int):
            return int(rng.integers(lo, hi + 1))
        return float(rng.uniform(float(lo), float(hi)))
    return spec  # type: ignore[no-any-return]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (la1, lo1), (la2, lo2) = (tuple(math.radians(x) for x in p) for p in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(h, 1.0)))


def draw_structure(sc: Scenario, rng: np.random.Generator) -> Structure:
    p, bounds = sc.p, sc.p["structure"]
    homes = p["organization_homes"]
    home_names = list(homes)
    home_w = np.array([float(homes[h]["weight"]) for h in home_names])
    count = int(bounded(p["entities"]["organizations"], rng))
    names = list(rng.choice(np.array(p["organization_names"], dtype=object), count, replace=False))
    orgs = []
    for i in range(count):
        home = home_names[int(rng.choice(len(home_names), p=home_w / home_w.sum()))]
        spec = homes[home]
        k = min(int(bounded(bounds["plazas_per_org"], rng)), len(spec["plazas"]))
        plazas = [str(x) for x in rng.choice(np.array(spec["plazas"], dtype=object), k, replace=False)]
        places: list[tuple[str, str]] = []
        for _ in range(int(bounded(bounds["lab_places_per_org"], rng))):
            state = str(rng.choice(spec["lab_states"]))
            free = [m for m in p["lab_municipalities"][state] if (m, state) not in places]
            if free:
                places.append((str(rng.choice(free)), state))
        lab_states = sorted({s for _, s in places})
        orgs.append(OrgSpec(f"ORG-{i + 1}", str(names[i]), home, lab_states, plazas, places))
    pool = [(m, s) for s, munis in p["lab_municipalities"].items() for m in munis]
    quiet, centers = _quiet(sc, rng, orgs, pool)
    corridors, shifts = _shifts(sc, rng)
    return Structure(orgs, quiet, centers, corridors, shifts, pool)


def _coords(sc: Scenario, place: tuple[str, str]) -> tuple[float, float]:
    found = sc.place(f"{place[0]}, {place[1]}", "MX")
    return float(found.lat or 0.0), float(found.lon or 0.0)


def _quiet(sc: Scenario, rng: np.random.Generator, orgs: list[OrgSpec],
           pool: list[tuple[str, str]]) -> tuple[set[tuple[str, str]], list[tuple[str, str]]]:
    """Quiet centers among the organisations' lab places (remote ones weigh 3x) and every lab municipality
    within the radius of one. At least one organisation lab place stays enforced (some labs are found)."""
    bounds = sc.p["structure"]
    remote = set(sc.p["remote_municipalities"])
    places = sorted({pl for o in orgs for pl in o.lab_places})
    w = np.array([3.0 if m in remote else 1.0 for m, _ in places])
    k = min(int(bounded(bounds["quiet_centers"], rng)), len(places) - 1)
    order = [places[i] for i in rng.choice(len(places), len(places), replace=False, p=w / w.sum())]
    radius = float(bounds["quiet_radius_km"])
    coords = {pl: _coords(sc, pl) for pl in pool}
    centers: list[tuple[str, str]] = []
    quiet: set[tuple[str, str]] = set()
    for center in order:
        if len(centers) >= k:
            break
        near = {pl for pl in pool if km(coords[pl], coords[center]) <= radius}
        if all(pl in quiet | near for pl in places):
            continue  # would leave no organisation lab to be found
        centers.append(center)
        quiet |= near
    return quiet, centers


def _month(sc: Scenario, period: str) -> int:
    return month_index(period, sc.start)


def _office_shares(sc: Scenario) -> dict[str, float]:
    """Each southwest field office's share of the real CBP fentanyl seizure events (where the loads are)."""
    cbp = sc.cbp_fentanyl
    events = cbp[cbp["aor"].isin(list(sc.p["aor_ports"]))].groupby("aor")["events"].sum()
    return {aor: float(events.get(aor, 0.0)) / float(events.sum()) for aor in sc.p["aor_ports"]}


def _shifts(sc: Scenario, rng: np.random.Generator) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Port shifts (a small port grows to a large share of its field office's crossings, at most one per
    office) and corridor shifts (an emerging corridor opens); starts drawn in the window of scenario.yaml.
    Shifts happen where the loads are: a field office is drawn by its share of the real fentanyl seizure
    events, an emerging corridor by its ports' share of the loads, each plus ``shift_weight_floor`` (so
    shifts in the quiet offices and corridors stay possible, and rarer)."""
    p, bounds = sc.p, sc.p["structure"]
    first, last = _month(sc, str(bounds["shift_start"]["first"])), _month(sc, str(bounds["shift_start"]["last"]))
    corridors = {name: dict(spec) for name, spec in p["corridors"].items()}
    shifts: list[dict[str, Any]] = []
    aor_of = {code: aor for aor, codes in p["aor_ports"].items() for code in codes}
    candidates = [c for c in bounds["port_shift_ports"] if c in aor_of]
    office = _office_shares(sc)
    floor = float(bounds["shift_weight_floor"])
    used_aors: set[str] = set()
    for _ in range(int(bounded(bounds["port_shifts"], rng))):
        offices = sorted({aor_of[c] for c in candidates} - used_aors)
        if not offices:
            break
        w = np.array([office[a] + floor for a in offices])
        aor = offices[int(rng.choice(len(offices), p=w / w.sum()))]
        code = str(rng.choice([c for c in candidates if aor_of[c] == aor]))
        used_aors.add(aor)
        volumes = {c: sc.ports[c].volume for c in p["aor_ports"][aor]}
        before = round(volumes[code] / sum(volumes.values()), 3)
        after = round(float(bounded(bounds["port_shift_after"], rng)), 2)
        port = sc.ports[code]
        serving = [n for n, spec in corridors.items() if code in spec["ports"]]
        shifts.append({"type": "port", "corridor": "|".join(serving), "port": code, "border_city": port.twin,
                       "start": int(rng.integers(first, last + 1)), "weight_before": before, "weight_after": after,
                       "description": f"{port.name} ({port.twin}) grows from {before:.0%} to {after:.0%} of the "
                                      f"{aor.title().replace('Field Office', 'field office')}'s crossings"})
    emerging = p["emerging_corridors"]
    k = min(int(bounded(bounds["corridor_shifts"], rng)), len(emerging))
    port_share = {c: office[aor_of[c]] * sc.ports[c].volume / sum(sc.ports[x].volume for x in p["aor_ports"][aor_of[c]])
                  for c in aor_of}
    w = np.array([sum(port_share.get(c, 0.0) for c in spec["ports"]) + floor for spec in emerging.values()])
    for name in rng.choice(np.array(list(emerging), dtype=object), k, replace=False, p=w / w.sum()):
        spec = emerging[str(name)]
        corridors[str(name)] = {key: spec[key] for key in ("ports", "waypoints", "destinations")}
        shifts.append({"type": "corridor", "corridor": str(name), "port": "", "border_city": "",
                       "start": int(rng.integers(first, last + 1)), "weight_before": 0.0,
                       "weight_after": round(float(bounded(bounds["corridor_shift_after"], rng)), 2),
                       "description": str(spec["description"])})
    shifts.sort(key=lambda s: (s["start"], s["type"], s["corridor"]))
    for i, shift in enumerate(shifts):
        shift["shift_id"] = f"SHIFT-{i + 1}"
        shift["start_period"] = sc.periods[shift["start"]]
    return corridors, shifts
