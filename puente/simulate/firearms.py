"""Firearms bought at U.S. dealers by straw purchasers, smuggled south, recovered in Mexico and traced."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from puente.simulate.records import serial_variant

if TYPE_CHECKING:
    from puente.simulate.run import Context

CHUNK = 50_000
_TYPE_ES = {"rifle": "fusil", "pistol": "pistola", "shotgun": "escopeta", "revolver": "revólver"}
_STATE_NAMES = {"Sinaloa": "Sinaloa", "Sonora": "Sonora", "Jalisco": "Jalisco", "Michoacán de Ocampo": "Michoacan",
                "Baja California": "Baja California", "Chihuahua": "Chihuahua", "Tamaulipas": "Tamaulipas",
                "Coahuila de Zaragoza": "Coahuila", "Nuevo León": "Nuevo Leon"}


def _serial(make: str, rng: np.random.Generator) -> str:
    letters = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ"), 3))
    digits = int(rng.integers(0, 10**6))
    if make == "GLOCK":
        return f"{letters}{digits % 1000:03d}"
    if make == "ROMARM/CUGIR":
        return f"1-{letters[:2]}{digits % 10000:04d}-{int(rng.integers(10, 22))}"
    if make == "COLT":
        return f"LE{digits:06d}"
    return f"{letters[:2]}{digits:06d}"


def traces(ctx: "Context") -> None:
    total = int(round(ctx.sc.share("firearm_trace") * ctx.scale))
    done = 0
    while done < total:
        n = min(CHUNK, total - done)
        _chunk(ctx, n)
        done += n


def _chunk(ctx: "Context", n: int) -> None:
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
    sale_buyer = np.array([str(rng.choice(world.orgs[o].straw)) if o else "" for o in sale_org], dtype=object)
    sale_ffl = rng.choice(np.array(world.ffls, dtype=object), len(sizes))
    last = int((sc.month_starts[-1] + sc.month_days[-1] - 1).astype(np.int64))
    first = int(sc.month_starts[0].astype(np.int64))
    recovery_target = rng.integers(first, last + 1, len(sizes))
    ttc_sale = np.minimum(rng.lognormal(6.0, 0.9, len(sizes)).astype(np.int64), 6000) + 5
    purchase = recovery_target - ttc_sale
    # guns of one sale turn up around the same time (weeks apart), never before they were bought
    recovery = np.minimum(recovery_target[sale] + np.abs(rng.normal(0, 45, n)).astype(np.int64), last)
    model_idx = rng.choice(len(models), n, p=mw / mw.sum())
    make = np.array([models[i]["make"] for i in model_idx], dtype=object)
    serials = np.array([_serial(m, rng) for m in make], dtype=object)
    gun_ids = np.array([f"GUN-{i:08d}" for i in ctx.next_ids("gun", n)], dtype=object)
    # where guns turn up: the buying organisation's plazas and lab states, else anywhere in the north
    places = np.empty(n, dtype=object)
    default_places = ["Culiacán, Sinaloa", "Juárez, Chihuahua", "Reynosa, Tamaulipas", "Tijuana, Baja California"]
    for i in range(n):
        o = sale_org[sale[i]]
        if o and rng.random() < 0.8:
            spec = next(s for s in sc.p["organizations"] if s["id"] == o)
            city = str(rng.choice(spec["plazas"]))
            code = next(p.code for p in sc.ports.values() if p.twin == city)
            places[i] = f"{city}, {sc.ports[code].twin_state}"
        else:
            places[i] = str(rng.choice(default_places))
    place_text, place_id = ctx.places.pick(places, "MX", rng, exact=0.3)
    us_place = np.array([_english_place(p) for p in places], dtype=object)
    buyer = sale_buyer[sale]
    status = np.where(rng.random(n) < 0.88, "Completed", np.where(rng.random(n) < 0.5, "Pending", "Not traceable"))
    complete = status == "Completed"
    ffl = sale_ffl[sale]
    atf_refs = np.array([f"T{str(np.datetime64(int(r), 'D'))[:4]}-{s:07d}" for r, s in
                         zip(recovery, ctx.next_ids("trace", n))], dtype=object)
    purchaser_text = np.array([_buyer_name(ctx, b) if b and c else ("" if not c else _oneoff_name(ctx))
                               for b, c in zip(buyer, complete)], dtype=object)
    frame = pd.DataFrame({
        "source_id": atf_refs, "serial": [serial_variant(s, rng) for s in serials], "make": make,
        "model": [models[i]["model"] for i in model_idx], "caliber": [models[i]["caliber"] for i in model_idx],
        "weapon_type": [models[i]["type"].title() for i in model_idx], "recovery_place": us_place,
        "recovery_date": recovery.astype("datetime64[D]"), "recovery_country": "Mexico",
        "dealer_ffl": np.where(complete, [world.companies[f].tax_id for f in ffl], None),
        "dealer_name": np.where(complete, [world.companies[f].name for f in ffl], None),
        "purchase_state": np.where(complete, [world.companies[f].place[-2:] for f in ffl], None),
        "purchase_date": np.where(complete, purchase[sale].astype("datetime64[D]"), np.datetime64("NaT")),
        "purchaser": purchaser_text, "trace_status": status, "agency": "ATF",
    })
    ctx.writers["atf"].write(frame)
    in_mx = rng.random(n) < 0.7
    mx_refs = np.where(in_mx, [f"FGR/ARM/{str(np.datetime64(int(r), 'D'))[:4]}/{s:07d}" for r, s in
                               zip(recovery, ctx.next_ids("mxgun", n))], "")
    mx_frame = pd.DataFrame({
        "source_id": mx_refs, "serial": [serial_variant(s, rng) for s in serials], "make": make,
        "model": [models[i]["model"] for i in model_idx], "caliber": [models[i]["caliber"] for i in model_idx],
        "weapon_type": [_TYPE_ES[models[i]["type"]] for i in model_idx], "recovery_place": place_text,
        "recovery_date": recovery.astype("datetime64[D]"), "recovery_country": "México", "agency": "FGR",
    })[in_mx]
    ctx.writers["mx_guns"].write(mx_frame)
    # straw purchasers as ATF records them, linked to the trace
    idx = [i for i in range(n) if buyer[i] and complete[i] and rng.random() < 0.6]
    refs = ctx.us.people([str(buyer[i]) for i in idx], "firearm_trace", [str(atf_refs[i]) for i in idx], "purchaser")
    for i in np.flatnonzero(complete):
        ctx.us.company(str(ffl[i]))
    del refs
    ctx.truth["guns"].write(pd.DataFrame({
        "gun_id": gun_ids, "serial": serials, "make": make, "model": [models[i]["model"] for i in model_idx],
        "ffl_id": ffl, "purchaser_id": buyer, "org_id": sale_org[sale], "trafficked": trafficked_sale[sale].astype(int),
        "multiple_sale_id": np.where(sizes[sale] > 1, [f"SALE-{sale_ids[s]:07d}" for s in sale], ""),
        "purchase_date": purchase[sale].astype("datetime64[D]"), "recovery_date": recovery.astype("datetime64[D]"),
        "recovery_place_id": place_id, "atf_source_id": atf_refs, "mx_source_id": mx_refs}))


def _english_place(text: str) -> str:
    city, state = text.split(", ")
    from puente.simulate.world import strip_accents

    return f"{strip_accents(city)}, {_STATE_NAMES.get(state, strip_accents(state))}, Mexico"


def _buyer_name(ctx: "Context", pid: str) -> str:
    p = ctx.world.people[pid]
    v = p.variants[0] if ctx.rng.random() < 0.7 else p.variants[int(ctx.rng.integers(len(p.variants)))]
    name = " ".join(x for x in (v["given_names"], v["surname1"], v["surname2"]) if x)
    return name.upper() if ctx.rng.random() < 0.5 else name


def _oneoff_name(ctx: "Context") -> str:
    names = ctx.world.sc.names
    return f"{ctx.rng.choice(names['us_given'])} {ctx.rng.choice(names['us_surnames'])}"
