"""Precursor imports (most legitimate, some diverted through front companies), labs, investigations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from puente.simulate.config import weights

if TYPE_CHECKING:
    from puente.simulate.run import Context

CHUNK = 50_000
_LIQUIDS = {"propionic_anhydride", "piperidine"}
_CHEM_TEXT = {  # how customs declarations name each chemical (all vocabulary synonyms)
    "npp": ["NPP", "N-fenetil-4-piperidona", "n-phenethyl-4-piperidone"],
    "anpp": ["ANPP", "4-anilino-N-fenetilpiperidina"],
    "4-ap": ["4-AP", "4-anilinopiperidina", "4-anilinopiperidine"],
    "1-boc-4-ap": ["1-boc-4-AP", "boc-4-ap"],
    "norfentanyl": ["Norfentanilo", "norfentanyl"],
    "benzylfentanyl": ["Bencilfentanilo", "benzylfentanyl"],
    "4-piperidone": ["4-Piperidona", "4-piperidone", "piperidin-4-one"],
    "1-boc-4-piperidone": ["1-boc-4-piperidona", "1-boc-4-piperidone"],
    "propionic_anhydride": ["Anhídrido propiónico", "anhidrido propionico", "propionic anhydride"],
    "piperidine": ["Piperidina", "piperidine"],
}
_USES = ["síntesis farmacéutica", "uso industrial", "investigación", "fabricación de plásticos", "reactivo de laboratorio"]
_PORT_TEXT = {"MZO": ["Manzanillo", "Aduana de Manzanillo", "puerto de Manzanillo"],
              "LZC": ["Lázaro Cárdenas", "Lazaro Cardenas", "Aduana de Lázaro Cárdenas"],
              "MEX": ["AICM", "Aduana del AICM", "Mexico City air cargo"]}


def shipments(ctx: "Context") -> None:
    total = int(round(ctx.sc.share("precursor_shipment") * ctx.scale))
    ctx.lab_chemicals = {}  # type: ignore[attr-defined]
    for start in range(0, total, CHUNK):
        _shipment_chunk(ctx, min(CHUNK, total - start))


def _shipment_chunk(ctx: "Context", n: int) -> None:
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    chems, cp = weights(sc.p["precursor_chemicals"])
    ports, pp = weights(sc.p["precursor_ports"])
    chemical = rng.choice(np.array(chems, dtype=object), n, p=cp)
    port = rng.choice(np.array(ports, dtype=object), n, p=pp)
    months = np.sort(rng.integers(0, len(sc.periods), n))
    arrival = sc.month_starts[months] + (rng.random(n) * sc.month_days[months]).astype(np.int64)
    transit = np.where(port == "MEX", rng.integers(2, 6, n), rng.integers(18, 45, n))
    ship = arrival - transit.astype("timedelta64[D]")
    diverted = rng.random(n) < sc.rate("diverted_shipment")
    kg = np.where(diverted, rng.lognormal(4.5, 0.9, n), rng.lognormal(7.0, 1.0, n))
    orgs = np.array(list(world.orgs), dtype=object)
    org = np.where(diverted, rng.choice(orgs, n), "")
    importer = np.empty(n, dtype=object)
    lab = np.full(n, "", dtype=object)
    for i in range(n):
        if diverted[i]:
            o = world.orgs[org[i]]
            importer[i] = str(rng.choice(o.fronts))
            active = [x for x in o.labs if world.labs[x].start <= months[i] + 2] or o.labs
            lab[i] = str(rng.choice(active))
            ctx.lab_chemicals.setdefault(lab[i], set()).add(chemical[i])  # type: ignore[attr-defined]
        else:
            importer[i] = str(rng.choice(world.importers))
    exporter = rng.choice(np.array(world.exporters, dtype=object), n)
    liquid = np.isin(chemical, list(_LIQUIDS))
    unit = np.where(liquid, rng.choice(np.array(["l", "litros", "kg"]), n), rng.choice(np.array(["kg", "kilogramos"]), n))
    status = np.where(diverted, rng.choice(np.array(["liberado", "notificado", "asegurado"]), n, p=[0.75, 0.1, 0.15]),
                      rng.choice(np.array(["liberado", "notificado", "objetado"]), n, p=[0.85, 0.12, 0.03]))
    seq = ctx.next_ids("PED", n)
    year = arrival.astype("datetime64[Y]").astype(int) + 1970
    refs = np.array([f"{y % 100:02d} {p} {3000 + s // 1_000_000:04d} {s % 1_000_000:07d}"
                     for y, p, s in zip(year, port, seq)], dtype=object)
    pen = np.array([f"PEN-{world.companies[e].country}-{y}-{s:06d}" for e, y, s in zip(exporter, year, seq)],
                   dtype=object)
    pen[rng.random(n) < np.where(diverted, 0.7, 0.3)] = None
    mx = ctx.mx
    importer_ref = np.array([mx.company(c) for c in importer], dtype=object)
    exporter_ref = np.array([mx.company(c) for c in exporter], dtype=object)
    imp_name = np.array([_name_variant(ctx, c) for c in importer], dtype=object)
    consignee = np.where(diverted & (rng.random(n) < 0.5), [_name_variant(ctx, c) for c in importer], None)
    frame = pd.DataFrame({
        "source_id": refs, "chemical": [str(rng.choice(_CHEM_TEXT[c])) for c in chemical],
        "quantity": np.round(kg, 2), "unit": unit,
        "exporter": [_name_variant(ctx, c) for c in exporter], "importer": imp_name,
        "importer_taxid": [world.companies[c].tax_id if rng.random() > 0.15 else None for c in importer],
        "consignee": consignee, "origin_country": [world.companies[e].country for e in exporter],
        "port": [str(rng.choice(_PORT_TEXT[p])) for p in port], "ship_date": ship, "arrival_date": arrival,
        "declared_use": rng.choice(np.array(_USES, dtype=object), n), "pen_reference": pen, "status": status,
        "agency": "ANAM",
    })
    ctx.writers["shipments"].write(frame)
    for i in range(n):
        mx.link("precursor_shipment", refs[i], "organization", importer_ref[i], "importer")
        mx.link("precursor_shipment", refs[i], "organization", exporter_ref[i], "exporter")
        if consignee[i] is not None:
            mx.link("precursor_shipment", refs[i], "organization", importer_ref[i], "consignee")
    ctx.truth["shipments"].write(pd.DataFrame({
        "source_id": refs, "chemical": chemical, "quantity_kg": np.round(kg, 2), "importer_id": importer,
        "diverted": diverted.astype(int), "org_id": org, "lab_id": lab,
        "front_company_id": np.where(diverted, importer, "")}))


def _name_variant(ctx: "Context", cid: str) -> str:
    variants = ctx.world.companies[cid].variants
    return variants[0] if ctx.rng.random() < 0.7 else variants[int(ctx.rng.integers(len(variants)))]


_EQUIPMENT = ["reactores", "condensadores", "prensa tableteadora", "tambos de 200 litros", "mantas de calentamiento",
              "matraces", "bombas de vacío", "secadores"]


def lab_sites(ctx: "Context") -> None:
    """Dismantled labs of the organisations (with the chemicals diverted to them), then other labs found."""
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    rows = []
    found = [lab for lab in world.labs.values() if lab.found >= 0]
    for lab in found:
        chems = set(getattr(ctx, "lab_chemicals", {}).get(lab.id, set()))
        if not chems:
            chems = set(rng.choice(list(_CHEM_TEXT), int(rng.integers(1, 4)), replace=False).tolist())
        lab.record = f"SEDENA/LAB/{sc.periods[lab.found][:4]}/{len(rows) + 1:06d}"  # type: ignore[attr-defined]
        day = sc.month_starts[lab.found] + int(rng.integers(0, 28))
        rows.append(_lab_row(ctx, lab.record, f"{lab.municipality}, {lab.state}", day, lab.kind,  # type: ignore[attr-defined]
                             sorted(chems), lab.capacity))
    total = max(0, int(round(sc.share("lab_site") * ctx.scale)) - len(rows))
    states = list(sc.p["lab_municipalities"])
    extra_truth = []
    for i in range(total):
        state = str(rng.choice(states))
        muni = str(rng.choice(sc.p["lab_municipalities"][state]))
        place = sc.place(f"{muni}, {state}", "MX")
        m = int(rng.integers(0, len(sc.periods)))
        ref = f"SEDENA/LAB/{sc.periods[m][:4]}/{len(found) + i + 1:06d}"
        kind = str(rng.choice(["fentanyl", "pill_press", "methamphetamine"]))
        chems = sorted(set(rng.choice(list(_CHEM_TEXT), int(rng.integers(1, 4)), replace=False).tolist()))
        capacity = float(np.round(rng.lognormal(2.5, 1.0), 1))
        rows.append(_lab_row(ctx, ref, f"{muni}, {state}", sc.month_starts[m] + int(rng.integers(0, 28)), kind,
                             chems, capacity))
        extra_truth.append({"lab_id": f"LAB-X{i + 1:07d}", "org_id": "", "municipality": muni, "state": state,
                            "lat": round(float(place.lat or 0) + float(rng.normal(0, 0.08)), 5),
                            "lon": round(float(place.lon or 0) + float(rng.normal(0, 0.08)), 5), "lab_kind": kind,
                            "mark": "", "capacity_kg_month": capacity, "start_period": "",
                            "found_period": sc.periods[m], "record_source_id": ref})
        if len(rows) >= CHUNK:
            _flush_labs(ctx, rows, extra_truth)
            rows, extra_truth = [], []
    _flush_labs(ctx, rows, extra_truth)


def _flush_labs(ctx: "Context", rows: list[dict[str, object]], truth: list[dict[str, object]]) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    frame["place"] = ctx.places.pick(frame["place"].to_numpy(), "MX", ctx.rng)[0]
    ctx.writers["labs"].write(frame)
    ctx.truth["labs"].write(pd.DataFrame(truth))


def _lab_row(ctx: "Context", ref: str, place: str, day: np.datetime64, kind: str, chems: list[str],
             capacity: float) -> dict[str, object]:
    rng = ctx.rng
    text = "; ".join(str(rng.choice(_CHEM_TEXT[c])) for c in chems)
    return {"source_id": ref, "place": place, "date_found": day, "status": "desmantelado",
            "lab_kind": {"fentanyl": "síntesis de fentanilo", "pill_press": "prensa de pastillas",
                         "methamphetamine": "metanfetamina"}[kind],
            "chemicals": text, "equipment": ", ".join(rng.choice(_EQUIPMENT, 3, replace=False)),
            "capacity_kg_month": capacity if rng.random() > 0.2 else None,
            "agency": str(rng.choice(["SEDENA", "FGR", "SEMAR"]))}


def investigations(ctx: "Context") -> None:
    """Each organisation's leadership as both countries' investigators record it."""
    rng, world = ctx.rng, ctx.world
    for org in world.orgs.values():
        lts = list(org.lieutenants)
        (leader_mx,) = ctx.mx.people([org.leader], "", [""], "leader")
        for lt in ctx.mx.people(lts, "", [""] * len(lts), "member"):
            ctx.mx.link("person", lt, "person", leader_mx, "associate")
        for front in org.fronts:
            ctx.mx.link("organization", ctx.mx.company(front), "person", leader_mx, "owner")
        us_lts = [x for x in lts if rng.random() < 0.5]
        (leader_us,) = ctx.us.people([org.leader], "", [""], "leader")
        for lt in ctx.us.people(us_lts, "", [""] * len(us_lts), "member"):
            ctx.us.link("person", lt, "person", leader_us, "associate")
