"""What a raid's papers cite: pedimento numbers on drums and copies at a dismantled lab, read however they were
written (:func:`pedimento_key`, :func:`citations`, one slip: :func:`slips`), the declarations they cite
(``document``, ``document_slip``: :func:`document_paths`) and the other shipments of a company they cite
while its citations run (``same_company``: :func:`same_company_paths`, :func:`_supply_runs`). The hops that
rest on people and organisations, and the choice of one lab per shipment, are in :mod:`puente.analyze.supply`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

MIN_CITATIONS = 2  # a company's declarations a lab must cite before its other shipments are tied to that lab
MIN_CITED_SHARE = 0.1  # of a company's declarations from its first cited one to the raid, the share a lab must cite
GAP_ALPHA = 0.05  # a lab's papers leave a stretch of uncited declarations this improbable (over a company's stretches) by chance
MIN_CITED_FOR_LAG = 10  # cited declarations needed to learn the supply lag (else none is assumed)
MIN_GAPS_FOR_RATE = 10  # citations after a company's first at a lab needed to learn the citation rate (else no split)


# ---------------------------------------------------------------- pedimento numbers cited at a lab

# A Mexican import declaration number: year (2 digits), customs office, broker's licence (4), sequence (7);
# the office may be written as digits or letters. Separators vary by hand.
PEDIMENTO = re.compile(r"(?<![0-9A-Z])(\d{2})[\s.-]*([0-9A-Z]{2,3})[\s.-]*(\d{4})[\s.-]*(\d{7})(?![0-9])")


def pedimento_key(text: object) -> str | None:
    """The first pedimento number in ``text``, without separators (``21MZO30000012345``), or None."""
    m = PEDIMENTO.search(str(text or "").upper())
    return "".join(m.groups()) if m else None


@lru_cache(maxsize=1)
def _chemical_spellings() -> list[tuple[str, str]]:
    from puente.model import load_model
    from puente.model.types import fold

    vocab = load_model().vocabularies["precursors"]
    pairs = {(fold(str(x)), t.code) for t in vocab.terms.values()
             for x in (t.code, t.en, t.es, *t.extra.get("synonyms", [])) if len(str(x)) >= 3}
    return sorted(pairs, key=lambda p: -len(p[0]))


def citations(evidence: object) -> list[tuple[str, str, str | None]]:
    """(item, pedimento key, chemical named in the item or None) for each evidence item citing a number."""
    from puente.model.types import fold

    out = []
    for item in re.split(r"[;\n]", str(evidence or "")):
        for m in PEDIMENTO.finditer(item.upper()):
            folded = fold(item)
            chem = next((code for spelling, code in _chemical_spellings() if spelling in folded), None)
            out.append((item.strip(), "".join(m.groups()), chem))
    return out


def names_chemical(cited: str | None, chemical: object) -> bool:
    """Whether a citation that names ``cited`` (None: names none) can be a declaration of ``chemical``. A drum
    label or copy naming another chemical than the declaration with that number is a misread number (a slip
    that lands on another firm's declaration), not that declaration."""
    return cited is None or cited == chemical


def slips(key: str) -> set[str]:
    """Every number one slip away from ``key`` in its 7-digit sequence: a digit changed, two adjacent
    digits swapped, or both at one place."""
    head, seq = key[:-7], key[-7:]
    out: set[str] = set()
    for i in range(7):
        for d in "0123456789":
            out.add(head + seq[:i] + d + seq[i + 1:])
        if i < 6:
            swapped = seq[:i] + seq[i + 1] + seq[i] + seq[i + 2:]
            for d in "0123456789":
                out.add(head + swapped[:i] + d + swapped[i + 1:])
                out.add(head + swapped[:i + 1] + d + swapped[i + 2:])
    out.discard(key)
    return out


def document_paths(ships: pd.DataFrame, labs: pd.DataFrame, comp: pd.DataFrame, owner: pd.DataFrame) -> pd.DataFrame:
    """(shipment, lab) for each declaration a lab's evidence cites: exactly, or one slip away (see the module
    docstring), with the evidence item and the shipment's importer (else consignee)."""
    index: dict[str, list[int]] = {}
    for i, ref in enumerate(ships["shipment_ref"]):
        key = pedimento_key(ref)
        if key:
            index.setdefault(key, []).append(i)
    buyer = receivers(comp)
    company_of = dict(zip(buyer["shipment"], buyer["company"]))
    shipment, chemical = ships["shipment"].to_numpy(), ships["chemical"].to_numpy()
    arrival = pd.to_datetime(ships["arrival_date"]).to_numpy()
    rows: list[tuple[str, str, str, str, float]] = []
    unmatched: list[tuple[str, Any, str, str, str | None]] = []
    for lab, found, evidence in zip(labs["lab"], pd.to_datetime(labs["lab_date"]), labs["lab_evidence"]):
        for item, key, chem in citations(evidence):
            exact = [i for i in index.get(key, []) if names_chemical(chem, chemical[i])]
            if exact:
                rows += [(shipment[i], lab, "document", item, 1.0) for i in exact]
            else:
                unmatched.append((lab, found, item, key, chem))
    tied = set(zip(owner["company"], owner["lab"])) if len(owner) else set()
    tied |= {(company_of.get(s), lab) for s, lab, *_ in rows}
    for lab, found, item, key, chem in unmatched:
        fits = [i for k in slips(key) for i in index.get(k, [])
                if (pd.isna(found) or arrival[i] <= found) and (chem is None or chemical[i] == chem)
                and (company_of.get(shipment[i]), lab) in tied]
        if len(fits) == 1:
            rows.append((shipment[fits[0]], lab, "document_slip", item, 0.9))
    out = pd.DataFrame(rows, columns=["shipment", "lab", "hop", "evidence", "score"])
    return out.merge(buyer[["shipment", "ship_link", "company_record", "company_role", "company"]],
                     on="shipment", how="left")


def receivers(comp: pd.DataFrame) -> pd.DataFrame:
    """The company that received each shipment: its consignee when one is named, else its importer."""
    return comp.sort_values(["company_role", "ship_link"]).drop_duplicates("shipment")


def same_company_paths(docs: pd.DataFrame, comp: pd.DataFrame, ships: pd.DataFrame, labs: pd.DataFrame) -> pd.DataFrame:
    """Other shipments of an importer whose declarations a lab's evidence cites (``same_company``), each with
    the cited declaration nearest in time (``anchor_ref``), within the stretch the citations show the company
    supplying that lab (see :func:`_supply_runs`)."""
    if docs.empty:
        return pd.DataFrame()
    day = dict(zip(ships["shipment"], pd.to_datetime(ships["arrival_date"])))
    ref = dict(zip(ships["shipment"], ships["shipment_ref"]))
    anchors = docs.dropna(subset=["company"])[["company", "lab", "shipment"]].rename(columns={"shipment": "anchor"})
    out = comp.merge(anchors, on="company")
    out = out[out["shipment"] != out["anchor"]].copy()
    out["gap"] = [abs((day[a] - day[s]).days) for s, a in zip(out["shipment"], out["anchor"])]
    out = out.sort_values(["gap", "anchor"]).drop_duplicates(["shipment", "lab", "company_record"])
    out["anchor_ref"] = out["anchor"].map(ref)
    # one citation may be a one-off delivery to another lab: a company's other shipments follow it to a lab
    # only where the lab cites at least two of its declarations
    cites = anchors.groupby(["company", "lab"])["anchor"].nunique().rename("cites")
    out = out.merge(cites, left_on=["company", "lab"], right_index=True)
    out = out[out["cites"] >= MIN_CITATIONS]
    if out.empty:  # no company with another declaration that a lab cites twice (an empty merge below is ambiguous)
        return pd.DataFrame()
    # and only from its first cited declaration there on: before it, the front may have served another lab
    first = anchors.assign(day=anchors["anchor"].map(day)).groupby(["company", "lab"])["day"].min().rename("since")
    out = out.merge(first, left_on=["company", "lab"], right_index=True)
    out = out[out["shipment"].map(day) >= out["since"]]
    if out.empty:
        return pd.DataFrame()
    # and only where the papers cite a fair share of what the company received from then to the raid: drums of
    # most of a front's deliveries are still on site; two numbers among dozens are a one-off delivery or misreads
    # (the cited declarations are among the rows: each has another cited one as its anchor)
    raid = dict(zip(labs["lab"], pd.to_datetime(labs["lab_date"])))
    arrived = out["shipment"].map(day)
    out["window"] = (arrived <= out["lab"].map(raid)).groupby([out["company"], out["lab"]]).transform("sum")
    out = out[out["cites"] >= MIN_CITED_SHARE * out["window"]]
    # and only within a run of the company's declarations that the lab's papers keep citing (see _supply_runs)
    runs = _supply_runs(anchors, comp, day, raid, _doc_lag(docs, day, raid))
    keep = [(c, lab, s) in runs for c, lab, s in zip(out["company"], out["lab"], out["shipment"])]
    out = out[np.array(keep, dtype=bool)]
    return out.drop(columns=["gap", "anchor", "cites", "since", "window"]).assign(hop="same_company", score=0.7)


def _doc_lag(docs: pd.DataFrame, day: dict[Any, pd.Timestamp], raid: dict[Any, pd.Timestamp]) -> float:
    """The supply lag (:func:`supply_lag`) of the exactly cited declarations that arrived before their raid."""
    exact = docs[docs["hop"] == "document"]
    days = pd.Series([(raid.get(lab) - day[s]).days if s in day and lab in raid else np.nan
                      for s, lab in zip(exact["shipment"], exact["lab"])], dtype=float)
    return supply_lag(days[days.isna() | (days >= 0)])


def citation_gap(rate: float, tests: int = 1) -> int:
    """The fewest uncited declarations in a row that papers citing each delivery with probability ``rate`` leave
    less than ``GAP_ALPHA`` of the time over ``tests`` such stretches (each below ``GAP_ALPHA / tests``): a
    stretch that long says the company was supplying elsewhere then."""
    if not 0 < rate < 1:
        return 1 if rate >= 1 else 10**9
    return max(1, int(np.ceil(np.log(GAP_ALPHA / max(tests, 1)) / np.log(1 - rate))))


def _supply_runs(anchors: pd.DataFrame, comp: pd.DataFrame, day: dict[Any, pd.Timestamp],
                 raid: dict[Any, pd.Timestamp], lag: float) -> set[tuple[Any, Any, Any]]:
    """(company, lab, shipment) for the company's uncited declarations that lie in a stretch the lab's papers
    show it supplying that lab. A lab's papers cite a share of the deliveries that fed it (the *citation rate*,
    learned on this node: of a company's declarations after the first one a lab cites up to the last, the share
    it cites, pooled over the pairs a lab cites at least ``MIN_CITATIONS`` times: the gaps between citations; learned from
    at least ``MIN_GAPS_FOR_RATE`` of them, else runs are not split), whenever they arrived. So a
    stretch of the company's declarations, in order of arrival, that the lab does not cite and that is longer
    than that rate leaves by chance (:func:`citation_gap`) means the company was supplying another lab then:
    the citations split into runs at such stretches, a run citing at least ``MIN_CITATIONS`` ties the
    declarations inside it, and the last run also those that arrived after it up to the supply lag before the
    raid, unless they are such a stretch themselves (the front moved on before the raid)."""
    cited = anchors.drop_duplicates(["company", "lab", "anchor"])
    pairs = {k: set(g["anchor"]) for k, g in cited.groupby(["company", "lab"]) if len(g) >= MIN_CITATIONS}
    if not pairs:
        return set()
    own = comp[comp["company"].isin({c for c, _ in pairs})].drop_duplicates("shipment")
    own = own.assign(arrival=own["shipment"].map(day)).dropna(subset=["arrival"]).sort_values(["arrival", "shipment"])
    order = {c: list(g["shipment"]) for c, g in own.groupby("company")}
    arrival_of = dict(zip(own["shipment"], own["arrival"]))
    spans: dict[tuple[Any, Any], tuple[list[Any], list[int]]] = {}
    n_cited = n_span = 0
    for (company, lab), refs in pairs.items():
        seq = order.get(company, [])
        at = [i for i, s in enumerate(seq) if s in refs]
        if len(at) < MIN_CITATIONS:
            continue
        spans[(company, lab)] = (seq, at)
        n_cited, n_span = n_cited + len(at) - 1, n_span + at[-1] - at[0]
    rate = n_cited / n_span if n_cited >= MIN_GAPS_FOR_RATE else 0.0  # too few to learn it: runs are not split
    step = pd.Timedelta(days=max(float(lag), 0.0))
    out: set[tuple[Any, Any, Any]] = set()
    for (company, lab), (seq, at) in spans.items():
        gap = citation_gap(rate, len(at))  # the stretches between its citations, and the one after the last
        runs, run = [], [at[0]]
        for a, b in pairwise(at):
            if b - a - 1 >= gap:
                runs.append(run)
                run = []
            run.append(b)
        runs.append(run)
        for run in runs:
            if len(run) < MIN_CITATIONS:
                continue
            out.update((company, lab, s) for s in seq[run[0]:run[-1] + 1])
        last = runs[-1]
        day_of_raid = raid.get(lab)
        if len(last) >= MIN_CITATIONS and day_of_raid is not None and not pd.isna(day_of_raid):
            tail = [s for s in seq[last[-1] + 1:] if arrival_of[s] <= day_of_raid - step]
            if len(tail) < gap:
                out.update((company, lab, s) for s in tail)
    return out


def supply_lag(days: pd.Series) -> float:
    """Days a declaration takes from arrival to use at a lab: no declaration a lab's papers cite arrived
    later than this before the raid (the fewest arrival → raid days among them; 0 when fewer than
    ``MIN_CITED_FOR_LAG`` are cited). A shipment of the same front that arrived later went to its next lab."""
    known = pd.to_numeric(days, errors="coerce").dropna()
    return float(known.min()) if len(known) >= MIN_CITED_FOR_LAG else 0.0
