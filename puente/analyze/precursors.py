"""Precursor → lab chains: a diversion-risk score per shipment with its reasons, and likely lab regions.

Features per shipment (computed in the engine, written once):
  * quantity — z-score of ln(kg) against shipments of the same chemical and declared use;
  * lab link — the consignee/importer is linked to a lab, directly or through a shared entity;
  * seized — the shipment itself or another to the same consignee was seized/objected;
  * routing — the port carries under ``rare_port_share`` of the chemical's shipments, or no PEN;
  * new importer — the importer's first shipment, or one of its first ``new_importer_count``.
The score is a weighted sum of the features squashed to 0–1; the reasons list the features that fired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3
import ibis
import numpy as np
import pandas as pd

from puente.analyze.chains import entity_links
from puente.analyze.common import coarsen, flag
from puente.engine import Engine

WEIGHTS = {"quantity": 1.0, "lab_link": 2.5, "seized": 1.0, "routing": 0.7, "new_importer": 1.0, "no_pen": 0.5}


@dataclass(frozen=True)
class RiskRules:
    quantity_z: float = 2.0
    rare_port_share: float = 0.1
    new_importer_count: int = 2


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
        was_seized=flag(s.status.isin(["seized", "objected"])),
    )
    f = f.mutate(who_seized=f.was_seized.max().over(ibis.window(group_by=[f.who])))
    # consignee links to labs: the shipment's entities that also appear on a lab record
    ship_ent = entity_links(engine, "precursor_shipment")
    lab_ent = entity_links(engine, "lab_site").select(lab_entity=ibis._.entity).distinct()
    linked = ship_ent.join(lab_ent, ship_ent.entity == lab_ent.lab_entity).select(sid=ship_ent.event).distinct()
    f = f.left_join(linked, f.id == linked.sid)
    expr = f.select(
        id=f.id, chemical=f.chemical, kg=f.kg, importer=f.who, port=f.port_name, day=f.day, status=f.status,
        quantity=flag(f.qz.fill_null(0.0) >= rules.quantity_z), qz=f.qz.fill_null(0.0),
        lab_link=flag(f.sid.notnull()),
        seized=f.who_seized.fill_null(0).cast("int64"),
        routing=flag(f.port_share < rules.rare_port_share),
        new_importer=flag(f.nth <= rules.new_importer_count),
        no_pen=flag(f.pen_reference.isnull()),
    )
    out = engine.run(expr).sort_values("id").reset_index(drop=True)
    out["qz"] = out["qz"].round(9)
    return out


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


def lab_regions(engine: Engine, resolution: int = 5, min_score: float = 1.0,
                lab_weight: float = 3.0, seizure_weight: float = 0.2) -> pd.DataFrame:
    """Likely lab regions: H3 cells scored by dismantled labs (with their chemicals) and Mexican seizures
    away from the border, smoothed over neighbouring cells. Each region gives its evidence counts."""
    parts = []
    if engine.has_table("lab_site"):
        lab = engine.table("lab_site")
        lab = lab.filter(lab.place_h3.notnull())
        parts.append(lab.group_by(h3=lab.place_h3).agg(labs=lab.count(), seizures=ibis.literal(0).cast("int64"),
                                                        lat=lab.place_lat.mean(), lon=lab.place_lon.mean()))
    sz = engine.table("seizure")
    sz = sz.filter(sz.place_h3.notnull() & (sz.place_country == "MX") & sz.port_id.isnull()
                   & (sz.place_lat.cast("float64") < 30.5))
    parts.append(sz.group_by(h3=sz.place_h3).agg(labs=ibis.literal(0).cast("int64"), seizures=sz.count(),
                                                   lat=sz.place_lat.mean(), lon=sz.place_lon.mean()))
    expr = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    cells = engine.run(expr)
    if cells.empty:
        return pd.DataFrame(columns=["cell", "score", "labs", "seizures", "lat", "lon"])
    cells["cell"] = coarsen(cells, "h3", resolution)
    cells["w"] = lab_weight * cells["labs"] + seizure_weight * cells["seizures"]
    cells["wlat"], cells["wlon"] = cells["lat"] * cells["w"], cells["lon"] * cells["w"]
    agg = cells.groupby("cell").agg(labs=("labs", "sum"), seizures=("seizures", "sum"), w=("w", "sum"),
                                    wlat=("wlat", "sum"), wlon=("wlon", "sum"))
    own = agg["w"].to_dict()
    agg["score"] = [own[c] + 0.5 * sum(own.get(n, 0.0) for n in h3.grid_disk(c, 1) if n != c) for c in agg.index]
    agg["lat"] = agg["wlat"] / agg["w"].where(agg["w"] > 0)
    agg["lon"] = agg["wlon"] / agg["w"].where(agg["w"] > 0)
    out = agg[agg["score"] >= min_score].reset_index()
    out[["labs", "seizures"]] = out[["labs", "seizures"]].astype("int64")
    out["score"] = out["score"].round(9)
    cols = ["cell", "score", "labs", "seizures", "lat", "lon"]
    return out[cols].sort_values(["score", "cell"], ascending=[False, True]).reset_index(drop=True)
