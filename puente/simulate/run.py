"""`simulate(out, seed, scale)`: write the agency files of both countries and the truth beside them."""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from puente.errors import UsageError
from puente.simulate import files
from puente.simulate.config import Scenario
from puente.simulate.places import PlaceTexts
from puente.simulate.records import NodeRecords
from puente.simulate.routes import RouteModel
from puente.simulate.structure import draw_structure
from puente.simulate.tables import OneOffNames, PeopleTable, VehicleTable
from puente.simulate.world import World
from puente.simulate.writer import TableWriter, TruthWriter

# truth file -> columns (documented in docs/simulator.md)
TRUTH = {
    "identities": ("identities.csv", ["file", "source_id", "kind", "entity_id"]),
    "entities": ("entities.csv", ["entity_id", "kind", "name", "org_id", "role", "country", "detail"]),
    "orgs": ("organizations.csv", ["org_id", "name", "leader_id", "leader_name", "plazas", "lieutenants",
                                   "couriers", "straw_purchasers", "front_companies", "labs", "base_state",
                                   "lab_places"]),
    "loads": ("loads.csv", ["load_id", "event_id", "period", "org", "lab", "border_city", "port", "corridor",
                            "destination", "form", "quantity_kg", "outcome", "seized_at", "place_id",
                            "reported_destination", "reported_false"]),
    "flows": ("route_flows.csv", ["period", "org", "border_city", "port", "corridor", "destination", "loads"]),
    "lab_output": ("lab_output.csv", ["period", "lab", "loads"]),
    "reports": ("seizure_reports.csv", ["file", "source_id", "event_id", "load_id", "agency", "aor",
                                        "second_report", "late_days"]),
    "shifts": ("route_shifts.csv", ["shift_id", "type", "corridor", "port", "border_city", "start_period",
                                    "weight_before", "weight_after", "description"]),
    "labs": ("labs.csv", ["lab_id", "org_id", "municipality", "state", "lat", "lon", "lab_kind", "mark",
                          "capacity_kg_month", "start_period", "found_period", "record_source_id", "quiet",
                          "nearest_found_km"]),
    "lab_places": ("lab_places.csv", ["municipality", "state", "lat", "lon", "orgs", "quiet", "quiet_center"]),
    "shipments": ("precursor_shipments.csv", ["source_id", "chemical", "quantity_kg", "importer_id", "diverted",
                                              "org_id", "lab_id", "front_company_id", "consignee_id", "seized"]),
    "company_people": ("company_people.csv", ["company_id", "company_source_id", "person_id", "person_source_id",
                                              "role", "name_written"]),
    "lab_people": ("lab_people.csv", ["lab_id", "lab_source_id", "person_id", "person_source_id", "role",
                                      "via_front"]),
    "chains": ("chains.csv", ["source_id", "front_company_id", "company_source_id", "owner_id", "owner_source_ids",
                              "lab_id", "lab_source_id", "arrested_source_ids", "linkable", "cited"]),
    "guns": ("firearms.csv", ["gun_id", "serial", "make", "model", "ffl_id", "purchaser_id", "org_id",
                              "trafficked", "multiple_sale_id", "purchase_date", "recovery_date", "recovery_place_id",
                              "atf_source_id", "mx_source_id"]),
    "corrupted": ("corrupted_rows.csv", ["file", "row", "kind", "reason", "field", "source_id", "outcome"]),
    "calibration": ("calibration.csv", ["period", "aor", "real_pounds", "simulated_pounds", "events"]),
}


@dataclass
class Context:
    out: Path
    seed: int
    scale: int
    sc: Scenario
    rng: np.random.Generator
    world: World
    routes: RouteModel
    places: PlaceTexts
    writers: dict[str, TableWriter]
    truth: dict[str, TruthWriter]
    us: NodeRecords
    mx: NodeRecords
    people_table: PeopleTable
    counters: dict[str, int] = field(default_factory=dict)
    checkpoints_by_sector: dict[str, list[dict]] = field(default_factory=dict)  # type: ignore[type-arg]
    cbp_sums: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # (period, aor) -> [lb, events]
    lab_chemicals: dict[str, set[str]] = field(default_factory=dict)  # lab id -> chemicals diverted to it
    lab_fronts: dict[str, set[str]] = field(default_factory=dict)  # lab id -> front companies that fed it
    diverted: list[pd.DataFrame] = field(default_factory=list)  # diverted shipments: record, front, lab
    found_coords: list[np.ndarray] = field(default_factory=list)  # (lat, lon) of the other labs found
    lab_people: list[pd.DataFrame] = field(default_factory=list)  # detainees at the organisations' labs
    front_labs: dict[str, list[str]] = field(default_factory=dict)  # front -> the lab it supplies, by month
    lab_load: dict[str, int] = field(default_factory=dict)  # lab -> fronts that have supplied it
    cited: dict[tuple[str, str], str] = field(default_factory=dict)  # (shipment, lab) -> how the lab's papers cite it

    def _next(self, key: str, n: int) -> np.ndarray:
        start = self.counters.get(key, 0)
        self.counters[key] = start + n
        return np.arange(start + 1, start + n + 1)

    def lab_people_rows(self) -> pd.DataFrame:
        cols = ["lab_id", "lab_source_id", "person_id", "person_source_id", "role", "via_front"]
        return pd.concat(self.lab_people, ignore_index=True) if self.lab_people else pd.DataFrame(columns=cols)

    def next_ids(self, key: str, n: int) -> np.ndarray:
        return self._next(key, n)

    def next_loads(self, n: int) -> np.ndarray:
        return np.array([f"LOAD-{i:08d}" for i in self._next("load", n)], dtype=object)

    def next_events(self, n: int) -> np.ndarray:
        return np.array([f"EV-{i:08d}" for i in self._next("event", n)], dtype=object)

    def port_text(self, code: str, rng: np.random.Generator) -> str:
        port = self.sc.ports[code]
        options = [port.name, f"{port.name} POE"] + [a for a in port.aliases[:2] if "garita" not in a.lower()]
        return str(options[int(rng.integers(len(options)))])


@dataclass
class Summary:
    out: Path
    files: list[dict[str, object]]
    truth: dict[str, int]
    seconds: float
    rows: int


def simulate(out: Path, seed: int = 7, scale: int = 20_000, progress: Callable[[str], None] | None = None) -> Summary:
    if scale < 1000:
        raise UsageError("sim_scale_too_small", scale=scale)
    started = time.monotonic()
    if out.exists() and not out.is_dir():
        raise UsageError("sim_bad_out", path=str(out), error="not a directory")
    if out.exists():
        for sub in ("us", "mx", "truth"):
            shutil.rmtree(out / sub, ignore_errors=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("sim_bad_out", path=str(out), error=exc.strerror or str(exc)) from None
    sc = Scenario()
    # one random stream per component, so each part is reproducible on its own
    streams = np.random.SeedSequence(seed).spawn(8)
    rng = np.random.default_rng(streams[0])
    # the world's structure (organisations, plazas, lab places, corridors, shifts) depends on the seed only
    structure = draw_structure(sc, np.random.default_rng(streams[4]))
    world = World(sc, scale, np.random.default_rng(streams[1]), structure)
    truth = {key: TruthWriter(out / "truth" / name, cols) for key, (name, cols) in TRUTH.items()}
    corrupt = sc.rate("corrupted_per_10k")
    writer_rng = np.random.default_rng(streams[2])
    specs = {"cbp": files.CBP_SEIZURES, "interior": files.US_INTERIOR, "atf": files.ATF_TRACES,
             "us_persons": files.US_PERSONS, "us_vehicles": files.US_VEHICLES, "us_orgs": files.US_ORGS,
             "us_links": files.US_LINKS, "mx_seizures": files.MX_SEIZURES, "shipments": files.MX_SHIPMENTS,
             "labs": files.MX_LABS, "mx_guns": files.MX_GUNS, "mx_persons": files.MX_PERSONS,
             "mx_vehicles": files.MX_VEHICLES, "mx_orgs": files.MX_ORGS, "mx_links": files.MX_LINKS}
    writers = {key: TableWriter(out, spec, writer_rng, corrupt, truth["corrupted"]) for key, spec in specs.items()}
    rec_rng = np.random.default_rng(streams[3])
    typo_rng = np.random.default_rng(streams[5])  # birth-date slips only (NodeRecords._mistype_births)
    people, vehicles, oneoff = PeopleTable(world), VehicleTable(world, rec_rng), OneOffNames(world)
    nodes = {}
    for country in ("US", "MX"):
        low = country.lower()
        nodes[country] = NodeRecords(country, world, rec_rng, people, vehicles, oneoff, {
            "person": writers[f"{low}_persons"], "vehicle": writers[f"{low}_vehicles"],
            "organization": writers[f"{low}_orgs"], "link": writers[f"{low}_links"]}, truth["identities"], typo_rng)
    us, mx = nodes["US"], nodes["MX"]
    ctx = Context(out, seed, scale, sc, rng, world, RouteModel(sc, world), PlaceTexts(sc), writers, truth, us, mx,
                  people)
    for cp in sc.p["checkpoints"]:
        ctx.checkpoints_by_sector.setdefault(cp["sector"], []).append(cp)

    from puente.simulate import cbp, drugs, firearms, precursors

    steps = [("cbp", cbp.cbp_seizures), ("interior", drugs.interior_seizures), ("mexico", drugs.mx_seizures),
             ("precursors", precursors.shipments), ("labs", precursors.lab_sites), ("firearms", firearms.traces),
             ("investigations", precursors.investigations)]
    for name, step in steps:
        if progress:
            progress(name)
        ctx.rng = np.random.default_rng(np.random.SeedSequence([seed, len(name), sum(map(ord, name))]))
        step(ctx)
    us.flush()
    mx.flush()
    _write_world_truth(ctx)
    _write_flows(ctx)
    for w in writers.values():
        w.close()
    counts = {key: t.rows for key, t in truth.items()}
    for t in truth.values():
        t.close()
    manifest = [{"file": w.spec.path, "profile": w.spec.profile, "country": w.spec.country, "kind": w.spec.kind,
                 "agency": w.spec.agency, "rows": w.rows, "corrupted": w.corrupted_count,
                 "description": w.spec.description} for w in writers.values()]
    _write_manifest(out, manifest)
    rows = sum(int(m["rows"]) for m in manifest)  # type: ignore[call-overload]
    return Summary(out, manifest, counts, time.monotonic() - started, rows)


def _write_manifest(out: Path, manifest: list[dict[str, object]]) -> None:
    with (out / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(manifest[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)


def read_manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write_world_truth(ctx: Context) -> None:
    world, sc = ctx.world, ctx.sc
    ctx.truth["entities"].write(pd.DataFrame(world.entity_rows()))
    for spec in world.structure.orgs:
        org = world.orgs[spec.id]
        ctx.truth["orgs"].add({
            "org_id": org.id, "name": org.name, "leader_id": org.leader,
            "leader_name": world.people[org.leader].full_name, "plazas": "|".join(org.plazas),
            "lieutenants": "|".join(org.lieutenants), "couriers": "|".join(org.couriers),
            "straw_purchasers": "|".join(org.straw), "front_companies": "|".join(org.fronts),
            "labs": "|".join(org.labs), "base_state": spec.base_state,
            "lab_places": "|".join(f"{m}, {s}" for m, s in spec.lab_places)})
    for shift in world.structure.shifts:
        ctx.truth["shifts"].add({k: shift[k] for k in ("shift_id", "type", "corridor", "port", "border_city",
                                                        "start_period", "weight_before", "weight_after",
                                                        "description")})
    found = [(lab.lat, lab.lon) for lab in world.labs.values() if lab.found >= 0]
    found_all = np.concatenate([np.array(found, dtype=float).reshape(-1, 2), *ctx.found_coords])
    for lab in world.labs.values():
        ctx.truth["labs"].add({
            "lab_id": lab.id, "org_id": lab.org, "municipality": lab.municipality, "state": lab.state,
            "lat": lab.lat, "lon": lab.lon, "lab_kind": lab.kind, "mark": lab.mark,
            "capacity_kg_month": lab.capacity, "start_period": sc.periods[lab.start],
            "found_period": sc.periods[lab.found] if lab.found >= 0 else "",
            "record_source_id": lab.record, "quiet": int(lab.quiet),
            "nearest_found_km": _nearest_km(lab.lat, lab.lon, found_all)})
    users: dict[tuple[str, str], list[str]] = {}
    for spec in world.structure.orgs:
        for place in spec.lab_places:
            users.setdefault(place, []).append(spec.id)
    for muni, state in world.structure.lab_pool:
        where = sc.place(f"{muni}, {state}", "MX")
        ctx.truth["lab_places"].add({
            "municipality": muni, "state": state, "lat": where.lat, "lon": where.lon,
            "orgs": "|".join(users.get((muni, state), [])), "quiet": int((muni, state) in world.structure.quiet),
            "quiet_center": int((muni, state) in world.structure.quiet_centers)})
    _write_chains(ctx)
    # calibration: the real series beside what was written
    real = sc.cbp_fentanyl.groupby(["period", "aor"], as_index=False).agg(real_pounds=("pounds", "sum"))
    sums = [ctx.cbp_sums.get((p, a), [0.0, 0]) for p, a in zip(real["period"], real["aor"])]
    ctx.truth["calibration"].write(real.assign(simulated_pounds=[round(s[0], 4) for s in sums],
                                               events=[int(s[1]) for s in sums]))


def _nearest_km(lat: float, lon: float, found: np.ndarray) -> float:
    """Distance (km) from a lab to the nearest dismantled lab other than itself (the other labs found included)."""
    others = found[(found[:, 0] != lat) | (found[:, 1] != lon)]
    if not len(others):
        return float("nan")
    a, b = np.radians(lat), np.radians(lon)
    c, d = np.radians(others[:, 0]), np.radians(others[:, 1])
    h = np.sin((c - a) / 2) ** 2 + np.cos(a) * np.cos(c) * np.sin((d - b) / 2) ** 2
    return round(float((2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(h, 1.0)))).min()), 1)


def _write_chains(ctx: Context) -> None:
    """Company owners as written, and one row per diverted shipment: shipment → front → owner → lab, with the
    records of each hop; ``linkable`` when the lab was dismantled and the owner detained there."""
    world = ctx.world
    owners = pd.DataFrame(ctx.mx.owners, columns=["company_id", "company_source_id", "person_id", "person_source_id",
                                                  "variant"])
    pt = ctx.people_table
    owners["role"] = "owner"
    owners["name_written"] = [" ".join(x for x in (pt.given[r, v], pt.s1[r, v], pt.s2[r, v]) if x) for r, v in
                              zip(pt.rows(owners["person_id"].to_numpy()), owners["variant"])] if len(owners) else []
    ctx.truth["company_people"].write(owners.drop(columns=["variant"]))
    if not ctx.diverted:
        return
    chains = pd.concat(ctx.diverted, ignore_index=True)
    chains["owner_id"] = [world.companies[c].owner for c in chains["front_company_id"]]
    owner_refs = owners.groupby("company_id")["person_source_id"].agg("|".join)
    chains["owner_source_ids"] = chains["front_company_id"].map(owner_refs).fillna("")
    chains["lab_source_id"] = [world.labs[lab].record for lab in chains["lab_id"]]
    people = ctx.lab_people_rows()
    arrested = people[people["person_id"] != ""].groupby(["lab_id", "person_id"])["person_source_id"].agg("|".join)
    keys = pd.MultiIndex.from_arrays([chains["lab_id"], chains["owner_id"]])
    chains["arrested_source_ids"] = arrested.reindex(keys).fillna("").to_numpy()
    chains["linkable"] = ((chains["lab_source_id"] != "") & (chains["arrested_source_ids"] != "")
                          & (chains["owner_source_ids"] != "")).astype(int)
    chains["cited"] = [ctx.cited.get((s, lab), "") for s, lab in zip(chains["source_id"], chains["lab_id"])]
    ctx.truth["chains"].write(chains)


def _write_flows(ctx: Context) -> None:
    """All loads of the period, seized or not (seized loads ÷ interdiction rate), routed like the seized
    ones: counts per (period, route) and per (period, lab), accumulated over chunks (bounded memory)."""
    sc, rng = ctx.sc, np.random.default_rng(np.random.SeedSequence([ctx.seed, 99]))
    total = round(ctx.counters.get("load", 0) / sc.rate("interdiction"))
    weights = ctx.routes.sw_monthly / ctx.routes.sw_monthly.sum()
    route_keys = ["period", "org", "border_city", "port", "corridor", "destination"]
    flows: pd.Series | None = None
    labs: pd.Series | None = None
    for start in range(0, total, 200_000):
        n = min(200_000, total - start)
        routes = ctx.routes.mx_routes(rng.choice(len(weights), size=n, p=weights), rng)
        routes["period"] = np.array(sc.periods)[routes["month"].to_numpy()]
        chunk = routes.groupby(route_keys).size()
        flows = chunk if flows is None else flows.add(chunk, fill_value=0)
        lab_chunk = routes.groupby(["period", "lab"]).size()
        labs = lab_chunk if labs is None else labs.add(lab_chunk, fill_value=0)
    if flows is not None and labs is not None:
        ctx.truth["flows"].write(flows.astype(np.int64).rename("loads").reset_index())
        ctx.truth["lab_output"].write(labs.astype(np.int64).rename("loads").reset_index())
