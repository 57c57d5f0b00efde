"""Firearms bought at U.S. dealers by straw purchasers, smuggled south, recovered in Mexico and traced."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from puente.simulate.config import groups, maybe
from puente.simulate.records import serial_variant

if TYPE_CHECKING:
    from puente.simulate.config import Scenario
    from puente.simulate.run import Context

CHUNK = 50_000
_TYPE_ES = {"rifle": "fusil", "pistol": "pistola", "shotgun": "escopeta", "revolver": "revólver"}
_STATE_NAMES = {"Sinaloa": "Sinaloa", "Sonora": "Sonora", "Jalisco": "Jalisco", "Michoacán de Ocampo": "Michoacan",
                "Baja California": "Baja California", "Chihuahua": "Chihuahua", "Tamaulipas": "Tamaulipas",
                "Coahuila de Zaragoza": "Coahuila", "Nuevo León": "Nuevo Leon"}


def _serials(make: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Serial numbers in each maker's style (Glock ABC123, Romarm 1-AB1234-19, Colt LE123456, ...)."""
    n = len(make)
    letters = rng.choice(np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"), dtype=object), (n, 3))
    digits = rng.integers(0, 10**6, n)
    years = rng.integers(10, 22, n)
    out = np.empty(n, dtype=object)
    for i in range(n):
        a, b, c = letters[i]
        m = make[i]
        if m == "GLOCK":
            out[i] = f"{a}{b}{c}{digits[i] % 1000:03d}"
        elif m == "ROMARM/CUGIR":
            out[i] = f"1-{a}{b}{digits[i] % 10000:04d}-{years[i]}"
        elif m == "COLT":
            out[i] = f"LE{digits[i]:06d}"
        else:
            out[i] = f"{a}{b}{digits[i]:06d}"
    return out


def traces(ctx: Context) -> None:
    total = round(ctx.sc.share("firearm_trace") * ctx.scale)
    done = 0
    while done < total:
        n = min(CHUNK, total - done)
        _chunk(ctx, n)
        done += n


def _chunk(ctx: Context, n: int) -> None:
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    models = sc.p["firearm_models"]
    mw = np.array([m["weight"] for m in models], dtype=float)
    # sales: one gun, or a multiple sale of 2-4 guns the same day at the same dealer
    sizes = np.where(rng.random(n) < sc.rate("multiple_sale"), rng.integers(2, 5, n), 1)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    sizes = sizes[sizes > 0]
    sale = np.repeat(np.arange(len(sizes)), sizes)
    sale_ids = ctx.next_ids("sale", len(sizes))
    trafficked_sale = rng.random(len(sizes)) < sc.rate("trafficked_gun")
    orgs = list(world.orgs)
    sale_org = np.where(trafficked_sale, rng.choice(np.array(orgs, dtype=object), len(sizes)), "")
    sale_buyer = np.full(len(sizes), "", dtype=object)
    sale_buyer[trafficked_sale] = world.pick(sale_org[trafficked_sale], "straw", rng)
    # straw purchasers buy from dealers in their own state; other guns were bought anywhere
    sale_ffl = rng.choice(np.array(world.ffls, dtype=object), len(sizes))
    home = np.array([world.people[b].state if b else "" for b in sale_buyer], dtype=object)
    for state, idx in groups(home[home != ""]):
        local = np.flatnonzero(home != "")[idx]
        sale_ffl[local] = rng.choice(np.array(world.ffls_by_state[state], dtype=object), len(local))
    last = int((sc.month_starts[-1] + sc.month_days[-1] - 1).astype(np.int64))
    first = int(sc.month_starts[0].astype(np.int64))
    recovery_target = rng.integers(first, last + 1, len(sizes))
    ttc_sale = np.minimum(rng.lognormal(6.0, 0.9, len(sizes)).astype(np.int64), 6000) + 5
    purchase = recovery_target - ttc_sale
    # guns of one sale turn up around the same time (weeks apart), never before they were bought
    recovery = np.minimum(recovery_target[sale] + np.abs(rng.normal(0, 45, n)).astype(np.int64), last)
    model_idx = rng.choice(len(models), n, p=mw / mw.sum())
    make = np.array([m["make"] for m in models], dtype=object)[model_idx]
    model = np.array([m["model"] for m in models], dtype=object)[model_idx]
    caliber = np.array([m["caliber"] for m in models], dtype=object)[model_idx]
    wtype = np.array([m["type"] for m in models], dtype=object)[model_idx]
    serials = _serials(make, rng)
    gun_ids = np.array([f"GUN-{i:08d}" for i in ctx.next_ids("gun", n)], dtype=object)
    # where guns turn up: mostly the buying organisation's plazas, else the big northern cities
    org = sale_org[sale]
    default_places, default_p = ctx.places.by_population(_DEFAULT_PLACES, "MX")
    places = rng.choice(default_places, n, p=default_p)
    for oid in np.unique(org[org != ""]):
        idx = np.flatnonzero((org == oid) & (rng.random(n) < 0.8))
        plazas = np.array([f"{city}, {_twin_state(sc, city)}" for city in world.orgs[oid].plazas], dtype=object)
        places[idx] = rng.choice(plazas, len(idx))
    place_text, place_id = ctx.places.pick(places, "MX", rng, exact=0.3)
    english = {p: _english_place(p) for p in np.unique(places)}
    us_place = np.array([english[p] for p in places], dtype=object)
    buyer = sale_buyer[sale]
    status = np.where(rng.random(n) < 0.88, "Completed", np.where(rng.random(n) < 0.5, "Pending", "Not traceable"))
    complete = status == "Completed"
    ffl = sale_ffl[sale]
    ffl_number = np.array([world.companies[f].tax_id for f in ffl], dtype=object)
    ffl_name = np.array([world.companies[f].name for f in ffl], dtype=object)
    ffl_state = np.array([world.companies[f].place[-2:] for f in ffl], dtype=object)
    year = recovery.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    atf_refs = np.array([f"T{y}-{s:07d}" for y, s in zip(year, ctx.next_ids("trace", n))], dtype=object)
    purchaser = np.full(n, None, dtype=object)
    known = np.flatnonzero(complete & (buyer != ""))
    purchaser[known] = _buyer_names(ctx, buyer[known])
    unknown = np.flatnonzero(complete & (buyer == ""))
    names = sc.names
    purchaser[unknown] = [f"{g} {f}" for g, f in zip(rng.choice(names["us_given"], len(unknown)),
                                                      rng.choice(names["us_surnames"], len(unknown)))]
    frame = pd.DataFrame({
        "source_id": atf_refs, "serial": serial_variant(serials, rng), "make": make, "model": model,
        "caliber": caliber, "weapon_type": [t.title() for t in wtype], "recovery_place": us_place,
        "recovery_date": recovery.astype("datetime64[D]"), "recovery_country": "Mexico",
        "dealer_ffl": maybe(complete, ffl_number), "dealer_name": maybe(complete, ffl_name),
        "purchase_state": maybe(complete, ffl_state),
        "purchase_date": np.where(complete, purchase[sale].astype("datetime64[D]"), np.datetime64("NaT")),
        "purchaser": purchaser, "trace_status": status, "agency": "ATF",
    })
    ctx.writers["atf"].write(frame)
    in_mx = rng.random(n) < 0.7
    mx_refs = np.full(n, "", dtype=object)
    mx_refs[in_mx] = [f"FGR/ARM/{y}/{s:07d}" for y, s in zip(year[in_mx], ctx.next_ids("mxgun", int(in_mx.sum())))]
    mx_frame = pd.DataFrame({
        "source_id": mx_refs, "serial": serial_variant(serials, rng), "make": make, "model": model,
        "caliber": caliber, "weapon_type": [_TYPE_ES[t] for t in wtype], "recovery_place": place_text,
        "recovery_date": recovery.astype("datetime64[D]"), "recovery_country": "México", "agency": "FGR",
    })[in_mx]
    ctx.writers["mx_guns"].write(mx_frame)
    # straw purchasers as ATF records them, linked to the trace; the dealers as organizations
    recorded = known[rng.random(len(known)) < 0.6]
    ctx.us.people(buyer[recorded], "firearm_trace", atf_refs[recorded], "purchaser")
    ctx.us.companies(np.unique(ffl[complete]))
    ctx.truth["guns"].write(pd.DataFrame({
        "gun_id": gun_ids, "serial": serials, "make": make, "model": model, "ffl_id": ffl, "purchaser_id": buyer,
        "org_id": org, "trafficked": trafficked_sale[sale].astype(int),
        "multiple_sale_id": np.where(sizes[sale] > 1, [f"SALE-{sale_ids[s]:07d}" for s in sale], ""),
        "purchase_date": purchase[sale].astype("datetime64[D]"), "recovery_date": recovery.astype("datetime64[D]"),
        "recovery_place_id": place_id, "atf_source_id": atf_refs, "mx_source_id": mx_refs}))


_DEFAULT_PLACES = ["Culiacán, Sinaloa", "Juárez, Chihuahua", "Reynosa, Tamaulipas", "Tijuana, Baja California",
                   "Guadalajara, Jalisco", "Hermosillo, Sonora", "Nuevo Laredo, Tamaulipas", "Mexicali, Baja California",
                   "Chihuahua, Chihuahua", "Monterrey, Nuevo León"]


def _twin_state(sc: Scenario, city: str) -> str:
    return next(p.twin_state for p in sc.ports.values() if p.twin == city)


def _buyer_names(ctx: Context, pids: np.ndarray) -> np.ndarray:
    pt, rng = ctx.people_table, ctx.rng
    rows = pt.rows(pids)
    v = np.where(rng.random(len(rows)) < 0.7, 0, (rng.random(len(rows)) * pt.nvar[rows]).astype(np.int64))
    names = np.array([" ".join(x for x in parts if x) for parts in
                      zip(pt.given[rows, v], pt.s1[rows, v], pt.s2[rows, v])], dtype=object)
    upper = rng.random(len(rows)) < 0.5
    names[upper] = [x.upper() for x in names[upper]]
    return names


def _english_place(text: str) -> str:
    city, state = text.split(", ")
    from puente.simulate.world import strip_accents

    return f"{strip_accents(city)}, {_STATE_NAMES.get(state, strip_accents(state))}, Mexico"
