"""Precursor → lab chains: shipment → company → person → dismantled lab, with the evidence for each hop.

A chain is written when a precursor shipment's importer or consignee is (as a resolved entity) a company
that a person is tied to — owner, representative, partner, associate, member, leader: any recorded
relation between the company and a person — and that same person (as a resolved entity) was arrested or
found operating at a dismantled lab — or a lab record names the company itself (``relation`` = ``direct``) — that was found **on or after** the shipment arrived (chemicals that
arrived after a lab was dismantled did not feed it).

The records of one hop seldom name the same record: the company register spells the owner one way, the
lab's arrest report another, and the customs declaration links its own copy of the company. Entity
resolution (``link_entities``, :mod:`puente.analyze.resolution`) joins them; each hop says how:
``same_record``, or ``entity_resolution`` with the match probability of the two records when the model
scored that pair (``link_matches``), or none when they were joined through other records of the entity
(``transitive``). Without a resolution, only chains whose hops name the very same records are found.

One row per (shipment, lab): the strongest path (highest ``score``, the product of the hop scores, a
transitive hop counting as the run's threshold), with ``paths`` the number of paths found. ``chemical_match``
says whether the lab's seized chemicals include the shipment's chemical; chains where the lab lists
chemicals and not this one are left out (the lab was not working with it), unless ``require_chemical`` is
off.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from puente.engine import Engine

COMPANY_ROLES = ("importer", "consignee")  # the exporter is the foreign seller, not the buyer
LAB_KIND, SHIPMENT_KIND = "lab_site", "precursor_shipment"

COLUMNS = ["shipment", "shipment_ref", "arrival_date", "chemical", "company", "company_label", "company_role",
           "company_record", "company_rule", "company_score", "relation", "relation_link", "owner_company_record",
           "person", "person_label", "owner_record", "lab_person_record", "person_rule", "person_score",
           "lab", "lab_ref", "lab_date", "lab_role", "lab_link", "chemical_match", "days", "score", "paths"]


def _links(engine: Engine, kind_a: str, kinds_b: tuple[str, ...]) -> pd.DataFrame:
    """(link, a, b, role): links between a record of ``kind_a`` and one of ``kinds_b``, either direction."""
    lk = engine.table("link")
    fwd = lk.filter((lk.from_kind == kind_a) & lk.to_kind.isin(kinds_b)).select(
        link=lk.id, a=lk.from_id, b=lk.to_id, role=lk.role)
    back = lk.filter((lk.to_kind == kind_a) & lk.from_kind.isin(kinds_b)).select(
        link=lk.id, a=lk.to_id, b=lk.from_id, role=lk.role)
    out = engine.run(fwd.union(back))
    return out.dropna(subset=["a", "b"]).reset_index(drop=True)


def _resolution(engine: Engine) -> tuple[dict[str, str], dict[tuple[str, str], float], dict[str, float]]:
    """record → entity, (record, record) → match probability, kind → the threshold of its latest run."""
    if not engine.has_table("link_entities"):
        return {}, {}, {}
    le = engine.table("link_entities")
    ents = engine.run(le.filter(le.kind.isin(["person", "organization"])).select("record_id", "cluster_id"))
    entity = dict(zip(ents["record_id"], ents["cluster_id"]))
    scores: dict[tuple[str, str], float] = {}
    if engine.has_table("link_matches"):
        m = engine.table("link_matches")
        pairs = engine.run(m.filter(m.kind.isin(["person", "organization"])).select(
            "record_l", "record_r", "match_probability"))
        for a, b, p in zip(pairs["record_l"], pairs["record_r"], pairs["match_probability"]):
            scores[(a, b) if a < b else (b, a)] = float(p)
    thresholds: dict[str, float] = {}
    if engine.has_table("link_runs"):
        r = engine.table("link_runs")
        runs = engine.run(r.select("kind", "started_at", "threshold")).sort_values("started_at")
        thresholds = dict(zip(runs["kind"], runs["threshold"].astype(float)))
    return entity, scores, thresholds


def _hop(left: pd.Series, right: pd.Series, scores: dict[tuple[str, str], float],
         floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How two records of one entity were joined: rule, the pair's match probability (None when transitive),
    and the score the chain counts (1 for the same record, the threshold for a transitive join)."""
    rules, probs, counted = [], [], []
    for a, b in zip(left, right):
        if a == b:
            rules.append("same_record")
            probs.append(1.0)
            counted.append(1.0)
            continue
        p = scores.get((a, b) if a < b else (b, a))
        rules.append("entity_resolution" if p is not None else "transitive")
        probs.append(p if p is not None else np.nan)
        counted.append(p if p is not None else floor)
    return np.array(rules, dtype=object), np.array(probs, dtype=float), np.array(counted, dtype=float)


def precursor_lab_chains(engine: Engine, require_chemical: bool = True) -> pd.DataFrame:
    """The written chains (see the module docstring), strongest first."""
    if not (engine.has_table(SHIPMENT_KIND) and engine.has_table(LAB_KIND) and engine.has_table("link")):
        return pd.DataFrame(columns=COLUMNS)
    entity, scores, thresholds = _resolution(engine)
    of = np.vectorize(lambda r: entity.get(r, r), otypes=[object])
    org_floor, person_floor = thresholds.get("organization", 0.5), thresholds.get("person", 0.5)

    ship = _links(engine, SHIPMENT_KIND, ("organization",))
    ship = ship[ship["role"].isin(COMPANY_ROLES)].rename(
        columns={"link": "ship_link", "a": "shipment", "b": "company_record", "role": "company_role"})
    owners = _links(engine, "organization", ("person",)).rename(
        columns={"link": "relation_link", "a": "owner_company_record", "b": "owner_record", "role": "relation"})
    labs = _links(engine, LAB_KIND, ("person",)).rename(
        columns={"link": "lab_link", "a": "lab", "b": "lab_person_record", "role": "lab_role"})
    at_lab = _links(engine, LAB_KIND, ("organization",)).rename(
        columns={"link": "lab_link", "a": "lab", "b": "owner_company_record", "role": "lab_role"})
    if ship.empty or (labs.empty and at_lab.empty):
        return pd.DataFrame(columns=COLUMNS)
    ship["company"] = of(ship["company_record"].to_numpy())
    owners["company"] = of(owners["owner_company_record"].to_numpy())
    owners["person"] = of(owners["owner_record"].to_numpy())
    labs["person"] = of(labs["lab_person_record"].to_numpy())
    at_lab["company"] = of(at_lab["owner_company_record"].to_numpy())
    # company -> person -> lab, and company -> lab where a lab record names the company itself (``direct``)
    via_people = ship.merge(owners, on="company").merge(labs, on="person")
    direct = ship.merge(at_lab, on="company").assign(relation="direct", relation_link=None, person=None,
                                                      owner_record=None, lab_person_record=None)
    paths = pd.concat([p for p in (via_people, direct) if len(p)], ignore_index=True) \
        if len(via_people) or len(direct) else via_people
    if paths.empty:
        return pd.DataFrame(columns=COLUMNS)
    s = engine.table(SHIPMENT_KIND)
    shipments = engine.run(s.filter(s.id.isin(list(paths["shipment"].unique()))).select(
        shipment=s.id, shipment_ref=s.source_id, arrival_date=s.arrival_date.cast("date"), chemical=s.chemical))
    lab_t = engine.table(LAB_KIND)
    lab_rows = engine.run(lab_t.filter(lab_t.id.isin(list(paths["lab"].unique()))).select(
        lab=lab_t.id, lab_ref=lab_t.source_id, lab_date=lab_t.date_found.cast("date"),
        lab_chemicals=lab_t.chemicals))
    paths = paths.merge(shipments, on="shipment").merge(lab_rows, on="lab")
    arrival, found = pd.to_datetime(paths["arrival_date"]), pd.to_datetime(paths["lab_date"])
    paths["days"] = (found - arrival).dt.days
    paths = paths[paths["days"].isna() | (paths["days"] >= 0)]
    listed = paths["lab_chemicals"].fillna("").map(lambda c: {x.strip() for x in re.split(r"[;|,]", str(c)) if x.strip()})
    paths["chemical_match"] = [bool(chem in lst) if lst else None for chem, lst in zip(paths["chemical"], listed)]
    if require_chemical:
        paths = paths[paths["chemical_match"].map(lambda m: m is not False)]
    if paths.empty:
        return pd.DataFrame(columns=COLUMNS)
    paths = paths.reset_index(drop=True)
    paths["company_rule"], paths["company_score"], c_count = _hop(
        paths["company_record"], paths["owner_company_record"], scores, org_floor)
    paths["person_rule"], paths["person_score"], p_count = _hop(
        paths["owner_record"], paths["lab_person_record"], scores, person_floor)
    no_person = paths["person"].isna().to_numpy()
    paths.loc[no_person, ["person_rule", "person_score"]] = [None, np.nan]
    p_count = np.where(no_person, 1.0, p_count)
    paths["score"] = np.round(c_count * p_count, 9)
    paths["paths"] = paths.groupby(["shipment", "lab"])["score"].transform("size").astype("int64")
    paths = paths.sort_values(["score", "shipment", "lab", "relation_link", "lab_link"],
                              ascending=[False, True, True, True, True])
    best = paths.drop_duplicates(["shipment", "lab"]).copy()
    best["days"] = [None if pd.isna(d) else int(d) for d in best["days"]]
    labels = _labels(engine, set(best["company"]) | set(best["person"]))
    best["company_label"] = best["company"].map(labels)
    best["person_label"] = best["person"].map(labels)
    best = best.sort_values(["score", "arrival_date", "shipment", "lab"], ascending=[False, True, True, True])
    return best[COLUMNS].reset_index(drop=True)


def _labels(engine: Engine, ids: set[str]) -> dict[str, str]:
    """A readable name for each entity (its anchor record's name)."""
    out: dict[str, str] = {}
    wanted = list(ids)
    if engine.has_table("person"):
        p = engine.table("person")
        rows = engine.run(p.filter(p.id.isin(wanted)).select(
            id=p.id, label=p.given_names.fill_null("").concat(" ", p.surname1.fill_null("")).strip()))
        out.update(zip(rows["id"], rows["label"]))
    if engine.has_table("organization"):
        o = engine.table("organization")
        rows = engine.run(o.filter(o.id.isin(wanted)).select(id=o.id, label=o.name.cast("string")))
        out.update(zip(rows["id"], rows["label"]))
    return out
