"""Fentanyl seizures in the U.S. interior and in Mexico, and what every seizure generator shares:
dates and report dates, blanks, lot marks, and the people and vehicles named in a seizure.

Every seizure is a drug load with a true route (lab, border city, port, corridor, destination),
written to truth/loads.csv; the calibrated CBP seizures are in :mod:`puente.simulate.cbp`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from puente.simulate.config import Scenario, groups, maybe

if TYPE_CHECKING:
    from puente.simulate.run import Context

LB = 0.45359237
CHUNK = 50_000
US_DRUG = np.array(["Fentanyl", "FENTANYL", "fentanyl", "Fentanyl HCl"], dtype=object)
US_UNIT = np.array(["lb", "lbs", "LBS", "pounds"], dtype=object)
_MX_DRUG_POWDER = np.array(["Fentanilo", "fentanilo", "FENTANILO", "fentanilo (polvo)"], dtype=object)
_MX_DRUG_PILLS = np.array(["Fentanilo", "fentanilo (pastillas)", "M30", "FENTANILO"], dtype=object)
US_CONVEYANCE = {"port": (["POV", "Passenger vehicle", "Commercial truck", "Pedestrian", "Bus"],
                           [0.62, 0.08, 0.12, 0.15, 0.03]),
                  "checkpoint": (["POV", "Passenger vehicle", "Tractor trailer", "Bus"], [0.55, 0.2, 0.2, 0.05]),
                  "mail": (["Mail", "Express consignment", "Aircraft", "Cargo"], [0.45, 0.35, 0.1, 0.1]),
                  "interior": (["POV", "Passenger vehicle", "Commercial truck", "Parcel"], [0.5, 0.3, 0.15, 0.05])}
_MX_CONVEYANCE = (["vehículo particular", "camioneta", "tractocamión", "autobús", "a pie", "paquetería"],
                  [0.35, 0.25, 0.15, 0.1, 0.05, 0.1])
_MANIFESTED = {"Commercial truck", "Tractor trailer", "tractocamión"}  # commercial cargo travels with a manifest
_VEHICLE_WORDS = {"POV", "Passenger vehicle", "Commercial truck", "Tractor trailer", "vehículo particular",
                  "camioneta", "tractocamión"}
US_NOTES = ["concealed in gas tank", "hidden in quarter panels", "in spare tire", "body carry", "in dashboard",
             "false floor", "K-9 alert", "secondary inspection", "NII scan anomaly"]
_MX_NOTES = ["oculto en tanque de gasolina", "en compartimento oculto", "revisión con rayos gamma",
             "detenido en flagrancia", "binomio canino", "puesta a disposición del MP"]


def event_dates(ctx: Context, months: np.ndarray) -> np.ndarray:
    sc, rng = ctx.sc, ctx.rng
    days = (rng.random(len(months)) * sc.month_days[months]).astype(np.int64)
    out: np.ndarray = sc.month_starts[months] + days
    return out


def report_dates(ctx: Context, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = ctx.rng
    late = rng.random(len(dates)) < ctx.sc.rate("late_report")
    lag = np.where(late, rng.integers(60, 400, len(dates)), rng.integers(0, 15, len(dates)))
    return dates + lag.astype("timedelta64[D]"), np.where(late, lag, 0)


def blank(ctx: Context, values: np.ndarray, rate: float | None = None) -> np.ndarray:
    rate = ctx.sc.rate("missing_optional") if rate is None else rate
    out = values.astype(object).copy()
    out[ctx.rng.random(len(out)) < rate] = None
    return out


def choice(ctx: Context, options: tuple[list[str], list[float]], n: int) -> np.ndarray:
    names, probs = options
    p = np.array(probs) / sum(probs)
    return ctx.rng.choice(np.array(names, dtype=object), size=n, p=p)


def city_labels(sc: Scenario, cities: np.ndarray) -> np.ndarray:
    states = sc.cities["state"].to_dict()
    return np.array([f"{c}, {states[c]}" for c in cities], dtype=object)


def marks(ctx: Context, loads: pd.DataFrame) -> np.ndarray:
    """The lot mark on a load's packages: its lab's logo and a lot number (written on a quarter of them)."""
    marks = np.array([f"{ctx.world.labs[lab].mark}/{lid[-4:]}" for lab, lid in zip(loads["lab"], loads["load_id"])],
                     dtype=object)
    marks[ctx.rng.random(len(marks)) > 0.25] = None
    return marks


def arrests(ctx: Context, n: int) -> np.ndarray:
    """The seizures (indices) where someone was arrested: the record names a driver or courier."""
    return np.flatnonzero(ctx.rng.random(n) < ctx.sc.rate("arrest_per_seizure"))


def reported_destinations(ctx: Context, loads: pd.DataFrame, arrested: np.ndarray, conveyance: np.ndarray,
                          border: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Where each seizure record says the load was going (the NSS destination field, the driver's stated
    destination, a manifest's consignee city): the canonical place stated ('' when none) and whether it is false.

    An arrested driver states a destination in ``destination_stated`` of cases; commercial cargo's manifest
    names a consignee city in ``destination_manifest`` of cases; ``destination_false`` of what is stated is a
    random other city (a lie, or the consignee of the cover cargo). ``border`` (Mexican seizures) marks the
    statements that name the border city the load was heading for, not the U.S. destination."""
    rng, sc = ctx.rng, ctx.sc
    n = len(loads)
    told = np.zeros(n, dtype=bool)
    told[arrested] = rng.random(len(arrested)) < sc.rate("destination_stated")
    told |= np.isin(conveyance, list(_MANIFESTED)) & (rng.random(n) < sc.rate("destination_manifest"))
    told &= loads["destination"].to_numpy() != ""
    false = told & (rng.random(n) < sc.rate("destination_false"))
    cities = sc.cities
    names = cities.index.to_numpy().astype(object)
    pick = rng.choice(len(names), n, p=(cities["population"] / cities["population"].sum()).to_numpy())
    lie = names[pick]
    lie = np.where(lie == loads["destination"].to_numpy(), names[(pick + 1) % len(names)], lie)
    stated = np.where(false, lie, loads["destination"].to_numpy())
    out = np.full(n, "", dtype=object)
    out[told] = city_labels(sc, stated[told])
    if border is not None:
        twins = sorted({f"{p.twin}, {p.twin_state}" for p in sc.ports.values()})
        at = told & border
        own = np.array([f"{c}, {sc.ports[p].twin_state}" for c, p in zip(loads["border_city"], loads["port"])],
                       dtype=object)
        other = np.array(twins, dtype=object)[rng.integers(0, len(twins), n)]
        out[at] = np.where(false[at] & (other[at] != own[at]), other[at], own[at])
        false[at] &= other[at] != own[at]
    return out, false & told


def destination_texts(ctx: Context, canon: np.ndarray, mexican: np.ndarray | None = None) -> np.ndarray:
    """Stated destinations as written (None where none): U.S. cities as agencies write them (in Mexican files
    always with the state, so that they resolve in the United States), Mexican border cities with variants."""
    out = np.full(len(canon), None, dtype=object)
    us = canon != ""
    if mexican is not None:
        us &= ~mexican
        at = np.flatnonzero((canon != "") & mexican)
        if len(at):
            out[at] = ctx.places.pick(canon[at], "MX", ctx.rng)[0]
    at = np.flatnonzero(us)
    if len(at):
        out[at] = ctx.places.pick(canon[at], "US", ctx.rng, exact=1.0 if mexican is not None else 0.5)[0]
    return out


def people_and_vehicles(ctx: Context, records: Any, loads: pd.DataFrame, refs: np.ndarray,
                         conveyance: np.ndarray, arrested: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who was arrested (an organisation's courier, or a one-off) and in which of its vehicles.
    Returns the events (indices) with a courier and a vehicle of an organisation, and those two."""
    rng, world = ctx.rng, ctx.world
    org = loads["org"].to_numpy()
    member = rng.random(len(arrested)) < ctx.sc.rate("org_courier_share")
    people = np.full(len(arrested), "", dtype=object)
    people[member] = world.pick(org[arrested[member]], "couriers", rng)
    roles = np.where(rng.random(len(arrested)) < 0.6, "driver", "arrested").astype(object)
    records.people(people, "seizure", refs[arrested], roles)
    with_vehicle = member & np.isin(conveyance[arrested], list(_VEHICLE_WORDS)) \
        & (rng.random(len(arrested)) < ctx.sc.rate("vehicle_per_seizure"))
    drove = arrested[with_vehicle]
    vehicles = world.pick(org[drove], "vehicles", rng)
    records.vehicles(vehicles, "seizure", refs[drove])
    return drove, people[with_vehicle], vehicles


# -- U.S. interior ----------------------------------------------------------------------------
def _in_monthly_chunks(ctx: Context, share: str, handle: Callable[[Context, np.ndarray], None]) -> None:
    """Draw the scenario's share of events, month by month as the southwest-border series weighs them,
    and hand them to ``handle`` in chunks of CHUNK sorted months (bounded memory)."""
    total = round(ctx.sc.share(share) * ctx.scale)
    weights = ctx.routes.sw_monthly / ctx.routes.sw_monthly.sum()
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        handle(ctx, np.sort(ctx.rng.choice(len(weights), size=n, p=weights)))


def interior_seizures(ctx: Context) -> None:
    _in_monthly_chunks(ctx, "us_interior_seizure", _interior_chunk)


def _interior_chunk(ctx: Context, months: np.ndarray) -> None:
    sc, rng = ctx.sc, ctx.rng
    n = len(months)
    ports = ctx.routes.national_ports(months, rng)
    routes = ctx.routes.complete(ports, months, rng)
    seized_city = routes["destination"].to_numpy().copy()
    on_the_way = np.flatnonzero(rng.random(n) >= 0.5)
    for name, sub in groups(routes["corridor"].to_numpy()[on_the_way]):
        waypoints = np.array(ctx.routes.corridors[name]["waypoints"], dtype=object)
        seized_city[on_the_way[sub]] = rng.choice(waypoints, len(sub))
    canon = city_labels(sc, seized_city)
    loads = routes.copy()
    loads["period"] = np.array(sc.periods)[months]
    loads["load_id"] = ctx.next_loads(n)
    loads["form"] = np.where(rng.random(n) < sc.rate("pill_share"), "pills", "powder")
    loads["seized_at"] = canon
    lbs = rng.lognormal(0.3, 1.2, n)
    dates = event_dates(ctx, months)
    report, late = report_dates(ctx, dates)
    agencies = np.array(sc.p["agencies"]["us_interior"], dtype=object)
    agency = rng.choice(agencies, n)
    kg = (agency == "DEA") & (rng.random(n) < 0.5)
    place_text, place_id = ctx.places.pick(canon, "US", rng)
    seq = ctx.next_ids("US-INT", n)
    refs = np.array([f"{a.split(' ')[0].upper()}-{s:08d}" for a, s in zip(agency, seq)], dtype=object)
    pills = loads["form"].to_numpy() == "pills"
    conveyance = choice(ctx, US_CONVEYANCE["interior"], n)
    arrested = arrests(ctx, n)
    stated, false = reported_destinations(ctx, loads, arrested, conveyance)
    loads["reported_destination"], loads["reported_false"] = stated, false.astype(np.int64)
    frame = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": agency,
        "drug": rng.choice(US_DRUG, n), "form": np.where(pills, "pills", "powder"),
        "quantity": np.round(np.where(kg, lbs * LB, lbs), 4), "unit": np.where(kg, "kg", "lb"),
        "purity": blank(ctx, np.round(rng.uniform(4, 40, n), 1), 0.8),
        "pill_stamp": maybe(pills, "M30"), "conveyance": blank(ctx, conveyance), "port": None,
        "destination": destination_texts(ctx, stated), "batch": marks(ctx, loads), "notes": blank(ctx, rng.choice(US_NOTES, n), 0.8), "report_date": report,
    })
    ctx.writers["interior"].write(frame)
    loads["event_id"] = ctx.next_events(n)
    loads["outcome"] = "seized_interior"
    loads["place_id"] = place_id
    loads["quantity_kg"] = lbs * LB
    ctx.truth["loads"].write(loads)
    ctx.truth["reports"].write(pd.DataFrame({
        "file": ctx.writers["interior"].spec.path, "source_id": refs, "event_id": loads["event_id"],
        "load_id": loads["load_id"], "agency": agency, "aor": "", "second_report": 0, "late_days": late}))
    people_and_vehicles(ctx, ctx.us, loads, refs, conveyance, arrested)


# -- Mexico -------------------------------------------------------------------------------------
def mx_seizures(ctx: Context) -> None:
    _in_monthly_chunks(ctx, "mx_seizure", _mx_chunk)


def _mx_chunk(ctx: Context, months: np.ndarray) -> None:
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    n = len(months)
    loads = ctx.routes.mx_routes(months, rng)
    stage = rng.choice(np.array(["lab", "south", "transit", "border"]), n, p=[0.25, 0.15, 0.3, 0.3])
    transit = sc.p["mx_transit"]
    city = loads["border_city"].to_numpy()
    canon = np.array([f"{c}, {sc.ports[p].twin_state}" for c, p in zip(city, loads["port"])], dtype=object)
    for lab_id, sub in groups(loads["lab"].to_numpy()[stage == "lab"]):
        lab = world.labs[lab_id]
        canon[np.flatnonzero(stage == "lab")[sub]] = f"{lab.municipality}, {lab.state}"
    south = np.flatnonzero(stage == "south")
    south_places, south_p = ctx.places.by_population(transit["_south"], "MX")
    canon[south] = rng.choice(south_places, len(south), p=south_p)
    on_road = np.flatnonzero(stage == "transit")
    for border, sub in groups(city[on_road]):
        if border in transit:
            canon[on_road[sub]] = rng.choice(np.array(transit[border], dtype=object), len(sub))
    loads["period"] = np.array(sc.periods)[months]
    loads["load_id"] = ctx.next_loads(n)
    pills = rng.random(n) < sc.rate("pill_share")
    loads["form"] = np.where(pills, "pills", "powder")
    loads["seized_at"] = canon
    kg = rng.lognormal(0.8, 1.3, n)
    pill_count = np.maximum(10, np.round(kg / sc.rate("pill_kg") / 20)).astype(np.int64)
    true_kg = np.where(pills, pill_count * sc.rate("pill_kg"), kg)
    dates = event_dates(ctx, months)
    report, late = report_dates(ctx, dates)
    agency = rng.choice(np.array(sc.p["agencies"]["mx_seizure"], dtype=object), n, p=[0.4, 0.3, 0.2, 0.1])
    place_text, place_id = ctx.places.pick(canon, "MX", rng)
    seq = ctx.next_ids("MX", n)
    refs = np.array([f"{a.replace(' ', '')[:6].upper()}/{d.astype('datetime64[Y]')}/{s:07d}"
                     for a, d, s in zip(agency, dates, seq)], dtype=object)
    conveyance = choice(ctx, _MX_CONVEYANCE, n)
    arrested = arrests(ctx, n)
    to_border = rng.random(n) < sc.rate("destination_border_city")
    stated, false = reported_destinations(ctx, loads, arrested, conveyance, to_border)
    loads["reported_destination"], loads["reported_false"] = stated, false.astype(np.int64)
    quantity = np.where(pills, pill_count.astype(float), np.round(kg, 3))
    unit = np.where(pills, rng.choice(np.array(["pastillas", "piezas", "pzas"]), n),
                    rng.choice(np.array(["kg", "kilogramos", "Kg."]), n))
    frame = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": agency,
        "drug": np.where(pills, rng.choice(_MX_DRUG_PILLS, n), rng.choice(_MX_DRUG_POWDER, n)),
        "form": np.where(pills, "pastillas", "polvo"), "quantity": quantity, "unit": unit,
        "purity": None, "pill_stamp": maybe(pills, "M30"), "conveyance": blank(ctx, conveyance),
        "port": None, "destination": destination_texts(ctx, stated, to_border), "batch": marks(ctx, loads),
        "notes": blank(ctx, rng.choice(_MX_NOTES, n), 0.6),
        "report_date": report,
    })
    ctx.writers["mx_seizures"].write(frame)
    loads["event_id"] = ctx.next_events(n)
    loads["outcome"] = "seized_mx"
    loads["place_id"] = place_id
    loads["quantity_kg"] = true_kg
    ctx.truth["loads"].write(loads)
    ctx.truth["reports"].write(pd.DataFrame({
        "file": ctx.writers["mx_seizures"].spec.path, "source_id": refs, "event_id": loads["event_id"],
        "load_id": loads["load_id"], "agency": agency, "aor": "", "second_report": 0, "late_days": late}))
    people_and_vehicles(ctx, ctx.mx, loads, refs, conveyance, arrested)
    dup = rng.random(n) < sc.rate("duplicate_report")
    if dup.any():
        out = frame[dup].copy()
        seq = ctx.next_ids("MX", len(out))
        out["source_id"] = [f"FGR/{str(d)[:4]}/{s:07d}" for d, s in zip(out["date"].to_numpy(), seq)]
        out["agency"] = "FGR"
        out["notes"] = "puesta a disposición por " + frame["agency"][dup]
        out["report_date"] = out["report_date"] + pd.Timedelta(days=10)
        ctx.writers["mx_seizures"].write(out)
        ctx.truth["reports"].write(pd.DataFrame({
            "file": ctx.writers["mx_seizures"].spec.path, "source_id": out["source_id"].to_numpy(),
            "event_id": loads["event_id"].to_numpy()[dup], "load_id": loads["load_id"].to_numpy()[dup],
            "agency": "FGR", "aor": "", "second_report": 1, "late_days": late[dup] + 10}))
