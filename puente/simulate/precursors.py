"""Precursor imports (most legitimate, some diverted through front companies), labs, investigations.

Nothing on a declaration separates the classes by construction: customs seizes imports of some legitimate
firms (paperwork, labelling) and never catches some fronts; legitimate cargo is sometimes consigned to a
distributor. A dismantled lab that diverted chemicals fed often has the owner of one of those fronts among
its detainees, recorded under another spelling of the name than the company register's: the chain
shipment → company → owner → lab holds in the records only through entity resolution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from puente.simulate.config import groups, maybe, weights

if TYPE_CHECKING:
    from puente.simulate.run import Context
    from puente.simulate.world import Lab, World

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
_PORT_TEXT = {"MZO": ["Manzanillo", "Aduana de Manzanillo", "puerto de Manzanillo"],
              "LZC": ["Lázaro Cárdenas", "Lazaro Cardenas", "Aduana de Lázaro Cárdenas"],
              "MEX": ["AICM", "Aduana del AICM", "Mexico City air cargo"]}


def shipments(ctx: Context) -> None:
    total = round(ctx.sc.share("precursor_shipment") * ctx.scale)
    for start in range(0, total, CHUNK):
        _shipment_chunk(ctx, min(CHUNK, total - start))


def _shipment_chunk(ctx: Context, n: int) -> None:
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    chems, cp = weights(sc.p["precursor_chemicals"])
    chemical = rng.choice(np.array(chems, dtype=object), n, p=cp)
    diverted = rng.random(n) < sc.rate("diverted_shipment")
    port = np.empty(n, dtype=object)
    for mask, key in ((~diverted, "precursor_ports"), (diverted, "precursor_ports_diverted")):
        ports, pp = weights(sc.p[key])
        port[mask] = rng.choice(np.array(ports, dtype=object), int(mask.sum()), p=pp)
    months = np.sort(rng.integers(0, len(sc.periods), n))
    arrival = sc.month_starts[months] + (rng.random(n) * sc.month_days[months]).astype(np.int64)
    transit = np.where(port == "MEX", rng.integers(2, 6, n), rng.integers(18, 45, n))
    ship = arrival - transit.astype("timedelta64[D]")
    use, kg = _uses_and_kg(ctx, diverted)
    org = np.full(n, "", dtype=object)
    lab = np.full(n, "", dtype=object)
    importer = rng.choice(np.array(world.importers, dtype=object), n, p=world.importer_weights)
    d = np.flatnonzero(diverted)
    org[d] = rng.choice(np.array(list(world.orgs), dtype=object), len(d))
    importer[d] = world.pick(org[d], "fronts", rng)
    consignee = _consignees(ctx, importer, org, diverted)
    receiver = np.where(consignee != "", consignee, importer)  # the goods go to the consignee when one is named
    used = np.minimum(months[d] + 2, len(sc.periods) - 1)
    lab[d] = ctx.routes.labs_for(org[d], used, rng)
    # a front supplies one lab at a time (the next when it is dismantled); now and then another of the org's
    own = rng.random(len(d)) < float(sc.p["inspection"]["front_lab_affinity"])
    for i in np.flatnonzero(own):
        lab[d[i]] = _front_lab(ctx, receiver[d[i]], int(used[i])) or lab[d[i]]
    for lab_id, chem, front in zip(lab[d], chemical[d], receiver[d]):
        ctx.lab_chemicals.setdefault(lab_id, set()).add(chem)
        ctx.lab_fronts.setdefault(lab_id, set()).add(front)
    exporter = rng.choice(np.array(world.exporters, dtype=object), n)
    companies = world.companies
    liquid = np.isin(chemical, list(_LIQUIDS))
    unit = np.where(liquid, rng.choice(np.array(["l", "litros", "kg"]), n), rng.choice(np.array(["kg", "kilogramos"]), n))
    # customs seizes a shipment at its importer's rate: some fronts never, some legitimate firms now and then
    seized = rng.random(n) < np.array([companies[c].seize_rate for c in importer])
    status = np.where(seized, "asegurado", rng.choice(np.array(["liberado", "notificado", "objetado"]), n,
                                                      p=[0.85, 0.12, 0.03]))
    seq = ctx.next_ids("PED", n)
    year = arrival.astype("datetime64[Y]").astype(int) + 1970
    refs = np.array([f"{y % 100:02d} {p} {3000 + s // 1_000_000:04d} {s % 1_000_000:07d}"
                     for y, p, s in zip(year, port, seq)], dtype=object)
    origin = np.array([companies[e].country for e in exporter], dtype=object)
    pen = np.array([f"PEN-{c}-{y}-{s:06d}" for c, y, s in zip(origin, year, seq)], dtype=object)
    pen[rng.random(n) < np.where(diverted, 0.7, 0.3)] = None
    mx = ctx.mx
    importer_ref = mx.companies(importer)
    exporter_ref = mx.companies(exporter)
    consigned = consignee != ""
    frame = pd.DataFrame({
        "source_id": refs, "chemical": _texts(rng, chemical, _CHEM_TEXT),
        "quantity": np.round(kg, 2), "unit": unit,
        "exporter": _company_names(ctx, exporter), "importer": _company_names(ctx, importer),
        "importer_taxid": maybe(rng.random(n) > 0.15, [companies[c].tax_id for c in importer]),
        "consignee": maybe(consigned, _company_names(ctx, np.where(consigned, consignee, importer))),
        "origin_country": origin,
        "port": _texts(rng, port, _PORT_TEXT), "ship_date": ship, "arrival_date": arrival,
        "declared_use": use, "pen_reference": pen, "status": status,
        "agency": "ANAM",
    })
    ctx.writers["shipments"].write(frame)
    mx.links("precursor_shipment", refs, "organization", importer_ref, np.full(n, "importer", dtype=object))
    mx.links("precursor_shipment", refs, "organization", exporter_ref, np.full(n, "exporter", dtype=object))
    mx.links("precursor_shipment", refs[consigned], "organization", mx.companies(consignee[consigned]),
             np.full(int(consigned.sum()), "consignee", dtype=object))
    ctx.truth["shipments"].write(pd.DataFrame({
        "source_id": refs, "chemical": chemical, "quantity_kg": np.round(kg, 2), "importer_id": importer,
        "diverted": diverted.astype(int), "org_id": org, "lab_id": lab,
        "front_company_id": np.where(diverted, importer, ""), "consignee_id": consignee,
        "seized": seized.astype(int)}))
    ctx.diverted.append(pd.DataFrame({"source_id": refs[d], "front_company_id": importer[d],
                                      "company_source_id": importer_ref[d], "lab_id": lab[d],
                                      "chemical": chemical[d]}))


def _uses_and_kg(ctx: Context, diverted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Declared use and kilograms: a legitimate import's size follows its use (a reagent comes in kilos, an
    industrial input in tonnes); a diverted one is sized for a lab, whatever use it declares."""
    rng, spec = ctx.rng, ctx.sc.p["precursor_use_kg"]
    n, uses = len(diverted), list(spec)
    use = np.empty(n, dtype=object)
    for mask, key in ((~diverted, "legit"), (diverted, "diverted")):
        p = np.array([float(spec[u][key]) for u in uses])
        use[mask] = rng.choice(np.array(uses, dtype=object), int(mask.sum()), p=p / p.sum())
    mean = np.array([float(spec[u]["mean"]) for u in use])
    sd = np.array([float(spec[u]["sd"]) for u in use])
    dk = ctx.sc.p["diverted_kg"]
    mean[diverted], sd[diverted] = float(dk["mean"]), float(dk["sd"])
    return use, rng.lognormal(mean, sd)


def _front_lab(ctx: Context, front: str, month: int) -> str:
    """The lab a front supplies at ``month`` ('' when every lab of its organisation is dismantled): a front
    serves one lab — the active one with the fewest fronts when it starts (before any is, the next to start:
    it stocks up) — until that lab is dismantled, then the next."""
    timeline = ctx.front_labs.get(front)
    if timeline is None:
        world = ctx.world
        labs = world.orgs[world.companies[front].org].labs
        timeline, current = [], ""
        for m in range(len(ctx.sc.periods)):
            if not current or 0 <= world.labs[current].found <= m:
                standing = [lab for lab in labs if not 0 <= world.labs[lab].found <= m]
                active = [lab for lab in standing if world.labs[lab].start <= m] or \
                    [lab for lab in standing if world.labs[lab].start == min(world.labs[x].start for x in standing)]
                if active:  # the organisation spreads its fronts over its labs: the least supplied one
                    fewest = min(ctx.lab_load.get(lab, 0) for lab in active)
                    current = str(ctx.rng.choice([lab for lab in active if ctx.lab_load.get(lab, 0) == fewest]))
                    ctx.lab_load[current] = ctx.lab_load.get(current, 0) + 1
                else:
                    current = ""
            timeline.append(current)
        ctx.front_labs[front] = timeline
    return timeline[month]


def _consignees(ctx: Context, importer: np.ndarray, org: np.ndarray, diverted: np.ndarray) -> np.ndarray:
    """The consignee company per shipment ('' when none): half the diverted shipments name one (the front
    itself, or another front of the organisation); some legitimate ones name a distributor."""
    rng, world, inspection = ctx.rng, ctx.world, ctx.sc.p["inspection"]
    n = len(importer)
    out = np.full(n, "", dtype=object)
    r = rng.random(n)
    front = np.flatnonzero(diverted & (r < 0.5))
    out[front] = importer[front]
    other = front[rng.random(len(front)) < float(inspection["front_other_consignee"])]
    if len(other):
        out[other] = world.pick(org[other], "fronts", rng)
    legit = np.flatnonzero(~diverted & (r < float(inspection["legit_consignee"])))
    if len(legit):
        firms = np.array(world.importers, dtype=object)
        pick = rng.integers(0, len(firms) - 1, len(legit)) if len(firms) > 1 else np.zeros(len(legit), dtype=np.int64)
        own = np.array([world.importers.index(c) for c in importer[legit]])
        out[legit] = firms[np.where(pick >= own, pick + 1, pick) % len(firms)]
    return out


def _texts(rng: np.random.Generator, codes: np.ndarray, spellings: dict[str, list[str]]) -> np.ndarray:
    out = np.empty(len(codes), dtype=object)
    for code, idx in groups(codes):
        out[idx] = rng.choice(np.array(spellings[code], dtype=object), len(idx))
    return out


def _company_names(ctx: Context, cids: np.ndarray) -> np.ndarray:
    """Mostly the registered name; sometimes a variant (capitals, no suffix, 'SA de CV')."""
    rng = ctx.rng
    out = np.empty(len(cids), dtype=object)
    for cid, idx in groups(cids):
        variants = np.array(ctx.world.companies[cid].variants, dtype=object)
        choice = np.where(rng.random(len(idx)) < 0.7, 0, rng.integers(0, len(variants), len(idx)))
        out[idx] = variants[choice]
    return out


_EQUIPMENT = ["reactores", "condensadores", "prensa tableteadora", "tambos de 200 litros", "mantas de calentamiento",
              "matraces", "bombas de vacío", "secadores"]


_LAB_KIND_ES = {"fentanyl": "síntesis de fentanilo", "pill_press": "prensa de pastillas",
                "methamphetamine": "metanfetamina"}


def lab_sites(ctx: Context) -> None:
    """Dismantled labs of the organisations (with the chemicals diverted to them), then other labs found."""
    sc, rng, world = ctx.sc, ctx.rng, ctx.world
    found = [lab for lab in world.labs.values() if lab.found >= 0]
    for i, lab in enumerate(found):
        lab.record = f"SEDENA/LAB/{sc.periods[lab.found][:4]}/{i + 1:06d}"
    if found:
        chems = [sorted(ctx.lab_chemicals.get(lab.id, set())) or
                 sorted(rng.choice(list(_CHEM_TEXT), int(rng.integers(1, 4)), replace=False).tolist()) for lab in found]
        months = np.array([lab.found for lab in found])
        refs = np.array([lab.record for lab in found], dtype=object)
        _write_labs(ctx, refs,
                    np.array([f"{lab.municipality}, {lab.state}" for lab in found], dtype=object),
                    sc.month_starts[months] + rng.integers(0, 28, len(found)),
                    np.array([lab.kind for lab in found], dtype=object), chems,
                    np.array([lab.capacity for lab in found]), _lab_evidence(ctx, found))
        _lab_arrests(ctx, found, refs)
    total = max(0, round(sc.share("lab_site") * ctx.scale) - len(found))
    # other labs found: only where the authorities operate (never in the structure's quiet places)
    pairs = world.structure.enforced
    per_state = {st: sum(1 for _, s in pairs if s == st) for _, st in pairs}
    pair_p = np.array([1 / per_state[st] for _, st in pairs])
    coords = np.array([[sc.place(f"{m}, {st}", "MX").lat or 0.0, sc.place(f"{m}, {st}", "MX").lon or 0.0]
                       for m, st in pairs])
    codes = np.array(list(_CHEM_TEXT), dtype=object)
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        pick = rng.choice(len(pairs), n, p=pair_p / pair_p.sum())
        months = rng.integers(0, len(sc.periods), n)
        seq = np.arange(len(found) + start + 1, len(found) + start + n + 1)
        refs = np.array([f"SEDENA/LAB/{sc.periods[m][:4]}/{s:06d}" for m, s in zip(months, seq)], dtype=object)
        kinds = rng.choice(np.array(["fentanyl", "pill_press", "methamphetamine"], dtype=object), n)
        order = rng.random((n, len(codes))).argsort(axis=1)
        sizes = rng.integers(1, 4, n)
        chems = [sorted(codes[order[i, : sizes[i]]].tolist()) for i in range(n)]
        capacity = np.round(rng.lognormal(2.5, 1.0, n), 1)
        canon = np.array([f"{pairs[k][0]}, {pairs[k][1]}" for k in pick], dtype=object)
        _write_labs(ctx, refs, canon, sc.month_starts[months] + rng.integers(0, 28, n), kinds, chems, capacity,
                    [_decoys(rng) for _ in range(n)])
        caught = rng.random(n) < 0.4
        ctx.mx.people(np.full(int(caught.sum()), "", dtype=object), "lab_site", refs[caught], "operator")
        lat = np.round(coords[pick, 0] + rng.normal(0, 0.08, n), 5)
        lon = np.round(coords[pick, 1] + rng.normal(0, 0.08, n), 5)
        ctx.found_coords.append(np.column_stack([lat, lon]))
        ctx.truth["labs"].write(pd.DataFrame({
            "lab_id": [f"LAB-X{s:07d}" for s in range(start + 1, start + n + 1)], "org_id": "",
            "municipality": [pairs[k][0] for k in pick], "state": [pairs[k][1] for k in pick],
            "lat": lat, "lon": lon, "lab_kind": kinds, "mark": "",
            "capacity_kg_month": capacity, "start_period": "", "found_period": np.array(sc.periods)[months],
            "record_source_id": refs, "quiet": 0, "nearest_found_km": 0.0}))


def _lab_arrests(ctx: Context, found: list[Lab], refs: np.ndarray) -> None:
    """Who is detained at each dismantled lab of an organisation: the owner of a front that fed it (often,
    under another spelling of the name than the company register's and seldom with the CURP), and as before
    a lieutenant, a courier or a one-off operator."""
    rng, world, pt = ctx.rng, ctx.world, ctx.people_table
    inspection = ctx.sc.p["inspection"]
    written: dict[str, list[int]] = {}  # owner -> the name variants of their owner records
    for _, _, pid, _, v in ctx.mx.owners:
        written.setdefault(pid, []).append(v)
    chain_ids: list[str] = []
    chain_labs: list[int] = []
    chain_var: list[int] = []
    chain_front: list[str] = []
    for i, lab in enumerate(found):
        fronts = sorted(ctx.lab_fronts.get(lab.id, set()))
        owners = sorted({world.companies[f].owner for f in fronts} - _front_men(world))
        for pid in owners:
            if rng.random() < float(inspection["owner_arrested_at_lab"]):
                row = int(pt.rows(np.array([pid], dtype=object))[0])
                chain_ids.append(pid)
                chain_labs.append(i)
                chain_var.append(pt.other_variant(row, written.get(pid, [0]), rng))
                chain_front.append(next(f for f in fronts if world.companies[f].owner == pid))
    if chain_ids:
        at = np.array(chain_labs, dtype=np.int64)
        person_refs = ctx.mx.people(np.array(chain_ids, dtype=object), "lab_site", refs[at], "arrested",
                                    variant=np.array(chain_var), curp_rate=float(inspection["arrest_record_curp"]))
        _lab_people(ctx, [found[i].id for i in at], refs[at], ctx.mx.last_entities, person_refs, "arrested",
                    chain_front)
    # the rest of the crew: a lieutenant, a courier or a one-off operator
    orgs = np.array([lab.org for lab in found], dtype=object)
    lts = world.pick(orgs, "lieutenants", rng)
    crew = world.pick(orgs, "couriers", rng)
    who = np.where(rng.random(len(found)) < 0.3, lts, np.where(rng.random(len(found)) < 0.5, crew, ""))
    roles = np.where(who == lts, "arrested", "operator").astype(object)
    # a lieutenant who owns fronts is written, here too, otherwise than in the company register
    forced = np.array([pt.other_variant(int(pt.rows(np.array([p], dtype=object))[0]), written[p], rng)
                       if p in written else -1 for p in who])
    person_refs = ctx.mx.people(who, "lab_site", refs, roles, variant=forced,
                                curp_rate=float(inspection["arrest_record_curp"]))
    _lab_people(ctx, [lab.id for lab in found], refs, ctx.mx.last_entities, person_refs, roles, [""] * len(found))


def _front_men(world: World) -> set[str]:
    """Front men (prestanombres): registered owners who never go near a lab."""
    return {p.id for p in world.people.values() if p.role == "front_owner"}


def _lab_people(ctx: Context, labs: list[str], lab_refs: np.ndarray, people: np.ndarray, person_refs: np.ndarray,
                roles: object, fronts: list[str]) -> None:
    rows = pd.DataFrame({"lab_id": labs, "lab_source_id": lab_refs, "person_id": people,
                         "person_source_id": person_refs, "role": roles, "via_front": fronts})
    ctx.truth["lab_people"].write(rows)
    ctx.lab_people.append(rows)


def _lab_evidence(ctx: Context, found: list[Lab]) -> list[str]:
    """What the raid recorded of each dismantled lab's supply: drum labels and papers citing the import
    declarations (pedimentos) of the shipments that fed it, as investigators write them (separators vary,
    some numbers carry a slip), beside other papers; nothing on some labs (burnt, or not recorded).
    Which shipments were cited, and how, goes to ``ctx.cited`` (truth)."""
    rng, p = ctx.rng, ctx.sc.p["inspection"]
    fed: dict[str, list[tuple[str, str]]] = {}
    for frame in ctx.diverted:
        for sid, lab_id, chem in zip(frame["source_id"], frame["lab_id"], frame["chemical"]):
            fed.setdefault(lab_id, []).append((sid, chem))
    out = []
    for lab in found:
        items = _decoys(rng).split("; ") if rng.random() < 0.5 else []
        if rng.random() < float(p["lab_documents"]):
            for sid, chem in fed.get(lab.id, []):
                if rng.random() >= float(p["document_cited"]):
                    continue
                how = "typo" if rng.random() < float(p["document_typo"]) else "exact"
                written = _slip(sid, rng) if how == "typo" else _spelled(sid, rng)
                ctx.cited[(sid, lab.id)] = how
                text = _CHEM_TEXT[chem][int(rng.integers(len(_CHEM_TEXT[chem])))]
                items.append(str(rng.choice(_CITES)).format(ref=written, chem=text))
        items = [x for x in items if x]
        out.append("; ".join(items[i] for i in rng.permutation(len(items))))
    return out


_CITES = ["tambo de 200 l de {chem} con etiqueta de pedimento {ref}", "copia de pedimento {ref} ({chem})",
          "bidón de {chem}, pedimento núm. {ref}", "etiqueta {chem} pedimento {ref}"]


def _spelled(ref: str, rng: np.random.Generator) -> str:
    """A pedimento number as written by hand: spaces, dashes or nothing between its parts."""
    return ref.replace(" ", str(rng.choice([" ", " ", "-", ""])))


def _slip(ref: str, rng: np.random.Generator) -> str:
    """A pedimento number with one slip in its 7-digit sequence: a digit changed or two swapped."""
    head, seq = ref[:-7], list(ref[-7:])
    i = int(rng.integers(0, 6))
    if rng.random() < 0.5:
        seq[i], seq[i + 1] = seq[i + 1], seq[i]
    if rng.random() < 0.5 or seq == list(ref[-7:]):
        seq[i] = str((int(seq[i]) + int(rng.integers(1, 10))) % 10)
    return _spelled(head + "".join(seq), rng)


def _decoys(rng: np.random.Generator) -> str:
    """Other papers found at a lab (invoices, waybills): numbers that cite no import declaration."""
    items = [f"factura {rng.choice(['A', 'F', 'FAC'])}-{int(rng.integers(1000, 99999))}",
             f"guía de embarque {int(rng.integers(10**9, 10**10))}", "recibos de renta", "libreta con anotaciones"]
    k = int(rng.integers(0, 3))
    return "; ".join(items[i] for i in rng.choice(len(items), k, replace=False))


def _write_labs(ctx: Context, refs: np.ndarray, canon: np.ndarray, days: np.ndarray, kinds: np.ndarray,
                chems: list[list[str]], capacity: np.ndarray, evidence: list[str]) -> None:
    rng = ctx.rng
    n = len(refs)
    spell = rng.integers(0, 6, (n, 10))
    equipment = np.array(_EQUIPMENT, dtype=object)[rng.random((n, len(_EQUIPMENT))).argsort(axis=1)[:, :3]]
    ctx.writers["labs"].write(pd.DataFrame({
        "source_id": refs, "place": ctx.places.pick(canon, "MX", rng)[0], "date_found": days,
        "status": "desmantelado", "lab_kind": [_LAB_KIND_ES[k] for k in kinds],
        "chemicals": ["; ".join(_CHEM_TEXT[c][spell[i, j] % len(_CHEM_TEXT[c])] for j, c in enumerate(cs))
                      for i, cs in enumerate(chems)],
        "equipment": [", ".join(e) for e in equipment],
        "capacity_kg_month": np.where(rng.random(n) > 0.2, capacity, np.nan), "evidence": evidence,
        "agency": rng.choice(np.array(["SEDENA", "FGR", "SEMAR"], dtype=object), n)}))


def investigations(ctx: Context) -> None:
    """Each organisation's leadership as both countries' investigators record it."""
    rng, world = ctx.rng, ctx.world
    for org in world.orgs.values():
        for records, share in ((ctx.mx, 1.0), (ctx.us, 0.5)):
            lts = np.array([x for x in org.lieutenants if rng.random() < share], dtype=object)
            (leader,) = records.people(np.array([org.leader], dtype=object))
            lt_refs = records.people(lts)
            records.links("person", lt_refs, "person", np.full(len(lts), leader, dtype=object),
                          np.full(len(lts), "associate", dtype=object))
            if records is ctx.mx:
                fronts = records.companies(np.array(org.fronts, dtype=object))
                records.links("organization", fronts, "person", np.full(len(fronts), leader, dtype=object),
                              np.full(len(fronts), "owner", dtype=object))
