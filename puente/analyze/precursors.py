"""Precursor → lab chains: a diversion-risk score per shipment with its reasons, and likely lab regions.

Features per shipment (computed in the engine, written once); none decides alone, the score adds them up:
  * quantity — how unusual ln(kg) is for shipments of the same chemical and declared use, graded 0–1
    (|z| from ``quantity_z`` up to ``quantity_z`` + 2): a lab-sized lot declared as an industrial input, or a
    drum declared as a laboratory reagent;
  * lab link — the shipment's companies are linked to a lab or a seizure, directly or through an owner
    (company → person → lab/seizure/firearm trace, over resolved entities), or a dismantled lab's evidence
    cites a declaration of the same importer;
  * third-party consignee — consigned to someone other than the importer;
  * seized — the shipment itself, or another of the same importer, was seized;
  * routing — the port carries under ``rare_port_share`` of the chemical's shipments;
  * new importer — one of the importer's first ``new_importer_count`` shipments, or a company whose RFC
    says it was incorporated less than ``young_company_days`` before the shipment;
  * occasional importer — the importer filed fewer declarations than the average importer;
  * no PEN — no pre-export notification reference.
The score is the weighted sum of the features, squashed to 0–1; the reasons list the features that fired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3
import ibis
import numpy as np
import pandas as pd

from puente.analyze.chains import ENTITY_KINDS
from puente.analyze.common import coarsen, flag
from puente.analyze.supply import citations, links_between, pedimento_key, resolved_entities
from puente.engine import Engine

# Judgement weights (not fitted to any data set): strong evidence of a criminal tie counts most.
WEIGHTS = {"lab_link": 2.5, "seized": 0.75, "third_party_consignee": 0.75, "no_pen": 1.0, "new_importer": 1.0,
           "quantity": 2.0, "routing": 0.5, "occasional_importer": 1.0}


@dataclass(frozen=True)
class RiskRules:
    quantity_z: float = 0.5
    rare_port_share: float = 0.2
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
    f = s.mutate(
        qz=(logkg - logkg.mean().over(group)) / logkg.std().over(group),
        port_share=s.id.count().over(port_chem).cast("float64") / s.id.count().over(chem).cast("float64"),
        was_seized=flag(s.status == "seized"),
    )
    expr = f.select(
        id=f.id, source_id=f.source_id, chemical=f.chemical, kg=f.kg, importer=f.who, port=f.port_name, day=f.day, status=f.status,
        quantity=((f.qz.fill_null(0.0).abs() - rules.quantity_z) / 2).clip(lower=0.0, upper=1.0), qz=f.qz.fill_null(0.0),
        was_seized=f.was_seized,
        third_party_consignee=flag(f.consignee.notnull() & (f.consignee.lower() != f.importer.fill_null("").lower())),
        taxid=f.importer_taxid,
        routing=flag(f.port_share < rules.rare_port_share),
        no_pen=flag(f.pen_reference.isnull()),
    )
    out = engine.run(expr).sort_values("id").reset_index(drop=True)
    out["qz"] = out["qz"].round(9)
    # the importer as one firm: its resolved entity (customs copies and register records joined), else its
    # RFC or name as declared
    key = _importer_entities(engine, out)
    out["seized"] = out.groupby(key)["was_seized"].transform("max").fillna(0).astype("int64")
    nth = out.assign(_k=key).sort_values(["day", "id"]).groupby("_k").cumcount() + 1
    founded = pd.to_datetime(out["taxid"].map(rfc_founded))
    young = (out["day"] - founded).dt.days < rules.young_company_days
    out["new_importer"] = ((nth.reindex(out.index) <= rules.new_importer_count) | young.fillna(False)).astype("int64")
    declarations = out.groupby(key)["id"].transform("size")
    out["occasional_importer"] = (declarations < len(out) / max(key.nunique(), 1)).astype("int64")
    cited = _cited_importers(engine, out, key)
    out["lab_link"] = (out["id"].isin(_criminal_links(engine)) | key.isin(cited)).astype("int64")
    out["quantity"] = out["quantity"].astype(float).round(9)
    return out.drop(columns=["taxid", "was_seized"])


def _importer_entities(engine: Engine, shipments: pd.DataFrame) -> pd.Series:
    """Per shipment, its importer's resolved entity (else the linked record, else the RFC or name declared)."""
    entity = resolved_entities(engine)
    links = links_between(engine, "precursor_shipment", ("organization",))
    links = links[links["role"] == "importer"].sort_values("link").drop_duplicates("a")
    record = shipments["id"].map(dict(zip(links["a"], links["b"])))
    return record.map(lambda r: entity.get(r, r), na_action="ignore").fillna(shipments["importer"]).fillna("?")


def _cited_importers(engine: Engine, shipments: pd.DataFrame, key: pd.Series) -> set[str]:
    """Importers with a declaration that a dismantled lab's evidence cites (drum labels, papers)."""
    if not engine.has_table("lab_site") or "evidence" not in engine.table("lab_site").columns:
        return set()
    lab = engine.table("lab_site")
    evidence = engine.run(lab.filter(lab.evidence.notnull()).select("evidence"))["evidence"]
    keys = {key for text in evidence for _, key, _ in citations(text)}
    ship_keys = shipments["source_id"].map(pedimento_key)
    return set(key[ship_keys.isin(keys)])


def rfc_founded(taxid: object) -> pd.Timestamp | None:
    """Incorporation date in a Mexican company RFC (three letters, YYMMDD, homoclave), else None."""
    if not isinstance(taxid, str) or len(taxid) != 12 or not taxid[3:9].isdigit():
        return None
    yy, mm, dd = int(taxid[3:5]), int(taxid[5:7]), int(taxid[7:9])
    try:
        return pd.Timestamp(year=(2000 if yy < 50 else 1900) + yy, month=mm, day=dd)
    except ValueError:
        return None


def _criminal_links(engine: Engine) -> set[str]:
    """Shipments whose companies are tied to a lab, seizure or firearm trace, directly or via an owner
    (over resolved entities when the node has them: the owner of a front company and the person arrested at
    a lab are two records, often under name variants, and only resolution makes them one person)."""
    entity = resolved_entities(engine)
    ship = links_between(engine, "precursor_shipment", ("organization", "person"))
    crime: set[str] = set()
    for kind in ("lab_site", "seizure", "firearm_trace"):
        if engine.has_table(kind):
            crime |= {entity.get(b, b) for b in links_between(engine, kind, ENTITY_KINDS)["b"]}
    if not crime:
        return set()
    owners = links_between(engine, "organization", ("person",))
    owners = owners[owners["role"].isin(["owner", "associate", "member", "leader"])]
    tainted = {entity.get(c, c) for c, p in zip(owners["a"], owners["b"]) if entity.get(p, p) in crime}
    return {s for s, b in zip(ship["a"], ship["b"]) if entity.get(b, b) in crime | tainted}


def diversion_risk(engine: Engine, rules: RiskRules | None = None) -> pd.DataFrame:
    """One row per shipment: risk (0–1), score, and the reasons that fired."""
    f = shipment_features(engine, rules)
    if f.empty:
        return f.assign(score=[], risk=[], reasons=[])
    score = np.zeros(len(f))
    reasons: list[list[str]] = [[] for _ in range(len(f))]
    for feature, weight in WEIGHTS.items():
        value = f[feature].fillna(0).astype(float).to_numpy()
        score += weight * value
        for i in np.flatnonzero(value > 0):
            reasons[i].append(feature)
    f["score"] = score.round(9)
    f["risk"] = [round(1 / (1 + math.exp(-(x - 2.0))), 9) for x in score]
    f["reasons"] = [";".join(r) for r in reasons]
    return f.sort_values(["risk", "id"], ascending=[False, True]).reset_index(drop=True)


def lab_regions(engine: Engine, resolution: int = 5, min_score: float = 1.0,
                lab_weight: float = 3.0, seizure_weight: float = 0.2) -> pd.DataFrame:
    """Likely lab regions: H3 cells with a dismantled lab in or next to them, scored by dismantled labs and
    Mexican seizures away from the border, smoothed over neighbouring cells. Each region gives its evidence
    counts."""
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
    # Seizures alone mark transit (plazas, highways, border cities), not production: a region needs a
    # dismantled lab in it or next to it, and seizures only raise its score (measured: seizure-only regions
    # lay 40-780 km from any lab, bench/results/analytics.md).
    labs = agg["labs"].to_dict()
    agg = agg[[sum(labs.get(n, 0) for n in h3.grid_disk(c, 1)) > 0 for c in agg.index]]
    agg["lat"] = agg["wlat"] / agg["w"].where(agg["w"] > 0)
    agg["lon"] = agg["wlon"] / agg["w"].where(agg["w"] > 0)
    out = agg[agg["score"] >= min_score].reset_index()
    out[["labs", "seizures"]] = out[["labs", "seizures"]].astype("int64")
    out["score"] = out["score"].round(9)
    cols = ["cell", "score", "labs", "seizures", "lat", "lon"]
    return out[cols].sort_values(["score", "cell"], ascending=[False, True]).reset_index(drop=True)
