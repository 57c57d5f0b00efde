"""Fentanyl seizures: U.S. CBP (calibrated), U.S. interior, and Mexican, with the loads behind them.

CBP seizures are generated cell by cell from the real CBP series (area of responsibility × month):
each cell's pounds are split over its events (Dirichlet weights), so simulated monthly totals by
area equal the real ones up to rounding. Every seizure is a drug load with a true route (lab,
border city, port, corridor, destination), written to truth/loads.csv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from puente.simulate.run import Context

_LB = 0.45359237
CHUNK = 50_000
_US_DRUG = np.array(["Fentanyl", "FENTANYL", "fentanyl", "Fentanyl HCl"], dtype=object)
_US_UNIT = np.array(["lb", "lbs", "LBS", "pounds"], dtype=object)
_MX_DRUG_POWDER = np.array(["Fentanilo", "fentanilo", "FENTANILO", "fentanilo (polvo)"], dtype=object)
_MX_DRUG_PILLS = np.array(["Fentanilo", "fentanilo (pastillas)", "M30", "FENTANILO"], dtype=object)
_US_CONVEYANCE = {"port": (["POV", "Passenger vehicle", "Commercial truck", "Pedestrian", "Bus"],
                           [0.62, 0.08, 0.12, 0.15, 0.03]),
                  "checkpoint": (["POV", "Passenger vehicle", "Tractor trailer", "Bus"], [0.55, 0.2, 0.2, 0.05]),
                  "mail": (["Mail", "Express consignment", "Aircraft", "Cargo"], [0.45, 0.35, 0.1, 0.1]),
                  "interior": (["POV", "Passenger vehicle", "Commercial truck", "Parcel"], [0.5, 0.3, 0.15, 0.05])}
_MX_CONVEYANCE = (["vehículo particular", "camioneta", "tractocamión", "autobús", "a pie", "paquetería"],
                  [0.35, 0.25, 0.15, 0.1, 0.05, 0.1])
_VEHICLE_WORDS = {"POV", "Passenger vehicle", "Commercial truck", "Tractor trailer", "vehículo particular",
                  "camioneta", "tractocamión"}
_US_NOTES = ["concealed in gas tank", "hidden in quarter panels", "in spare tire", "body carry", "in dashboard",
             "false floor", "K-9 alert", "secondary inspection", "NII scan anomaly"]
_MX_NOTES = ["oculto en tanque de gasolina", "en compartimento oculto", "revisión con rayos gamma",
             "detenido en flagrancia", "binomio canino", "puesta a disposición del MP"]


def _dates(ctx: "Context", months: np.ndarray) -> np.ndarray:
    sc, rng = ctx.sc, ctx.rng
    days = (rng.random(len(months)) * sc.month_days[months]).astype(np.int64)
    return sc.month_starts[months] + days


def _report_dates(ctx: "Context", dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = ctx.rng
    late = rng.random(len(dates)) < ctx.sc.rate("late_report")
    lag = np.where(late, rng.integers(60, 400, len(dates)), rng.integers(0, 15, len(dates)))
    return dates + lag.astype("timedelta64[D]"), np.where(late, lag, 0)


def _blank(ctx: "Context", values: np.ndarray, rate: float | None = None) -> np.ndarray:
    rate = ctx.sc.rate("missing_optional") if rate is None else rate
    out = values.astype(object).copy()
    out[ctx.rng.random(len(out)) < rate] = None
    return out


def _choice(ctx: "Context", options: tuple[list[str], list[float]], n: int) -> np.ndarray:
    names, probs = options
    p = np.array(probs) / sum(probs)
    return ctx.rng.choice(np.array(names, dtype=object), size=n, p=p)


# -- U.S. CBP ---------------------------------------------------------------------------------
def cbp_counts(ctx: "Context") -> np.ndarray:
    cbp = ctx.sc.cbp_fentanyl
    k = ctx.sc.share("cbp_seizure") * ctx.scale / cbp["events"].sum()
    n = np.maximum(1, np.round(cbp["events"].to_numpy() * k)).astype(np.int64)
    return np.minimum(n, np.maximum(1, np.floor(cbp["pounds"].to_numpy() / 0.01))).astype(np.int64)


def cbp_seizures(ctx: "Context") -> None:
    cbp = ctx.sc.cbp_fentanyl
    counts = cbp_counts(ctx)
    start = 0
    while start < len(cbp):
        stop = start
        total = 0
        while stop < len(cbp) and (total == 0 or total + counts[stop] <= CHUNK):
            total += counts[stop]
            stop += 1
        _cbp_chunk(ctx, cbp.iloc[start:stop], counts[start:stop])
        start = stop


def _cbp_chunk(ctx: "Context", cells: pd.DataFrame, counts: np.ndarray) -> None:
    sc, rng = ctx.sc, ctx.rng
    cell = np.repeat(np.arange(len(cells)), counts)
    n = len(cell)
    aor = cells["aor"].to_numpy()[cell]
    months = np.array([sc.periods.index(p) for p in cells["period"]])[cell]
    w = rng.gamma(1.2, size=n)
    sums = np.bincount(cell, weights=w, minlength=len(cells))
    lbs = w / sums[cell] * cells["pounds"].to_numpy()[cell]
    setting = np.empty(n, dtype=object)
    port = np.full(n, "", dtype=object)
    place_canon = np.empty(n, dtype=object)
    port_text = np.empty(n, dtype=object)
    checkpoints = ctx.checkpoints_by_sector
    for name in np.unique(aor):
        idx = np.flatnonzero(aor == name)
        if name in ctx.routes.aor_ports:
            codes = ctx.routes.ports_in_aor(name, months[idx], rng)
            port[idx] = codes
            setting[idx] = "port"
            place_canon[idx] = [f"{sc.ports[c].name}, {sc.ports[c].state}" for c in codes]
            port_text[idx] = [ctx.port_text(c, rng) for c in codes]
        elif name in checkpoints:
            chosen = rng.integers(0, len(checkpoints[name]), len(idx))
            setting[idx] = "checkpoint"
            for j, i in zip(chosen, idx):
                cp = checkpoints[name][j]
                vols = np.array([sc.ports[c].volume for c in cp["ports"]], dtype=float)
                port[i] = str(rng.choice(cp["ports"], p=vols / vols.sum()))
                place_canon[i] = cp["place"]
                port_text[i] = cp["name"]
        else:
            city, state = sc.aor_hq[name]
            setting[idx] = "mail"
            place_canon[idx] = f"{city}, {state}"
            port_text[idx] = name.title()
    loads = _loads(ctx, port, months, setting, place_canon)
    dates = _dates(ctx, months)
    report, late = _report_dates(ctx, dates)
    pills = loads["form"].to_numpy() == "pills"
    place_text, place_id = ctx.places.pick(place_canon, "US", rng)
    seq = ctx.next_ids("CBP", n)
    fy = (dates.astype("datetime64[M]").astype(int) % 12 >= 9) + dates.astype("datetime64[Y]").astype(int) + 1970
    refs = np.array([f"CBP-{y}-{s:07d}" for y, s in zip(fy, seq)], dtype=object)
    conveyance = np.empty(n, dtype=object)
    for kind in ("port", "checkpoint", "mail"):
        idx = np.flatnonzero(setting == kind)
        conveyance[idx] = _choice(ctx, _US_CONVEYANCE[kind], len(idx))
    agency = np.where(setting == "checkpoint", "USBP", "CBP OFO")
    frame = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": agency,
        "drug": rng.choice(_US_DRUG, n), "form": np.where(pills, "Pills", "Powder"), "quantity": np.round(lbs, 4),
        "unit": rng.choice(_US_UNIT, n, p=[0.7, 0.2, 0.05, 0.05]),
        "purity": _blank(ctx, np.round(rng.uniform(4, 40, n), 1), 0.7),
        "pill_stamp": np.where(pills, "M30", None), "conveyance": _blank(ctx, conveyance),
        "port": port_text, "batch": _marks(ctx, loads), "notes": _blank(ctx, rng.choice(_US_NOTES, n), 0.7),
        "aor": aor, "report_date": report,
    })
    ctx.writers["cbp"].write(frame)
    loads["event_id"] = ctx.next_events(n)
    loads["outcome"] = "seized_" + setting.astype(str)
    loads["place_id"] = place_id
    loads["quantity_kg"] = lbs * _LB
    ctx.truth["loads"].write(loads)
    reports = pd.DataFrame({"file": ctx.writers["cbp"].spec.path, "source_id": refs, "event_id": loads["event_id"],
                            "load_id": loads["load_id"], "agency": agency, "aor": aor, "second_report": 0,
                            "late_days": late})
    ctx.truth["reports"].write(reports)
    _people_and_vehicles(ctx, ctx.us, loads, refs, conveyance)
    dup = rng.random(n) < ctx.sc.rate("duplicate_report")
    if dup.any():
        _second_reports(ctx, frame[dup], loads[dup], lbs[dup])


def _second_reports(ctx: "Context", frame: pd.DataFrame, loads: pd.DataFrame, lbs: np.ndarray) -> None:
    """HSI reports some CBP events again, in kilograms, a few days later."""
    rng = ctx.rng
    n = len(frame)
    seq = ctx.next_ids("US-INT", n)
    refs = np.array([f"HSI-{s:08d}" for s in seq], dtype=object)
    out = frame.copy()
    out["source_id"] = refs
    out["agency"] = "HSI"
    kg = rng.random(n) < 0.6
    out["quantity"] = np.where(kg, np.round(lbs * _LB, 4), np.round(lbs, 4))
    out["unit"] = np.where(kg, "kg", "lbs")
    out["notes"] = "joint case with CBP"
    report, late = _report_dates(ctx, out["date"].to_numpy().astype("datetime64[D]"))
    out["report_date"] = report + np.timedelta64(20, "D")
    ctx.writers["interior"].write(out.drop(columns=["aor"]))
    ctx.truth["reports"].write(pd.DataFrame({
        "file": ctx.writers["interior"].spec.path, "source_id": refs, "event_id": loads["event_id"].to_numpy(),
        "load_id": loads["load_id"].to_numpy(), "agency": "HSI", "aor": frame["aor"].to_numpy(),
        "second_report": 1, "late_days": late + 20}))


def _loads(ctx: "Context", port: np.ndarray, months: np.ndarray, setting: np.ndarray,
           place_canon: np.ndarray) -> pd.DataFrame:
    rng = ctx.rng
    n = len(port)
    has_port = port != ""
    loads = pd.DataFrame({"org": np.empty(n, dtype=object), "lab": np.empty(n, dtype=object),
                          "border_city": "", "port": "", "corridor": "", "destination": "", "month": months})
    if has_port.any():
        routes = ctx.routes.complete(port[has_port], months[has_port], rng)
        loads.loc[has_port, routes.columns] = routes.to_numpy()
    if (~has_port).any():
        idx = np.flatnonzero(~has_port)
        orgs = rng.choice(list(ctx.world.orgs), len(idx))
        labs = np.empty(len(idx), dtype=object)
        ctx.routes._labs(orgs, months[idx], labs, rng)
        loads.loc[~has_port, "org"] = orgs
        loads.loc[~has_port, "lab"] = labs
        loads.loc[~has_port, "corridor"] = "air/mail"
        loads.loc[~has_port, "destination"] = [str(p).split(",")[0] for p in place_canon[idx]]
    loads["period"] = np.array(ctx.sc.periods)[months]
    loads["load_id"] = ctx.next_loads(n)
    loads["form"] = np.where(rng.random(n) < ctx.sc.rate("pill_share"), "pills", "powder")
    loads["seized_at"] = place_canon
    return loads


def _marks(ctx: "Context", loads: pd.DataFrame) -> np.ndarray:
    marks = np.array([ctx.world.labs[lab].mark for lab in loads["lab"]], dtype=object)
    marks[ctx.rng.random(len(marks)) > 0.25] = None
    return marks


def _people_and_vehicles(ctx: "Context", records: Any, loads: pd.DataFrame, refs: np.ndarray,
                         conveyance: np.ndarray) -> None:
    rng, world = ctx.rng, ctx.world
    n = len(refs)
    arrest = rng.random(n) < ctx.sc.rate("arrest_per_seizure")
    member = rng.random(n) < ctx.sc.rate("org_courier_share")
    people, person_refs, vehicles, vehicle_refs = [], [], [], []
    for i in np.flatnonzero(arrest):
        org = world.orgs[loads["org"].iat[i]]
        people.append(str(rng.choice(org.couriers)) if member[i] else "")
        person_refs.append(refs[i])
        if member[i] and conveyance[i] in _VEHICLE_WORDS and rng.random() < ctx.sc.rate("vehicle_per_seizure"):
            vehicles.append(str(rng.choice(org.vehicles)))
            vehicle_refs.append(refs[i])
    roles = ["driver" if rng.random() < 0.6 else "arrested" for _ in people]
    for role in ("driver", "arrested"):
        sel = [j for j, r in enumerate(roles) if r == role]
        records.people([people[j] for j in sel], "seizure", [person_refs[j] for j in sel], role)
    records.vehicles(vehicles, "seizure", vehicle_refs)


# -- U.S. interior ----------------------------------------------------------------------------
def interior_seizures(ctx: "Context") -> None:
    total = int(round(ctx.sc.share("us_interior_seizure") * ctx.scale))
    weights = ctx.routes.sw_monthly / ctx.routes.sw_monthly.sum()
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        months = np.sort(ctx.rng.choice(len(weights), size=n, p=weights))
        _interior_chunk(ctx, months)


def _interior_chunk(ctx: "Context", months: np.ndarray) -> None:
    sc, rng = ctx.sc, ctx.rng
    n = len(months)
    ports = ctx.routes.national_ports(months, rng)
    routes = ctx.routes.complete(ports, months, rng)
    at_dest = rng.random(n) < 0.5
    seized_city = np.empty(n, dtype=object)
    for i in range(n):
        corridor = sc.p["corridors"][routes["corridor"].iat[i]]
        seized_city[i] = routes["destination"].iat[i] if at_dest[i] else str(rng.choice(corridor["waypoints"]))
    canon = np.array([f"{c}, {sc.cities.loc[c, 'state']}" for c in seized_city], dtype=object)
    loads = routes.copy()
    loads["period"] = np.array(sc.periods)[months]
    loads["load_id"] = ctx.next_loads(n)
    loads["form"] = np.where(rng.random(n) < sc.rate("pill_share"), "pills", "powder")
    loads["seized_at"] = canon
    lbs = rng.lognormal(0.3, 1.2, n)
    dates = _dates(ctx, months)
    report, late = _report_dates(ctx, dates)
    agencies = np.array(sc.p["agencies"]["us_interior"], dtype=object)
    agency = rng.choice(agencies, n)
    kg = (agency == "DEA") & (rng.random(n) < 0.5)
    place_text, place_id = ctx.places.pick(canon, "US", rng)
    seq = ctx.next_ids("US-INT", n)
    refs = np.array([f"{a.split(' ')[0].upper()}-{s:08d}" for a, s in zip(agency, seq)], dtype=object)
    pills = loads["form"].to_numpy() == "pills"
    conveyance = _choice(ctx, _US_CONVEYANCE["interior"], n)
    frame = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": agency,
        "drug": rng.choice(_US_DRUG, n), "form": np.where(pills, "pills", "powder"),
        "quantity": np.round(np.where(kg, lbs * _LB, lbs), 4), "unit": np.where(kg, "kg", "lb"),
        "purity": _blank(ctx, np.round(rng.uniform(4, 40, n), 1), 0.8),
        "pill_stamp": np.where(pills, "M30", None), "conveyance": _blank(ctx, conveyance), "port": None,
        "batch": _marks(ctx, loads), "notes": _blank(ctx, rng.choice(_US_NOTES, n), 0.8), "report_date": report,
    })
    ctx.writers["interior"].write(frame)
    loads["event_id"] = ctx.next_events(n)
    loads["outcome"] = "seized_interior"
    loads["place_id"] = place_id
    loads["quantity_kg"] = lbs * _LB
    ctx.truth["loads"].write(loads)
    ctx.truth["reports"].write(pd.DataFrame({
        "file": ctx.writers["interior"].spec.path, "source_id": refs, "event_id": loads["event_id"],
        "load_id": loads["load_id"], "agency": agency, "aor": "", "second_report": 0, "late_days": late}))
    _people_and_vehicles(ctx, ctx.us, loads, refs, conveyance)


# -- Mexico -------------------------------------------------------------------------------------
def mx_seizures(ctx: "Context") -> None:
    total = int(round(ctx.sc.share("mx_seizure") * ctx.scale))
    weights = ctx.routes.sw_monthly / ctx.routes.sw_monthly.sum()
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        months = np.sort(ctx.rng.choice(len(weights), size=n, p=weights))
        _mx_chunk(ctx, months)


def _mx_chunk(ctx: "Context", months: np.ndarray) -> None:
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    n = len(months)
    loads = ctx.routes.mx_routes(months, rng)
    stage = rng.choice(np.array(["lab", "south", "transit", "border"]), n, p=[0.25, 0.15, 0.3, 0.3])
    canon = np.empty(n, dtype=object)
    transit = sc.p["mx_transit"]
    for i in range(n):
        city = loads["border_city"].iat[i]
        if stage[i] == "lab":
            lab = world.labs[loads["lab"].iat[i]]
            canon[i] = f"{lab.municipality}, {lab.state}"
        elif stage[i] == "south":
            canon[i] = str(rng.choice(transit["_south"]))
        elif stage[i] == "transit" and city in transit:
            canon[i] = str(rng.choice(transit[city]))
        else:
            canon[i] = f"{city}, {sc.ports[loads['port'].iat[i]].twin_state}"
    loads["period"] = np.array(sc.periods)[months]
    loads["load_id"] = ctx.next_loads(n)
    pills = rng.random(n) < sc.rate("pill_share")
    loads["form"] = np.where(pills, "pills", "powder")
    loads["seized_at"] = canon
    kg = rng.lognormal(0.8, 1.3, n)
    pill_count = np.maximum(10, np.round(kg / sc.rate("pill_kg") / 20)).astype(np.int64)
    true_kg = np.where(pills, pill_count * sc.rate("pill_kg"), kg)
    dates = _dates(ctx, months)
    report, late = _report_dates(ctx, dates)
    agency = rng.choice(np.array(sc.p["agencies"]["mx_seizure"], dtype=object), n, p=[0.4, 0.3, 0.2, 0.1])
    place_text, place_id = ctx.places.pick(canon, "MX", rng)
    seq = ctx.next_ids("MX", n)
    refs = np.array([f"{a.replace(' ', '')[:6].upper()}/{d.astype('datetime64[Y]')}/{s:07d}"
                     for a, d, s in zip(agency, dates, seq)], dtype=object)
    conveyance = _choice(ctx, _MX_CONVEYANCE, n)
    quantity = np.where(pills, pill_count.astype(float), np.round(kg, 3))
    unit = np.where(pills, rng.choice(np.array(["pastillas", "piezas", "pzas"]), n),
                    rng.choice(np.array(["kg", "kilogramos", "Kg."]), n))
    frame = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": agency,
        "drug": np.where(pills, rng.choice(_MX_DRUG_PILLS, n), rng.choice(_MX_DRUG_POWDER, n)),
        "form": np.where(pills, "pastillas", "polvo"), "quantity": quantity, "unit": unit,
        "purity": None, "pill_stamp": np.where(pills, "M30", None), "conveyance": _blank(ctx, conveyance),
        "port": None, "batch": _marks(ctx, loads), "notes": _blank(ctx, rng.choice(_MX_NOTES, n), 0.6),
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
    _people_and_vehicles(ctx, ctx.mx, loads, refs, conveyance)
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
