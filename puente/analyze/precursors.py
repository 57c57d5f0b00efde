"""Precursor → lab chains: a diversion-risk score per shipment with its reasons, and likely lab regions.

Features per shipment (computed in the engine, written once); none decides alone, the score adds them up:
  * quantity — how unusual ln(kg) is for shipments of the same chemical and declared use, graded 0–1
    (|z| from ``quantity_z`` up to ``quantity_z`` + 2): a lab-sized lot declared as an industrial input, or a
    drum declared as a laboratory reagent;
  * lab link — the shipment's companies are linked to a lab or a seizure, directly or through an owner
    (company → person → lab/seizure/firearm trace, over resolved entities), or a dismantled lab's evidence
    cites declarations of the same importer (at least ``MIN_CITED_SHARE`` of its declarations: a misread
    number lands on a large firm now and then);
  * third-party consignee — consigned to someone other than the importer;
  * seized — the shipment was seized;
  * routing — the port carries under ``rare_port_share`` of the chemical's shipments;
  * new importer — one of the importer's first ``new_importer_count`` shipments, or a company whose RFC
    says it was incorporated less than ``young_company_days`` before the shipment;
  * occasional importer — the importer filed fewer declarations than the average importer;
  * no PEN — no pre-export notification reference.
Quantity, third-party consignee, routing, new importer, no PEN and seized are read half from the shipment and half from
its importer's habit (``FIRM_FEATURES``: the share of the importer's declarations with the flag, shrunk towards
the overall share), so the front's other shipments speak for each one and no single flag carries the score.
The score is the weighted sum of the features; the reasons list the features that fired. The weights are fitted
per node without any truth (:func:`fit_weights`): a two-class latent model over the features, with the documented
judgement weights (``PRIOR_WEIGHTS``) as its prior, so a feature that fires independently of the others weighs
little on this node's data and a small node scores much as with the judgement weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import h3
import ibis
import numpy as np
import pandas as pd

from puente.analyze.chains import ENTITY_KINDS
from puente.analyze.common import coarsen, flag
from puente.analyze.papers import citations, names_chemical, pedimento_key
from puente.analyze.supply import links_between, resolved_entities
from puente.engine import Engine

# Judgement weights (not fitted to any data set): strong evidence of a criminal tie counts most. They are the prior
# of the weights fitted per node (fit_weights), and the weights themselves where a node has few shipments.
PRIOR_WEIGHTS = {"lab_link": 2.5, "seized": 0.75, "third_party_consignee": 0.75, "no_pen": 1.0, "new_importer": 1.0,
                 "quantity": 2.0, "routing": 0.5, "occasional_importer": 1.0}
FEATURES = tuple(PRIOR_WEIGHTS)
# The prior of the fitted model, in pseudo-shipments per class: each feature's rate in the diversion class is drawn
# towards the rate that gives its judgement weight, as if PRIOR_STRENGTH shipments of that class had been seen
# at that rate (the other class likewise at the overall rate). PRIOR_SHARE: the prior share of the diversion class.
PRIOR_STRENGTH = 50.0
PRIOR_SHARE = 0.1
# Shipment-level signals read beside the importer's habit: half the feature is this shipment's flag, half the
# share of the importer's declarations that carry it, shrunk towards the share over all importers as if the
# importer had FIRM_PRIOR more declarations at that share (one odd declaration of a large firm says little; a
# firm that habitually ships without PEN, to third parties or in odd sizes says more).
FIRM_FEATURES = ("no_pen", "quantity", "third_party_consignee", "routing", "new_importer", "seized")
# An importer is tied to a lab by its papers when at least this share of its declarations is cited there.
MIN_CITED_SHARE = 0.05
FIRM_MIX = 0.5
FIRM_PRIOR = 5.0


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
    out["seized"] = out["was_seized"].fillna(0).astype("int64")  # read beside the importer's share (FIRM_FEATURES)
    nth = out.assign(_k=key).sort_values(["day", "id"]).groupby("_k").cumcount() + 1
    founded = pd.to_datetime(out["taxid"].map(rfc_founded))
    young = (out["day"] - founded).dt.days < rules.young_company_days
    out["new_importer"] = ((nth.reindex(out.index) <= rules.new_importer_count) | young.fillna(False)).astype("int64")
    declarations = out.groupby(key)["id"].transform("size")
    out["occasional_importer"] = (declarations < len(out) / max(key.nunique(), 1)).astype("int64")
    cited = _cited_importers(engine, out, key)
    out["lab_link"] = (out["id"].isin(_criminal_links(engine)) | key.isin(cited)).astype("int64")
    for feature in FIRM_FEATURES:  # the shipment's own flag stays readable beside the feature (``<feature>_shipment``)
        out[f"{feature}_shipment"] = out[feature].astype(float).round(9)
        out[feature] = (1 - FIRM_MIX) * out[feature].astype(float) + FIRM_MIX * _firm_share(out[feature], key)
        out[feature] = out[feature].round(9)
    return out.drop(columns=["taxid", "was_seized"])


def _firm_share(flag: pd.Series, firm: pd.Series) -> pd.Series:
    """Per shipment: the share of its importer's declarations with ``flag``, shrunk towards the share over all
    declarations by FIRM_PRIOR pseudo-declarations."""
    value = flag.astype(float).fillna(0.0)
    group = value.groupby(firm.to_numpy())
    total, count = group.transform("sum"), group.transform("size")
    return (total + FIRM_PRIOR * float(value.mean())) / (count + FIRM_PRIOR)


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
    named: dict[str, set[str | None]] = {}  # cited number → the chemicals its items name (None: none named)
    for text in evidence:
        for _, number, chem in citations(text):
            named.setdefault(number, set()).add(chem)
    ship_keys = shipments["source_id"].map(pedimento_key)
    # a number whose item names another chemical than the declaration's is a misread, not this declaration
    hit = pd.Series([any(names_chemical(c, chem) for c in named.get(k, ())) if isinstance(k, str) else False
                     for k, chem in zip(ship_keys, shipments["chemical"])], index=shipments.index, dtype=float)
    # a front's drums are found at the raids of the labs it supplies: a sizeable part of its declarations; a
    # misread number that lands on a real declaration picks a firm in proportion to its volume, so a large firm
    # collects one or two among thousands
    share = hit.groupby(key.to_numpy()).mean()
    return set(share[share >= MIN_CITED_SHARE].index)


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
    bad = crime | tainted  # once, not per shipment: at scale 200,000 the union per row never finished
    return {s for s, b in zip(ship["a"], ship["b"]) if entity.get(b, b) in bad}


@dataclass(frozen=True)
class FittedWeights:
    """A two-class latent model of the features (:func:`fit_weights`). ``weights``: per feature, the log-likelihood
    ratio of one unit of it (log-odds of the feature in the diversion class minus in the other); the score is
    ``sum(weights[f] * feature)``, and ``intercept`` + score the log-odds of the diversion class."""

    weights: dict[str, float]
    intercept: float
    share: float  # the share of the diversion class (the prior's: pairwise moments do not tell it)
    rate_diversion: dict[str, float]  # a feature's mean in the diversion class
    rate_other: dict[str, float]

    def score(self, features: pd.DataFrame) -> np.ndarray:
        score = np.zeros(len(features))
        for name, weight in self.weights.items():
            score += weight * features[name].fillna(0).astype(float).to_numpy()
        return score


def fit_weights(features: pd.DataFrame, names: Sequence[str] | None = None,
                prior: Mapping[str, float] | None = None, strength: float = PRIOR_STRENGTH,
                share: float = PRIOR_SHARE) -> FittedWeights:
    """Fit the features' weights on this node's shipments, without any truth: a two-class latent model.

    A shipment is of the diversion class (share ``share``) or not; each feature has its own mean in each class and,
    given the class, the features are independent. Then the covariance of two features is
    ``share·(1 − share)·d_f·d_g``, d the difference of a feature's class means, so for three features
    ``d_f² = cov(f,g)·cov(f,h) / (cov(g,h)·share·(1 − share))``. Each feature's d is the **median** over every pair
    (g, h) of the others (the method of moments, made robust): two features that go together for another reason
    than diversion (an occasional importer is often a new one) cannot lift each other, since only the few triads
    holding both are off; a feature that fires independently of the others gets d ≈ 0. (Likelihood EM over the
    same model was tried first: it fits the strongest co-occurrence, which can be such a pair rather than
    diversion — bench/results/analytics.md.)

    The weight is the feature's log-likelihood ratio per unit: for a flag (0/1), Bernoulli in each class,
    ``logit(mean in the class) − logit(mean outside it)``; for a graded feature (``FIRM_FEATURES``: half the
    shipment, half its importer's habit), normal in each class with one variance, ``d / within-class variance``
    (a flag's Bernoulli odds would undercount a feature whose values spread little within a class).

    The judgement weights are the prior: d is drawn towards the d that makes the weight the judgement weight, as
    ``strength`` pseudo-shipments against the class's expected shipments (``share`` × shipments), so a node with
    few shipments scores much as with the judgement weights."""
    prior = dict(PRIOR_WEIGHTS if prior is None else prior)
    names = [c for c in (names if names is not None else FEATURES) if c in features.columns]
    k, n = len(names), len(features)
    x = np.column_stack([features[c].fillna(0).astype(float).clip(0.0, 1.0).to_numpy() for c in names]) \
        if k else np.zeros((n, 0))
    eps, floor = 1e-4, 1e-6
    mean = x.mean(axis=0) if n else np.zeros(k)
    cov = np.atleast_2d(np.cov(x, rowvar=False)) if n > 1 and k else np.zeros((k, k))
    fitted = np.zeros(k)
    for f in range(k):
        others = [g for g in range(k) if g != f]
        triads = [cov[f, g] * cov[f, h] / cov[g, h] for i, g in enumerate(others) for h in others[i + 1:]
                  if abs(cov[g, h]) > 1e-12]
        if triads:
            fitted[f] = math.sqrt(max(float(np.median(triads)), 0.0) / (share * (1 - share)))
    between = share * (1 - share)
    n1 = share * n
    weights, rate1, rate0, intercept = {}, {}, {}, math.log(share / (1 - share))
    for f, c in enumerate(names):
        w_prior = prior.get(c, 0.0)
        if c in FIRM_FEATURES:  # graded: normal in each class, one variance
            within = max(float(cov[f, f] - between * fitted[f] ** 2), floor) if n > 1 else floor
            d = (n1 * float(fitted[f]) + strength * w_prior * within) / (n1 + strength)
            m1, m0 = float(mean[f] + (1 - share) * d), float(mean[f] - share * d)
            w = float(d / within)
            intercept -= w * (m1 + m0) / 2
        else:  # a flag: Bernoulli in each class
            overall = min(max(float(mean[f]), eps), 1 - eps)
            d = (n1 * float(fitted[f]) + strength * _flag_prior(overall, w_prior, share)) / (n1 + strength)
            m1 = min(max(overall + (1 - share) * d, eps), 1 - eps)
            m0 = min(max(overall - share * d, eps), 1 - eps)
            w = math.log(m1 / (1 - m1)) - math.log(m0 / (1 - m0))
            intercept += math.log((1 - m1) / (1 - m0))
        weights[c], rate1[c], rate0[c] = round(w, 9), round(m1, 9), round(m0, 9)
    return FittedWeights(weights, round(intercept, 9), share, rate1, rate0)


def _flag_prior(overall: float, weight: float, share: float) -> float:
    """The difference of a flag's class means (m1 − m0) for which ``logit(m1) − logit(m0)`` is ``weight`` and
    ``share·m1 + (1 − share)·m0`` is the flag's overall mean (by bisection on m0)."""
    lo, hi = 0.0, overall
    for _ in range(60):
        m0 = (lo + hi) / 2
        m1 = 1 / (1 + math.exp(-weight) * (1 - m0) / m0) if m0 > 0 else 0.0
        lo, hi = (m0, hi) if share * m1 + (1 - share) * m0 < overall else (lo, m0)
    m0 = (lo + hi) / 2
    return 1 / (1 + math.exp(-weight) * (1 - m0) / m0) - m0


def weights_table(fit: FittedWeights, features: pd.DataFrame) -> pd.DataFrame:
    """The fitted weights as written (``precursors_weights``): one row per feature."""
    rows = [{"feature": n, "weight": w, "prior_weight": PRIOR_WEIGHTS.get(n, 0.0),
             "rate_diversion": fit.rate_diversion[n], "rate_other": fit.rate_other[n],
             "fired": int((features[n].fillna(0).astype(float) > 0).sum()), "shipments": len(features),
             "diversion_share": fit.share, "intercept": fit.intercept}
            for n, w in fit.weights.items()]
    return pd.DataFrame(rows, columns=["feature", "weight", "prior_weight", "rate_diversion", "rate_other", "fired",
                                       "shipments", "diversion_share", "intercept"])


def diversion(engine: Engine, rules: RiskRules | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The risk per shipment (:func:`diversion_risk`) and the weights fitted on this node (``precursors_weights``)."""
    f = shipment_features(engine, rules)
    fit = fit_weights(f)
    if f.empty:
        return f.assign(score=[], risk=[], reasons=[]), weights_table(fit, f)
    score = fit.score(f)
    reasons: list[list[str]] = [[] for _ in range(len(f))]
    for feature in fit.weights:
        own = f.get(f"{feature}_shipment", f[feature]).fillna(0).astype(float).to_numpy()
        for i in np.flatnonzero(own > 0):  # a reason is what this shipment shows, not only its importer's habit
            reasons[i].append(feature)
    f["score"] = score.round(9)
    # the fitted model's posterior of the diversion class
    f["risk"] = [round(1 / (1 + math.exp(-max(min(x + fit.intercept, 700.0), -700.0))), 9) for x in score]
    f["reasons"] = [";".join(r) for r in reasons]
    risk = f.sort_values(["risk", "id"], ascending=[False, True]).reset_index(drop=True)
    return risk, weights_table(fit, f)


def diversion_risk(engine: Engine, rules: RiskRules | None = None) -> pd.DataFrame:
    """One row per shipment: risk (0–1, the fitted model's posterior of the diversion class), score (the weighted
    sum of the features, with the weights fitted on this node) and the reasons that fired."""
    return diversion(engine, rules)[0]


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
