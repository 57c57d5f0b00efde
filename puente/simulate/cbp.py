"""U.S. CBP fentanyl seizures, calibrated to the real CBP series by area of responsibility and month.

Each (AOR, month) cell's pounds are split over its events (Dirichlet weights), so simulated monthly
totals by area equal the real ones up to rounding. Southwest field offices seize at their ports of
entry, Border Patrol sectors at their highway checkpoints, other offices at airports and mail
facilities. Some events are reported again by HSI; some port seizures are followed to the destination.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from puente.simulate.config import groups, maybe
from puente.simulate.drugs import (
    CHUNK,
    LB,
    US_CONVEYANCE,
    US_DRUG,
    US_NOTES,
    US_UNIT,
    arrests,
    blank,
    choice,
    city_labels,
    destination_texts,
    event_dates,
    marks,
    people_and_vehicles,
    report_dates,
    reported_destinations,
)

if TYPE_CHECKING:
    from puente.simulate.run import Context

# -- U.S. CBP ---------------------------------------------------------------------------------
def cbp_counts(ctx: Context) -> np.ndarray:
    cbp = ctx.sc.cbp_fentanyl
    k = ctx.sc.share("cbp_seizure") * ctx.scale / cbp["events"].sum()
    n = np.maximum(1, np.round(cbp["events"].to_numpy() * k)).astype(np.int64)
    out: np.ndarray = np.minimum(n, np.maximum(1, np.floor(cbp["pounds"].to_numpy() / 0.01))).astype(np.int64)
    return out


def cbp_seizures(ctx: Context) -> None:
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


def _cbp_chunk(ctx: Context, cells: pd.DataFrame, counts: np.ndarray) -> None:
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
            for j, sub in groups(chosen):
                cp = checkpoints[name][j]
                vols = np.array([sc.ports[c].volume for c in cp["ports"]], dtype=float)
                at = idx[sub]
                port[at] = rng.choice(np.array(cp["ports"], dtype=object), len(at), p=vols / vols.sum())
                place_canon[at] = cp["place"]
                port_text[at] = cp["name"]
        else:
            city, state = sc.aor_hq[name]
            setting[idx] = "mail"
            place_canon[idx] = f"{city}, {state}"
            port_text[idx] = name.title()
    loads = _loads(ctx, port, months, setting, place_canon)
    dates = event_dates(ctx, months)
    report, late = report_dates(ctx, dates)
    pills = loads["form"].to_numpy() == "pills"
    place_text, place_id = ctx.places.pick(place_canon, "US", rng)
    seq = ctx.next_ids("CBP", n)
    fy = (dates.astype("datetime64[M]").astype(int) % 12 >= 9) + dates.astype("datetime64[Y]").astype(int) + 1970
    refs = np.array([f"CBP-{y}-{s:07d}" for y, s in zip(fy, seq)], dtype=object)
    conveyance = np.empty(n, dtype=object)
    for kind in ("port", "checkpoint", "mail"):
        idx = np.flatnonzero(setting == kind)
        conveyance[idx] = choice(ctx, US_CONVEYANCE[kind], len(idx))
    agency = np.where(setting == "checkpoint", "USBP", "CBP OFO")
    arrested = arrests(ctx, n)
    # a parcel at a mail facility is already at its destination city: only moving loads state one
    moving = arrested[setting[arrested] != "mail"]
    stated, false = reported_destinations(ctx, loads, moving, np.where(setting == "mail", "", conveyance))
    loads["reported_destination"], loads["reported_false"] = stated, false.astype(np.int64)
    frame = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": agency,
        "drug": rng.choice(US_DRUG, n), "form": np.where(pills, "Pills", "Powder"), "quantity": np.round(lbs, 4),
        "unit": rng.choice(US_UNIT, n, p=[0.7, 0.2, 0.05, 0.05]),
        "purity": blank(ctx, np.round(rng.uniform(4, 40, n), 1), 0.7),
        "pill_stamp": maybe(pills, "M30"), "conveyance": blank(ctx, conveyance),
        "port": port_text, "destination": destination_texts(ctx, stated), "batch": marks(ctx, loads), "notes": blank(ctx, rng.choice(US_NOTES, n), 0.7),
        "aor": aor, "report_date": report,
    })
    ctx.writers["cbp"].write(frame)
    for (period, area), lb, count in zip(*_cell_sums(cells, cell, frame["quantity"].to_numpy())):
        acc = ctx.cbp_sums.setdefault((period, area), [0.0, 0])
        acc[0] += lb
        acc[1] += count
    loads["event_id"] = ctx.next_events(n)
    loads["outcome"] = "seized_" + setting.astype(str)
    loads["place_id"] = place_id
    loads["quantity_kg"] = lbs * LB
    ctx.truth["loads"].write(loads)
    reports = pd.DataFrame({"file": ctx.writers["cbp"].spec.path, "source_id": refs, "event_id": loads["event_id"],
                            "load_id": loads["load_id"], "agency": agency, "aor": aor, "second_report": 0,
                            "late_days": late})
    ctx.truth["reports"].write(reports)
    drove, drivers, vehicles = people_and_vehicles(ctx, ctx.us, loads, refs, conveyance, arrested)
    _controlled_deliveries(ctx, frame, loads, drove, drivers, vehicles)
    dup = rng.random(n) < ctx.sc.rate("duplicate_report")
    if dup.any():
        _second_reports(ctx, frame[dup], loads[dup], lbs[dup])


def _cell_sums(cells: pd.DataFrame, cell: np.ndarray, lbs: np.ndarray):  # type: ignore[no-untyped-def]
    keys = list(zip(cells["period"], cells["aor"]))
    return keys, np.bincount(cell, weights=lbs, minlength=len(cells)), np.bincount(cell, minlength=len(cells))


def _second_reports(ctx: Context, frame: pd.DataFrame, loads: pd.DataFrame, lbs: np.ndarray) -> None:
    """HSI reports some CBP events again, in kilograms, a few days later."""
    rng = ctx.rng
    n = len(frame)
    seq = ctx.next_ids("US-INT", n)
    refs = np.array([f"HSI-{s:08d}" for s in seq], dtype=object)
    out = frame.copy()
    out["source_id"] = refs
    out["agency"] = "HSI"
    kg = rng.random(n) < 0.6
    out["quantity"] = np.where(kg, np.round(lbs * LB, 4), np.round(lbs, 4))
    out["unit"] = np.where(kg, "kg", "lbs")
    out["notes"] = "joint case with CBP"
    report, late = report_dates(ctx, out["date"].to_numpy().astype("datetime64[D]"))
    out["report_date"] = report + np.timedelta64(20, "D")
    ctx.writers["interior"].write(out.drop(columns=["aor"]))
    ctx.truth["reports"].write(pd.DataFrame({
        "file": ctx.writers["interior"].spec.path, "source_id": refs, "event_id": loads["event_id"].to_numpy(),
        "load_id": loads["load_id"].to_numpy(), "agency": "HSI", "aor": frame["aor"].to_numpy(),
        "second_report": 1, "late_days": late + 20}))


def _loads(ctx: Context, port: np.ndarray, months: np.ndarray, setting: np.ndarray,
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
        labs = ctx.routes.labs_for(orgs, months[idx], rng)
        loads.loc[~has_port, "org"] = orgs
        loads.loc[~has_port, "lab"] = labs
        loads.loc[~has_port, "corridor"] = "air/mail"
        loads.loc[~has_port, "destination"] = [str(p).split(",")[0] for p in place_canon[idx]]
    loads["period"] = np.array(ctx.sc.periods)[months]
    loads["load_id"] = ctx.next_loads(n)
    loads["form"] = np.where(rng.random(n) < ctx.sc.rate("pill_share"), "pills", "powder")
    loads["seized_at"] = place_canon
    return loads


def _controlled_deliveries(ctx: Context, frame: pd.DataFrame, loads: pd.DataFrame, events: np.ndarray,
                           drivers: np.ndarray, vehicles: np.ndarray) -> None:
    """Some port seizures are followed to the destination: HSI seizes the rest of the load days later,
    arresting the same driver in the same vehicle (one load, two seizure events). HSI's report names the
    CBP case it continues, as a joint case's report does."""
    rng, sc = ctx.rng, ctx.sc
    keep = (loads["outcome"].to_numpy()[events] == "seized_port") & (rng.random(len(events)) < sc.rate("followup"))
    events, drivers, vehicles = events[keep], drivers[keep], vehicles[keep]
    n = len(events)
    if n == 0:
        return
    sub = loads.iloc[events].copy()
    canon = city_labels(sc, sub["destination"].to_numpy())
    place_text, place_id = ctx.places.pick(canon, "US", rng)
    dates = frame["date"].to_numpy()[events].astype("datetime64[D]") + rng.integers(1, 6, n)
    report, late = report_dates(ctx, dates)
    lbs = frame["quantity"].to_numpy()[events].astype(float) * rng.uniform(0.5, 3.0, n)
    refs = np.array([f"HSI-{s:08d}" for s in ctx.next_ids("US-INT", n)], dtype=object)
    out = pd.DataFrame({
        "source_id": refs, "date": dates, "place": place_text, "agency": "HSI",
        "drug": rng.choice(US_DRUG, n), "form": frame["form"].to_numpy()[events], "quantity": np.round(lbs, 4),
        "unit": "lb", "purity": None, "pill_stamp": frame["pill_stamp"].to_numpy()[events],
        "conveyance": frame["conveyance"].to_numpy()[events], "port": None, "destination": None,
        "batch": frame["batch"].to_numpy()[events],
        "notes": ["controlled delivery, CBP case " + ref for ref in frame["source_id"].to_numpy()[events]],
        "report_date": report})
    ctx.writers["interior"].write(out)
    sub["event_id"] = ctx.next_events(n)
    sub["reported_destination"], sub["reported_false"] = "", 0
    sub["outcome"] = "seized_interior"
    sub["seized_at"] = canon
    sub["place_id"] = place_id
    sub["quantity_kg"] = lbs * LB
    ctx.truth["loads"].write(sub)
    ctx.truth["reports"].write(pd.DataFrame({
        "file": ctx.writers["interior"].spec.path, "source_id": refs, "event_id": sub["event_id"],
        "load_id": sub["load_id"], "agency": "HSI", "aor": "", "second_report": 0, "late_days": late}))
    ctx.us.people(drivers, "seizure", refs, "driver")
    ctx.us.vehicles(vehicles, "seizure", refs)


