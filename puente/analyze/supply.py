"""Precursor → lab chains: which shipments fed which dismantled lab, with the evidence for each hop (what the
labs' papers cite is read in :mod:`puente.analyze.papers`).

Three kinds of evidence tie a precursor shipment to a dismantled lab (``hop``), as an investigation does:

* ``document`` — the lab record's evidence (``evidence``: drum labels, copies of declarations seized at
  the raid) cites the shipment's import declaration (pedimento) number, however it was written (spaces,
  dashes or nothing between its parts); ``document_slip`` — a cited number that matches no declaration
  exactly is read as one slip (a digit changed or two swapped) of a declaration that arrived before the
  raid, carries the chemical the label names, and whose importer is tied to that lab otherwise; taken only
  when exactly one declaration fits;
* ``owner_arrested`` (or ``direct``) — the shipment's importer or consignee is (as a resolved entity) a
  company that a person is tied to — owner, representative, partner, associate, member, leader — and that
  same person (as a resolved entity) was arrested or found operating at the lab (or a lab record names the
  company itself); *contested* (a lead) when another lab's papers cite two of the company's declarations from
  this lab's supply window (see :func:`_contested`);
* ``same_company`` — the lab's papers cite at least two other declarations of the shipment's company (its
  consignee, else its importer; ``anchor_ref`` the nearest in time, ``support`` how many): a front supplies
  one lab at a time, so its other shipments that arrived within a run of those citations (no stretch of
  uncited declarations longer than the node's citation rate leaves by chance), or after the last run up to
  the supply lag before the raid, went there (see :mod:`puente.analyze.papers`).
* ``organisation`` — an inference, not a tie of the shipment's own records: a company with no confident chain
  of its own (a front registered to a front man) is tied by recorded relations (owner, associate, leader ...)
  to other fronts of one organisation whose confident chains name a lab that kept no papers, from shipments
  that arrived within ``ORG_WINDOW_DAYS`` of this one (see :func:`_organisation_paths`).

A lab found before a shipment arrived did not get it (``days`` ≥ 0), and a lab whose chemicals are listed
but not this one was not working with it (unless ``require_chemical`` is off; cited declarations are kept).
Each shipment fed one lab: cited declarations are written as cited; otherwise the lab with the most support
(the importer's citations there, plus one for an owner detained there) is taken, the earliest raid first.

The records of a hop seldom name the same record: the company register spells the owner one way, the lab's
arrest report another, and the customs declaration links its own copy of the company. Entity resolution
(``link_entities``, :mod:`puente.analyze.resolution`) joins them; each hop says how: ``same_record``, or
``entity_resolution`` with the match probability of the two records when the model scored that pair
(``link_matches``), or ``transitive`` when they were joined through other records of the entity. ``score``
is the product of the hop scores (a document 1, a slip 0.9, a transitive join the run's threshold, the
same importer 0.7 times its best path, the organisation 0.5) and ``paths`` the number of paths found for the pair.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from puente.analyze.papers import (
    MIN_CITATIONS,
    citations,
    document_paths,
    receivers,
    same_company_paths,
    supply_lag,
)
from puente.engine import Engine

# An owner detained at a lab without papers is a chain (not a lead) when the lab lists the shipment's chemical
# and at least this share of the company's shipments that arrived in time for the raid: the lab a front
# supplied lists what the front sent; a lab where its owner was detained as crew, or that another of the
# owner's fronts supplied, lists a few chemicals of its own.
MIN_COVERAGE = 0.8
# ... and leaves unlisted at most this share of what chance leaves: the shipments of the trade as a whole (arrived
# in time for the raid) whose chemical the lab does not list. A front that fed the lab leaves unlisted only its
# one-off deliveries to other labs; a front that did not leaves unlisted what any company's shipments would (at a
# lab listing 8 of the 10 chemicals, 0.8 is chance). Half is the midpoint between the two.
CHANCE_SHARE = 0.5
# Organisation inference: a front of an organisation with no chain of its own fed the paperless lab that the
# organisation's other fronts' confident chains name within this many days of its shipment's arrival.
ORG_WINDOW_DAYS = 60
ORG_ANCHOR_COVERAGE = 1.0  # an anchoring chain's lab lists every chemical its front sent in time for the raid
ORG_SCORE = 0.5  # an organisation-level inference counts for less than any tie in the shipment's own records
COMPANY_ROLES = ("importer", "consignee")  # the exporter is the foreign seller, not the buyer
LAB_KIND, SHIPMENT_KIND = "lab_site", "precursor_shipment"

COLUMNS = ["shipment", "shipment_ref", "arrival_date", "chemical", "hop", "documented", "evidence", "anchor_ref",
           "support",
           "company", "company_label", "company_role",
           "company_record", "company_rule", "company_score", "relation", "relation_link", "owner_company_record",
           "person", "person_label", "owner_record", "lab_person_record", "person_rule", "person_score",
           "lab", "lab_ref", "lab_date", "lab_role", "lab_link", "chemical_match", "days", "lab_papers", "coverage",
           "confident", "score", "paths"]


def links_between(engine: Engine, kind_a: str, kinds_b: tuple[str, ...]) -> pd.DataFrame:
    """(link, a, b, role): links between a record of ``kind_a`` and one of ``kinds_b``, either direction."""
    lk = engine.table("link")
    fwd = lk.filter((lk.from_kind == kind_a) & lk.to_kind.isin(kinds_b)).select(
        link=lk.id, a=lk.from_id, b=lk.to_id, role=lk.role)
    back = lk.filter((lk.to_kind == kind_a) & lk.from_kind.isin(kinds_b)).select(
        link=lk.id, a=lk.to_id, b=lk.from_id, role=lk.role)
    out = engine.run(fwd.union(back))
    return out.dropna(subset=["a", "b"]).reset_index(drop=True)


# An identifier that two records of one entity cannot disagree on.
IDENTIFIERS = {"organization": "tax_id", "person": "curp"}


def resolved_entities(engine: Engine) -> dict[str, str]:
    """record → resolved entity (``link_entities``) for people and organisations, with a cluster split where
    its records carry different identifiers (two RFCs, two CURPs: look-alike names of two firms or two
    people); the records without one stay together."""
    if not engine.has_table("link_entities"):
        return {}
    le = engine.table("link_entities")
    ents = engine.run(le.filter(le.kind.isin(list(IDENTIFIERS))).select("record_id", "cluster_id", "kind"))
    out = dict(zip(ents["record_id"], ents["cluster_id"]))
    for kind, field in IDENTIFIERS.items():
        if not engine.has_table(kind) or field not in engine.table(kind).columns:
            continue
        t = engine.table(kind)
        ids = engine.run(t.filter(t[field].notnull()).select(record_id=t.id, key=t[field].cast("string")))
        sub = ents[ents["kind"] == kind].merge(ids, on="record_id")
        keys = sub.groupby("cluster_id")["key"].nunique()
        split = sub[sub["cluster_id"].isin(keys[keys > 1].index)]
        out.update({r: f"{c}|{k}" for r, c, k in zip(split["record_id"], split["cluster_id"], split["key"])})
    return out


def _resolution(engine: Engine) -> tuple[dict[str, str], dict[tuple[str, str], float], dict[str, float]]:
    """record → entity, (record, record) → match probability, kind → the threshold of its latest run."""
    if not engine.has_table("link_entities"):
        return {}, {}, {}
    entity = resolved_entities(engine)
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
    s = engine.table(SHIPMENT_KIND)
    ships = engine.run(s.select(shipment=s.id, shipment_ref=s.source_id, arrival_date=s.arrival_date.cast("date"),
                                chemical=s.chemical))
    lab_t = engine.table(LAB_KIND)
    lab_cols = {"lab": lab_t.id, "lab_ref": lab_t.source_id, "lab_date": lab_t.date_found.cast("date"),
                "lab_chemicals": lab_t.chemicals}
    if "evidence" in lab_t.columns:
        lab_cols["lab_evidence"] = lab_t.evidence
    labs = engine.run(lab_t.select(**lab_cols))
    if ships.empty or labs.empty:
        return pd.DataFrame(columns=COLUMNS)
    if "lab_evidence" not in labs:
        labs["lab_evidence"] = None
    labs["listed"] = labs["lab_chemicals"].fillna("").map(
        lambda c: frozenset(x.strip() for x in re.split(r"[;|,]", str(c)) if x.strip()))
    comp = links_between(engine, SHIPMENT_KIND, ("organization",))
    comp = comp[comp["role"].isin(COMPANY_ROLES)].rename(
        columns={"link": "ship_link", "a": "shipment", "b": "company_record", "role": "company_role"})
    comp["company"] = of(comp["company_record"].to_numpy())
    comp = receivers(comp)  # the chemicals went where the consignee (else the importer) took them
    owner = _owner_paths(engine, comp, of, scores, thresholds)
    docs = document_paths(ships, labs, comp, owner)
    same = same_company_paths(docs, comp, ships, labs)
    found = [p for p in (docs, owner, same) if len(p)]
    if not found:
        return pd.DataFrame(columns=COLUMNS)
    paths = pd.concat(found, ignore_index=True)
    paths = paths.merge(ships, on="shipment").merge(labs.drop(columns=["lab_evidence"]), on="lab")
    arrival, found = pd.to_datetime(paths["arrival_date"]), pd.to_datetime(paths["lab_date"])
    paths["days"] = (found - arrival).dt.days
    paths = paths[paths["days"].isna() | (paths["days"] >= 0)]
    paths["chemical_match"] = [bool(chem in lst) if lst else None for chem, lst in zip(paths["chemical"], paths["listed"])]
    cited = paths["hop"].isin(["document", "document_slip"])
    # a declaration is used some weeks after it arrives: the lag the cited declarations show, learned from the
    # papers, not assumed
    lag = supply_lag(paths.loc[paths["hop"] == "document", "days"])
    paths = paths[cited | paths["days"].isna() | (paths["days"] >= lag)]
    cited = paths["hop"].isin(["document", "document_slip"])
    if require_chemical:
        paths = paths[cited | paths["chemical_match"].map(lambda m: m is not False)]
    if paths.empty:
        return pd.DataFrame(columns=COLUMNS)
    paths = paths.assign(lab_papers=paths["lab"].map(dict(zip(labs["lab"], labs["lab_evidence"].map(
        lambda e: bool(citations(e)))))).fillna(False).astype(bool))
    paths["coverage"] = _coverage(paths, comp, ships, labs, lag)
    paths["chance"] = paths["lab"].map(_chance(ships, labs, lag))
    rivals = _rival_papers(paths)
    paths["contested"] = _contested(paths, rivals, lag)
    best = _one_lab_each(paths)
    org = _organisation_paths(engine, best, comp, ships, labs, lag, entity)
    if len(org):
        best = pd.concat([best[~best["shipment"].isin(org["shipment"])], org], ignore_index=True)
    best = best.assign(**{col: None for col in COLUMNS if col not in best})
    # a lead whose tie the papers of another lab contradict says so
    said = ~best["confident"].astype(bool) & best["evidence"].isna() & best["contested"].notna()
    best.loc[said, "evidence"] = best.loc[said, "contested"]
    best["days"] = [None if pd.isna(d) else int(d) for d in best["days"]]
    # an entity split by its identifiers (``cluster|RFC``) is labelled by its anchor record
    anchor = {e: str(e).split("|")[0] for e in set(best["company"].dropna()) | set(best["person"].dropna())}
    labels = _labels(engine, set(anchor.values()))
    for col in ("company", "person"):
        best[col + "_label"] = best[col].map(lambda e: labels.get(anchor[e]) if e in anchor else None)
    best = best.sort_values(["score", "arrival_date", "shipment", "lab"], ascending=[False, True, True, True])
    return best.reindex(columns=COLUMNS).reset_index(drop=True)


def _owner_paths(engine: Engine, comp: pd.DataFrame, of: Any, scores: dict[tuple[str, str], float],
                 thresholds: dict[str, float]) -> pd.DataFrame:
    """shipment → company → person → lab (``owner_arrested``), and company → lab (``direct``)."""
    owners = links_between(engine, "organization", ("person",)).rename(
        columns={"link": "relation_link", "a": "owner_company_record", "b": "owner_record", "role": "relation"})
    people = links_between(engine, LAB_KIND, ("person",)).rename(
        columns={"link": "lab_link", "a": "lab", "b": "lab_person_record", "role": "lab_role"})
    at_lab = links_between(engine, LAB_KIND, ("organization",)).rename(
        columns={"link": "lab_link", "a": "lab", "b": "owner_company_record", "role": "lab_role"})
    owners["company"] = of(owners["owner_company_record"].to_numpy())
    owners["person"] = of(owners["owner_record"].to_numpy())
    people["person"] = of(people["lab_person_record"].to_numpy())
    at_lab["company"] = of(at_lab["owner_company_record"].to_numpy())
    via = comp.merge(owners, on="company").merge(people, on="person").assign(hop="owner_arrested")
    direct = comp.merge(at_lab, on="company").assign(hop="direct", relation="direct", relation_link=None,
                                                     person=None, owner_record=None, lab_person_record=None)
    paths = pd.concat([p for p in (via, direct) if len(p)], ignore_index=True) if len(via) or len(direct) else via
    if paths.empty:
        return pd.DataFrame()
    paths = paths.reset_index(drop=True)
    paths["company_rule"], paths["company_score"], c_count = _hop(
        paths["company_record"], paths["owner_company_record"], scores, thresholds.get("organization", 0.5))
    paths["person_rule"], paths["person_score"], p_count = _hop(
        paths["owner_record"], paths["lab_person_record"], scores, thresholds.get("person", 0.5))
    no_person = paths["person"].isna().to_numpy()
    paths.loc[no_person, ["person_rule", "person_score"]] = [None, np.nan]
    paths["score"] = np.round(c_count * np.where(no_person, 1.0, p_count), 9)
    return paths


def _coverage(paths: pd.DataFrame, comp: pd.DataFrame, ships: pd.DataFrame, labs: pd.DataFrame,
              lag: float) -> np.ndarray:
    """Per path: of the company's shipments that arrived at least ``lag`` days before the lab's raid, the share
    whose chemical the lab lists (NaN when the lab lists none)."""
    listed = dict(zip(labs["lab"], labs["listed"]))
    raid = dict(zip(labs["lab"], pd.to_datetime(labs["lab_date"])))
    own = comp[["shipment", "company"]].merge(ships[["shipment", "arrival_date", "chemical"]], on="shipment")
    own["arrival"] = pd.to_datetime(own["arrival_date"])
    by_company = {c: g for c, g in own.groupby("company")}
    memo: dict[tuple[Any, Any], float] = {}
    out = []
    for company, lab in zip(paths["company"], paths["lab"]):
        key = (company, lab)
        if key not in memo:
            g, chems, day = by_company.get(company), listed.get(lab), raid.get(lab)
            share = np.nan
            if g is not None and chems and day is not None and not pd.isna(day):
                usable = g[(day - g["arrival"]).dt.days >= lag]
                share = float(usable["chemical"].isin(chems).mean()) if len(usable) else np.nan
            memo[key] = share
        out.append(memo[key])
    return np.round(np.array(out, dtype=float), 6)


def _chance(ships: pd.DataFrame, labs: pd.DataFrame, lag: float) -> dict[Any, float]:
    """Per lab: of all the shipments that arrived at least ``lag`` days before its raid, the share whose chemical
    it lists — the coverage any company would have there by chance (NaN when it lists none)."""
    arrival = pd.to_datetime(ships["arrival_date"]).to_numpy()
    chemical = ships["chemical"].to_numpy()
    out: dict[Any, float] = {}
    for lab, day, chems in zip(labs["lab"], pd.to_datetime(labs["lab_date"]), labs["listed"]):
        if not chems or pd.isna(day):
            out[lab] = np.nan
            continue
        usable = (day.to_datetime64() - arrival) >= np.timedelta64(int(np.ceil(lag)), "D")
        out[lab] = float(np.isin(chemical[usable], list(chems)).mean()) if usable.any() else np.nan
    return out


def _rival_papers(paths: pd.DataFrame) -> dict[Any, pd.DataFrame]:
    """Per company: the declarations of it that labs' papers cite (``lab``, ``lab_ref``, ``raid``, ``arrival``,
    ``shipment_ref``), the evidence that places the front at a lab at a time."""
    cited = paths[paths["hop"].isin(["document", "document_slip"])].dropna(subset=["company"])
    cited = cited.assign(arrival=pd.to_datetime(cited["arrival_date"]), raid=pd.to_datetime(cited["lab_date"]))
    cited = cited.drop_duplicates(["company", "lab", "shipment"])
    return {c: g[["lab", "lab_ref", "raid", "arrival", "shipment_ref"]] for c, g in cited.groupby("company")}


def _contested(paths: pd.DataFrame, rivals: dict[Any, pd.DataFrame], lag: float) -> np.ndarray:
    """Per path: the evidence (in words) that another lab's papers place the shipment's company elsewhere when
    the shipment could have reached this lab, else None. A front serves one lab until it is raided: when
    another lab M, raided at least the supply lag after this shipment arrived, cites at least
    ``MIN_CITATIONS`` declarations of the company that arrived at least the supply lag before this lab's raid
    (while this lab was still being supplied), the front was supplying M then, and an owner detained here
    contradicts the papers: the tie stays a lead (and so anchors no organisation inference). One citation may
    be a one-off delivery. (An organisation candidate has no confident chain, hence no citation anywhere:
    it cannot be contested itself.)"""
    step = pd.Timedelta(days=max(float(lag), 0.0))
    out: list[str | None] = []
    memo: dict[tuple[Any, Any, Any], pd.DataFrame] = {}
    for company, lab, arrival, raid in zip(paths["company"], paths["lab"], pd.to_datetime(paths["arrival_date"]),
                                           pd.to_datetime(paths["lab_date"])):
        g = rivals.get(company)
        if g is None or pd.isna(raid) or pd.isna(arrival):
            out.append(None)
            continue
        key = (company, lab, raid)
        if key not in memo:  # the other labs' citations of the company from this lab's supply window
            other = g[(g["lab"] != lab) & (g["arrival"] <= raid - step)]
            n = other.groupby("lab")["shipment_ref"].transform("size")
            memo[key] = other[n >= MIN_CITATIONS]
        other = memo[key]
        other = other[other["raid"] >= arrival + step]
        if other.empty:
            out.append(None)
            continue
        m = other.sort_values(["raid", "lab"]).iloc[0]
        there = other[other["lab"] == m["lab"]]
        out.append(f"contested: lab {m['lab_ref']} (raided {m['raid']:%Y-%m-%d}) cites {len(there)} declarations "
                   f"of this company that arrived before this lab's raid ({', '.join(sorted(there['shipment_ref']))})")
    return np.array(out, dtype=object)


def _one_lab_each(paths: pd.DataFrame) -> pd.DataFrame:
    """Cited pairs as cited. Another shipment goes to one lab: a front serves one lab until it is raided, so
    the earliest raid after the shipment arrived among the labs whose papers cite its company at least
    twice; else among those citing it once (or naming the company); else among the labs where its owner was
    detained (a lead, ``documented`` false). One row per pair: its best path; ``support`` counts the
    company's citations at the lab."""
    paths = paths.copy()
    paths["cited"] = paths["hop"].isin(["document", "document_slip"])
    support = paths[paths["cited"]].dropna(subset=["company"]).groupby(["company", "lab"])["shipment"].nunique()
    key = pd.MultiIndex.from_arrays([paths["company"], paths["lab"]])
    paths["support"] = support.reindex(key).fillna(0).astype("int64").to_numpy()
    # the company's citations at the lab count where they speak for this shipment (a same_company path)
    same = (paths["hop"] == "same_company").groupby([paths["shipment"], paths["lab"]]).transform("any")
    # an owner detained at a lab that kept no papers, which lists this chemical and what the company sent
    owner = (paths["hop"] == "owner_arrested") & ~paths["lab_papers"] & paths["chemical_match"].eq(True)
    owner &= paths["coverage"].fillna(0) >= MIN_COVERAGE
    # ... better than chance: a crew member's fronts fed other labs
    unlisted, by_chance = 1 - paths["coverage"].fillna(0), 1 - paths["chance"].fillna(1.0)
    owner &= unlisted <= CHANCE_SHARE * by_chance + 1e-9
    # ... and no other lab's papers place the company elsewhere at the time (see _contested)
    owner &= paths["contested"].isna()
    corroborated = owner.groupby([paths["shipment"], paths["lab"]]).transform("any")
    paths["tie"] = np.select([paths["cited"], same & (paths["support"] >= 2), same, corroborated], [4, 3, 2, 1], 0)
    paths["documented"] = ((paths["tie"] > 1) | (paths["hop"] == "direct")).astype(bool)
    paths["confident"] = (paths["documented"] | (paths["tie"] > 0)).astype(bool)
    paths["paths"] = paths.groupby(["shipment", "lab"])["hop"].transform("size").astype("int64")
    order = paths.sort_values(["confident", "documented", "tie", "lab_date", "score", "shipment", "lab"],
                              ascending=[False, False, False, True, False, True, True], na_position="last")
    pair = order.drop_duplicates(["shipment", "lab"])
    has_citation = pair["shipment"].isin(pair.loc[pair["cited"], "shipment"])
    return pd.concat([pair[pair["cited"]], pair[~has_citation].drop_duplicates("shipment")]).copy()


def organisations(engine: Engine, entity: dict[str, str]) -> dict[str, tuple[int, nx.Graph]]:
    """Resolved company → (its organisation, the organisation's graph): the connected groups of people and
    companies joined by the ties investigators and registers record between them (owner, representative,
    partner, associate, member, leader ...; ``organization``–``person`` and ``person``–``person`` links), each
    record read as its resolved entity. An organisation's fronts are tied through their owners, front men
    included, to the people who run them."""
    def of(record: str) -> str:
        return entity.get(record, record)

    owners = links_between(engine, "organization", ("person",))
    people = links_between(engine, "person", ("person",))
    g = nx.Graph()
    for a, b, role in zip(owners["a"], owners["b"], owners["role"]):
        g.add_edge(("organization", of(a)), ("person", of(b)), role=str(role))
    for a, b, role in zip(people["a"], people["b"], people["role"]):
        if of(a) != of(b):
            g.add_edge(("person", of(a)), ("person", of(b)), role=str(role))
    out: dict[str, tuple[int, nx.Graph]] = {}
    for i, members in enumerate(nx.connected_components(g)):
        companies = [m for m in members if m[0] == "organization"]
        if len(companies) < 2:
            continue
        sub = g.subgraph(members)
        out.update({c[1]: (i, sub) for c in companies})
    return out


def _organisation_paths(engine: Engine, best: pd.DataFrame, comp: pd.DataFrame, ships: pd.DataFrame,
                        labs: pd.DataFrame, lag: float, entity: dict[str, str]) -> pd.DataFrame:
    """``organisation``: a shipment of a company with no confident chain, whose organisation's other fronts have
    confident chains to a lab that kept no papers (a lab with papers would cite this front's declarations too),
    arrived within ``ORG_WINDOW_DAYS`` of this one; the lab was raided at least the supply lag after it arrived,
    lists its chemical and at least ``MIN_COVERAGE`` of what the company received before the raid. Several
    such labs: the one most of those chains name, the earliest raid first. ``support`` counts those chains,
    ``anchor_ref`` the nearest one, ``evidence`` names the chains and the ties that join the two fronts."""
    conf = best[best["confident"].astype(bool)].dropna(subset=["company"])
    if conf.empty:
        return pd.DataFrame()
    orgs = organisations(engine, entity)
    if not orgs:
        return pd.DataFrame()
    conf = conf[~conf["lab_papers"].astype(bool) & conf["company"].isin(orgs)].copy()
    # the inference rests only on chains whose lab lists every chemical the anchoring front sent: where a lab
    # lists nearly the whole trade (at scale 200,000) an owner detained there as crew passes MIN_COVERAGE by
    # chance, and a wrong anchor would carry every front of its organisation with it
    conf = conf[conf["coverage"].fillna(1.0) >= ORG_ANCHOR_COVERAGE]
    if conf.empty:
        return pd.DataFrame()
    conf["org"] = conf["company"].map(lambda c: orgs[c][0])
    conf["arrival"] = pd.to_datetime(conf["arrival_date"])
    chained = set(best.loc[best["confident"].astype(bool), "company"].dropna())
    done = set(best.loc[best["confident"].astype(bool), "shipment"])
    cand = receivers(comp)
    cand = cand[cand["company"].isin(orgs) & ~cand["company"].isin(chained) & ~cand["shipment"].isin(done)]
    cand = cand.merge(ships, on="shipment")
    cand["org"] = cand["company"].map(lambda c: orgs[c][0])
    cand = cand[cand["org"].isin(set(conf["org"]))]
    if cand.empty:
        return pd.DataFrame()
    lab_info = labs.set_index("lab")
    by_org = {o: g for o, g in conf.groupby("org")}
    rows = []
    for r in cand.itertuples(index=False):
        arrival = pd.Timestamp(r.arrival_date)
        g = by_org[r.org]
        near = g[(g["arrival"] - arrival).abs().dt.days <= ORG_WINDOW_DAYS]
        raid = pd.to_datetime(near["lab_date"])
        near = near[raid.isna() | ((raid - arrival).dt.days >= max(lag, 0.0))]
        near = near[[r.chemical in lab_info.at[lab, "listed"] for lab in near["lab"]]]
        if near.empty:
            continue
        count = near.groupby("lab").agg(n=("shipment", "size"), day=("lab_date", "min")).reset_index()
        lab = count.sort_values(["n", "day", "lab"], ascending=[False, True, True]).iloc[0]["lab"]
        there = near[near["lab"] == lab]
        anchor = there.iloc[int((there["arrival"] - arrival).abs().dt.days.to_numpy().argmin())]
        rows.append({"shipment": r.shipment, "lab": lab, "ship_link": r.ship_link, "company_record": r.company_record,
                     "company_role": r.company_role, "company": r.company, "hop": "organisation",
                     "anchor_ref": anchor["shipment_ref"], "support": len(there), "via": anchor["company"],
                     "fronts": sorted(set(there["company"]))})
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows).merge(ships, on="shipment").merge(labs.drop(columns=["lab_evidence"]), on="lab")
    out["days"] = (pd.to_datetime(out["lab_date"]) - pd.to_datetime(out["arrival_date"])).dt.days
    out["chemical_match"] = True
    out["lab_papers"] = False
    out["coverage"] = _coverage(out, comp, ships, labs, lag)
    out = out[out["coverage"].fillna(0) >= MIN_COVERAGE].copy()
    if out.empty:
        return pd.DataFrame()
    ties = [_tie(orgs[c][1], c, v) for c, v in zip(out["company"], out["via"])]
    out["relation"] = [t[0] for t in ties]
    out["person"] = [t[1] for t in ties]
    out["evidence"] = [f"organisation: {n} confident chain(s) of {len(f)} other front(s) of its organisation to this "
                       f"lab arrived within {ORG_WINDOW_DAYS} days (nearest {a}); tied by {t[0]}"
                       for n, f, a, t in zip(out["support"], out["fronts"], out["anchor_ref"], ties)]
    out = out.assign(documented=False, confident=True, score=ORG_SCORE, paths=1)
    return out.drop(columns=["via", "fronts"])


def _tie(g: nx.Graph, company: str, other: str) -> tuple[str, str | None]:
    """The recorded ties between two companies of one organisation (the shortest path: ``owner > person >
    owner``) and the first person on it."""
    try:
        steps = nx.shortest_path(g, ("organization", company), ("organization", other))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return "", None
    roles = [str(g.edges[a, b].get("role", "")) for a, b in pairwise(steps)]
    kinds = [k for k, _ in steps[1:-1]]
    text = " > ".join(x for pair in zip(roles, kinds) for x in pair) + (" > " + roles[-1] if roles else "")
    person = next((e for k, e in steps[1:-1] if k == "person"), None)
    return text, person


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
