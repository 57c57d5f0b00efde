"""Precursor → lab chains: a diversion-risk score per shipment with its reasons, and likely lab regions.

Features per shipment (computed in the engine, written once):
  * quantity — ln(kg) unusual (|z| ≥ ``quantity_z``) for shipments of the same chemical and declared use;
  * lab link — the shipment's companies are linked to a lab or a seizure, directly or through an owner
    (company → person → lab/seizure/firearm trace);
  * third-party consignee — consigned to someone other than the importer;
  * seized — the shipment itself, or another of the same importer, was seized;
  * routing — the port carries under ``rare_port_share`` of the chemical's shipments;
  * new importer — one of the importer's first ``new_importer_count`` shipments, or a company whose RFC
    says it was incorporated less than ``young_company_days`` before the shipment;
  * no PEN — no pre-export notification reference.
The score is a weighted sum of the features squashed to 0–1; the reasons list the features that fired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3
import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from puente.analyze.chains import entity_links
from puente.analyze.common import coarsen, flag
from puente.engine import Engine

# Judgement weights (not fitted to any data set): strong evidence of a criminal tie counts most.
WEIGHTS = {"lab_link": 2.5, "seized": 1.5, "third_party_consignee": 1.5, "no_pen": 1.0, "new_importer": 1.0,
           "quantity": 0.7, "routing": 0.5}


@dataclass(frozen=True)
class RiskRules:
    quantity_z: float = 1.5
    rare_port_share: float = 0.1
    new_importer_count: int = 2
    young_company_days: int = 730


def shipment_features(engine: Engine, rules: RiskRules | None = None) -> pd.DataFrame:
    rules = rules or RiskRules()
    s = engine.table("precursor_shipment")
    s = s.mutate(kg=s.quantity_kg.cast("float64"), who=s.importer_taxid.fill_null(s.importer).fill_null(s.consignee),
                 use=s.declared_use.fill_null("?"), day=s.arrival_date.cast("date"))
    logkg = s.kg.clip(lower=0.001).ln()
    group = ibis.window(group_by=[s.chemical, s.use])
    chem = ibis.window(group_by=[s.chemical])
    port_chem = ibis.window(group_by=[s.chemical, s.port_id])
    order = ibis.window(group_by=[s.who], order_by=[s.day, s.id])
    f = s.mutate(
        qz=(logkg - logkg.mean().over(group)) / logkg.std().over(group),
        port_share=s.id.count().over(port_chem).cast("float64") / s.id.count().over(chem).cast("float64"),
        nth=ibis.row_number().over(order),
        was_seized=flag(s.status == "seized"),
    )
    f = f.mutate(who_seized=f.was_seized.max().over(ibis.window(group_by=[f.who])))
    linked = _criminal_links(engine)
    f = f.left_join(linked, f.id == linked.sid)
    expr = f.select(
        id=f.id, source_id=f.source_id, chemical=f.chemical, kg=f.kg, importer=f.who, port=f.port_name, day=f.day, status=f.status,
        quantity=flag(f.qz.fill_null(0.0).abs() >= rules.quantity_z), qz=f.qz.fill_null(0.0),
        lab_link=flag(f.sid.notnull()),
        third_party_consignee=flag(f.consignee.notnull() & (f.consignee.lower() != f.importer.fill_null("").lower())),
        taxid=f.importer_taxid,
        seized=f.who_seized.fill_null(0).cast("int64"),
        routing=flag(f.port_share < rules.rare_port_share),
        new_importer=flag(f.nth <= rules.new_importer_count),
        no_pen=flag(f.pen_reference.isnull()),
    )
    out = engine.run(expr).sort_values("id").reset_index(drop=True)
    out["qz"] = out["qz"].round(9)
    founded = pd.to_datetime(out["taxid"].map(rfc_founded))
    young = (out["day"] - founded).dt.days < rules.young_company_days
    out["new_importer"] = (out["new_importer"].astype(bool) | young.fillna(False)).astype("int64")
    return out.drop(columns=["taxid"])


def rfc_founded(taxid: object) -> pd.Timestamp | None:
    """Incorporation date in a Mexican company RFC (three letters, YYMMDD, homoclave), else None."""
    if not isinstance(taxid, str) or len(taxid) != 12 or not taxid[3:9].isdigit():
        return None
    yy, mm, dd = int(taxid[3:5]), int(taxid[5:7]), int(taxid[7:9])
    try:
        return pd.Timestamp(year=(2000 if yy < 50 else 1900) + yy, month=mm, day=dd)
    except ValueError:
        return None


def _resolved(engine: Engine, t: ir.Table, *cols: str) -> ir.Table:
    """``t`` with each of ``cols`` (record ids) replaced by its resolved entity (``link_entities``) when the
    node has run entity resolution: the owner of a front company and the person arrested at a lab are two
    records, often under name variants, and only resolution makes them one person."""
    if not engine.has_table("link_entities"):
        return t
    for col in cols:
        le = engine.table("link_entities")
        le = le.select(_rid=le.record_id, _cid=le.cluster_id)
        j = t.left_join(le, t[col] == le._rid)
        t = j.mutate(**{col: j._cid.fill_null(j[col])}).drop("_rid", "_cid")
    return t


def _criminal_links(engine: Engine) -> ir.Table:
    """Shipments whose companies are tied to a lab, seizure or firearm trace, directly or via an owner
    (over resolved entities when the node has them)."""
    ship = _resolved(engine, entity_links(engine, "precursor_shipment"), "entity")
    crime = None
    for kind in ("lab_site", "seizure", "firearm_trace"):
        if engine.has_table(kind):
            part = entity_links(engine, kind).select(ce=ibis._.entity)
            crime = part if crime is None else crime.union(part)
    if crime is None:
        return ship.select(sid=ship.event).filter(ibis.literal(False))
    crime = _resolved(engine, crime, "ce").distinct()
    lk = engine.table("link")
    owners = lk.filter(lk.role.isin(["owner", "associate", "member", "leader"]))
    owners = owners.select(company=owners.from_id, person=owners.to_id).union(
        owners.select(company=owners.to_id, person=owners.from_id))
    owners = _resolved(engine, owners, "company", "person")
    direct = ship.join(crime, ship.entity == crime.ce).select(sid=ship.event)
    via = ship.join(owners, ship.entity == owners.company)
    via = via.join(crime, via.person == crime.ce).select(sid=via.event)
    return direct.union(via).distinct()


def diversion_risk(engine: Engine, rules: RiskRules | None = None) -> pd.DataFrame:
    """One row per shipment: risk (0–1), score, and the reasons that fired."""
    f = shipment_features(engine, rules)
    if f.empty:
        return f.assign(score=[], risk=[], reasons=[])
    score = np.zeros(len(f))
    reasons: list[list[str]] = [[] for _ in range(len(f))]
    for feature, weight in WEIGHTS.items():
        fired = f[feature].fillna(0).astype(int).to_numpy() == 1
        score += weight * fired
        for i in np.flatnonzero(fired):
            reasons[i].append(feature)
    # A continuous quantity term breaks ties among shipments with the same flags.
    score += 0.1 * np.clip(f["qz"].to_numpy(dtype=float), -3, 3)
    f["score"] = score.round(9)
    f["risk"] = [round(1 / (1 + math.exp(-(x - 2.0))), 9) for x in score]
    f["reasons"] = [";".join(r) for r in reasons]
    return f.sort_values(["risk", "id"], ascending=[False, True]).reset_index(drop=True)


def lab_regions(engine: Engine, resolution: int = 5, min_score: float = 1.0, lab_weight: float = 3.0,
                seizure_weight: float = 0.2, transit_km: float = 150.0, min_share: float = 0.01) -> pd.DataFrame:
    """Likely lab regions (H3 cells), also where no lab was ever dismantled.

    Evidence, weighted and smoothed over neighbouring cells:

    * dismantled labs (``lab_site``), ``lab_weight`` each;
    * Mexican seizures away from the crossings: a load seized within ``transit_km`` of a port of entry is on
      its way across (border cities and the roads to them mark routes, not production), one seized farther
      inland is near where it was made. Each counts ``seizure_weight`` times the cell's **lot
      concentration**: the number of distinct makers' marks (the logo of a ``batch`` lot mark, ``AB-12`` of
      ``AB-12/0412``) expected among the cell's marked loads if they were drawn from every inland seizure,
      over the number seen — a cell where few makers' lots make up the loads is where they are made, a hub
      every route passes through shows many.

    A cell is a region when its score reaches ``min_score`` and either a dismantled lab is in it or next to it,
    or it holds at least ``min_share`` of the inland seizures (one stray seizure is not a region). Each region
    gives its evidence: ``labs``, ``seizures`` (inland), ``marks`` (distinct), ``concentration`` and
    ``basis`` (``dismantled_lab`` or ``inland_seizures``)."""
    cols = ["cell", "score", "labs", "seizures", "marks", "concentration", "basis", "lat", "lon"]
    parts = []
    if engine.has_table("lab_site"):
        lab = engine.table("lab_site")
        lab = lab.filter(lab.place_h3.notnull())
        parts.append(engine.run(lab.select(h3=lab.place_h3, lat=lab.place_lat.cast("float64"),
                                           lon=lab.place_lon.cast("float64"))).assign(kind="lab", batch=None))
    sz = engine.table("seizure")
    sz = sz.filter(sz.place_h3.notnull() & (sz.place_country == "MX") & sz.port_id.isnull())
    seized = engine.run(sz.select(h3=sz.place_h3, lat=sz.place_lat.cast("float64"), lon=sz.place_lon.cast("float64"),
                                  batch=sz.batch))
    seized = seized[_km_to_crossing(seized["lat"].to_numpy(float), seized["lon"].to_numpy(float)) >= transit_km]
    parts.append(seized.assign(kind="seizure"))
    events = pd.concat(parts, ignore_index=True)
    if events.empty:
        return pd.DataFrame(columns=cols)
    events["cell"] = coarsen(events, "h3", resolution)
    events["mark"] = events["batch"].map(_maker_mark)
    is_lab = events["kind"] == "lab"
    agg = events.groupby("cell").agg(labs=("kind", lambda k: int((k == "lab").sum())),
                                     seizures=("kind", lambda k: int((k == "seizure").sum())),
                                     marked=("mark", "count"), marks=("mark", "nunique"))
    agg["concentration"] = _concentration(events[~is_lab], agg)
    agg["w"] = lab_weight * agg["labs"] + seizure_weight * agg["seizures"] * agg["concentration"]
    events["w"] = np.where(is_lab, lab_weight, seizure_weight * events["cell"].map(agg["concentration"]))
    events["wlat"], events["wlon"] = events["lat"] * events["w"], events["lon"] * events["w"]
    centre = events.groupby("cell")[["w", "wlat", "wlon"]].sum()
    own = agg["w"].to_dict()
    agg["score"] = [own[c] + 0.5 * sum(own.get(n, 0.0) for n in h3.grid_disk(c, 1) if n != c) for c in agg.index]
    labs = agg["labs"].to_dict()
    near_lab = pd.Series([sum(labs.get(n, 0) for n in h3.grid_disk(c, 1)) > 0 for c in agg.index], index=agg.index)
    inland = agg["seizures"] >= max(1.0, min_share * float(agg["seizures"].sum()))
    agg = agg[(near_lab | inland) & (agg["score"] >= min_score)].copy()
    agg["basis"] = np.where(near_lab[agg.index], "dismantled_lab", "inland_seizures")
    agg["lat"] = centre["wlat"] / centre["w"].where(centre["w"] > 0)
    agg["lon"] = centre["wlon"] / centre["w"].where(centre["w"] > 0)
    out = agg.reset_index()
    out[["labs", "seizures", "marks"]] = out[["labs", "seizures", "marks"]].astype("int64")
    out["score"] = out["score"].round(9)
    out["concentration"] = out["concentration"].round(6)
    return out[cols].sort_values(["score", "cell"], ascending=[False, True]).reset_index(drop=True)


def _maker_mark(batch: object) -> str | None:
    """The maker's logo of a lot mark (``AB-12`` of ``AB-12/0412``); None when there is no mark."""
    if batch is None or (isinstance(batch, float) and math.isnan(batch)):
        return None
    text = str(batch).strip().upper()
    return text.split("/")[0].strip() or None


def _concentration(seized: pd.DataFrame, cells: pd.DataFrame) -> pd.Series:
    """Per cell: distinct marks expected among its marked seizures if drawn from every inland seizure's marks,
    over the distinct marks seen (1 where it has fewer than 3 marked seizures: too few to tell)."""
    p = seized["mark"].dropna().value_counts(normalize=True).to_numpy(float)
    out = pd.Series(1.0, index=cells.index)
    for cell, row in cells.iterrows():
        if row["marked"] >= 3 and row["marks"] > 0:
            expected = float((1 - (1 - p) ** row["marked"]).sum())
            out[cell] = max(1.0, expected / row["marks"])
    return out


def _km_to_crossing(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Distance (km) from each point to the nearest land crossing into the U.S. (the gazetteer's U.S. ports of
    entry; Mexico's sea and air ports of entry, where precursors arrive, are not crossings)."""
    ports = _crossings()
    if not len(lat) or not len(ports):
        return np.full(len(lat), np.inf)
    a, b = np.radians(lat)[:, None], np.radians(lon)[:, None]
    c, d = np.radians(ports[:, 0])[None, :], np.radians(ports[:, 1])[None, :]
    h = np.sin((c - a) / 2) ** 2 + np.cos(a) * np.cos(c) * np.sin((d - b) / 2) ** 2
    out: np.ndarray = np.asarray(2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(h, 1)))).min(axis=1)
    return out


def _crossings() -> np.ndarray:
    from puente.geo.gazetteer import load_gazetteer

    g = load_gazetteer()
    pts = [(p.lat, p.lon) for p in g.places.values() if p.kind == "port" and p.id.startswith("POE-")
           and p.country == "US" and p.lat is not None and p.lon is not None]
    return np.array(pts, dtype=float).reshape(-1, 2)
