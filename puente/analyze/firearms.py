"""Firearm flows: source states and dealers, time to crime, repeat dealers and purchasers,
multiple sales, purchase-state → recovery-state flows, and the corridors guns share with drugs."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from puente.analyze.chains import entity_links
from puente.analyze.common import flag
from puente.engine import Engine

# Time-to-crime buckets (days); ATF treats under three years as a trafficking indicator.
TTC_BUCKETS = [(0, 90), (90, 365), (365, 3 * 365), (3 * 365, 10**6)]
# The prefix of a purchaser key that is a name in a state, not a person (:func:`purchaser_keys`).
NAME_KEY = "name:"


def _traces(engine: Engine):  # type: ignore[no-untyped-def]
    """One row per traced gun: the records :func:`same_guns` finds to be another node's record of a gun
    already counted are left out."""
    t = engine.table("firearm_trace")
    cache: dict[str, pd.DataFrame] = engine.__dict__.setdefault("_same_guns_cache", {})
    if "ids" not in cache:
        cache["ids"] = same_guns(engine)
    if len(cache["ids"]):
        dup = engine.upload("same_guns", cache["ids"])
        t = t.anti_join(dup, t.id == dup.dup_id)
    ttc = t.time_to_crime_days.cast("int64")
    derived = t.recovery_date.cast("date").delta(t.purchase_date.cast("date"), unit="day").cast("int64")
    return t.mutate(ttc=ttc.fill_null(derived))


def same_guns(engine: Engine, max_edits: int = 2) -> pd.DataFrame:
    """Ids (``dup_id``) of trace records that repeat a gun another record already stands for.

    A gun recovered in Mexico is often recorded by both nodes: FGR's record of the recovery and ATF's trace.
    The trace (a record with a trace status or a purchase: ATF's) stands for the gun. Two traces are one gun
    only when make, serial, model and recovery day all agree (a trace sent twice): a maker's serial can
    recur on another model. A recovery record without a trace is the gun of a trace with the same make and
    serial (ingest strips separators and case; the common misreadings O/0, I/1, S/5 and B/8 are read as
    one), or of a trace with the same make, model and recovery date and a serial within ``max_edits`` edits
    (a typo in each agency's copy; :func:`_edits`). A recovery record matches at most one
    trace, and only a trace."""
    t = engine.table("firearm_trace")
    f = engine.run(t.select(id=t.id, serial=t.serial, make=t.make.fill_null(""), model=t.model.fill_null(""),
                            day=t.recovery_date.cast("date").cast("string").fill_null(""),
                            known=flag(t.purchase_state.notnull() | t.purchase_date.notnull()),
                            traced=flag(t.trace_status.notnull() | t.purchase_state.notnull()
                                        | t.purchase_date.notnull())))
    f["serial"] = f["serial"].fillna("").str.upper().str.translate(_MISREAD)
    f = f.sort_values(["known", "traced", "id"], ascending=[False, False, True])
    # two traces are one gun only when they agree on make, serial, model and recovery day (a trace sent
    # twice): makers reuse serials across models, and one serial turns up on two guns recovered apart
    traces, untraced = f[f["traced"] == 1], f[f["traced"] == 0]
    kept = traces.drop_duplicates(["serial", "make", "model", "day"])
    dups = set(traces["id"]) - set(kept["id"])
    # a recovery record is first the gun of a trace recovered the same day: the same make and serial, then the
    # same make and model with a serial within max_edits; only then of a trace with its make and serial on
    # another day. At scale a serial recurs (a maker reuses it, or a typo lands on another gun's), and a
    # match by serial alone took a trace whose own recovery record then found nothing (seed 7 at 200,000:
    # 4 guns counted twice)
    same_day = untraced.merge(kept[["serial", "make", "day", "id"]].rename(columns={"id": "trace"}),
                              on=["serial", "make", "day"]).drop_duplicates("id")
    dups |= set(same_day["id"])
    taken = set(same_day["trace"])
    rest = untraced[~untraced["id"].isin(same_day["id"])]
    copies = rest[rest.duplicated(["serial", "make", "model", "day"])]  # one agency's record repeated
    dups |= set(copies["id"])
    rest = rest.drop(copies.index)
    # slips: the closest pairs first (one edit before two), so that a record does not take, at two edits, the
    # trace another record's serial is one edit from (a busy recovery day holds many guns of one model)
    by_day = kept.groupby(["make", "model", "day"])
    pairs = []
    for i, row in enumerate(rest[rest["day"] != ""].itertuples(index=False)):
        key = (row.make, row.model, row.day)
        if key not in by_day.groups:
            continue
        for j, cand in enumerate(by_day.get_group(key).itertuples(index=False)):
            d = _edits(row.serial, cand.serial) if cand.id not in taken else max_edits + 1
            if d <= max_edits:
                pairs.append((d, i, j, row.id, cand.id))
    typo: set[str] = set()
    for _, _, _, rec, trace in sorted(pairs):
        if rec not in typo and trace not in taken:
            taken.add(trace)
            typo.add(rec)
    dups |= typo
    rest = rest[~rest["id"].isin(typo)]
    other_day = rest.merge(kept[["serial", "make"]].drop_duplicates(), on=["serial", "make"])
    dups |= set(other_day["id"])
    return pd.DataFrame({"dup_id": sorted(dups)}, dtype=object)


# Characters read for one another on a worn or handwritten serial (read as the digit).
_MISREAD = str.maketrans({"O": "0", "I": "1", "S": "5", "B": "8"})


def _edits(a: str, b: str) -> int:
    """Edit distance with transpositions (optimal string alignment): an insertion, a deletion, a substitution
    or two adjacent characters swapped each count one — the slips of a keyboard."""
    before: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and ca != cb:
                d = min(d, before[j - 2] + 1)
            cur.append(d)
        before, prev = prev, cur
    return prev[-1]


def source_states(engine: Engine) -> pd.DataFrame:
    """Traces per purchase state, with the median-free summary (count, short time-to-crime count)."""
    t = _traces(engine)
    expr = t.group_by(purchase_state=t.purchase_state.fill_null("?")).agg(
        traces=t.count(), dealers=t.dealer_ffl.nunique(), short_ttc=flag(t.ttc < 3 * 365).sum())
    out = engine.run(expr)
    out["share"] = out["traces"] / out["traces"].sum()
    return _ints(out.sort_values(["traces", "purchase_state"], ascending=[False, True]), "traces", "dealers", "short_ttc")


def dealers(engine: Engine, min_traces: int = 1) -> pd.DataFrame:
    """Dealers (FFL) by number of traces, with their states and median time to crime."""
    t = _traces(engine)
    t = t.filter(t.dealer_ffl.notnull())
    expr = t.group_by(dealer_ffl=t.dealer_ffl).agg(
        dealer_name=t.dealer_name.max(), purchase_state=t.purchase_state.max(), traces=t.count(),
        purchasers=t.purchaser.nunique(), short_ttc=flag(t.ttc < 3 * 365).sum(), ttc_mean=t.ttc.mean())
    out = engine.run(expr.filter(expr.traces >= min_traces))
    return _ints(out.sort_values(["traces", "dealer_ffl"], ascending=[False, True]), "traces", "purchasers", "short_ttc")


def _with_purchaser(engine: Engine, t):  # type: ignore[no-untyped-def]
    """``t`` (traces) with ``who``: the purchaser entity of each trace (:func:`purchaser_keys`)."""
    cache: dict[str, pd.DataFrame] = engine.__dict__.setdefault("_same_guns_cache", {})
    if "who" not in cache:
        cache["who"] = purchaser_keys(engine)
    keys = engine.upload("purchaser_keys", cache["who"])
    t = t.left_join(keys, t.id == keys.trace_id)
    return t.mutate(who=t.who_key.fill_null(ibis.literal(NAME_KEY).concat(t.purchaser)))


def purchaser_keys(engine: Engine) -> pd.DataFrame:
    """Trace id (``trace_id``) → its purchaser entity (``who_key``).

    A trace that links a person record as ``purchaser`` is that person's resolved entity when the node has
    run entity resolution (``link_entities``): one person's name variants are one, two namesakes (their
    birth dates apart) are two. A trace that names its purchaser without a linked record stands for the name
    in the state of purchase (``name:<name>, <state>``): never for every holder of a common name across the
    country, and never folded into a person's entity by name alone (a namesake's gun would join it; measured
    at scale 60,000: one stranger's trace in each of the top purchasers)."""
    t = engine.table("firearm_trace")
    t = t.filter(t.purchaser.notnull())
    rows = engine.run(t.select(trace_id=t.id, name=t.purchaser, state=t.purchase_state.fill_null("?")))
    rows["person"] = None
    if engine.has_table("link_entities") and len(rows):
        links = entity_links(engine, "firearm_trace", ("purchaser",))
        le = engine.table("link_entities")
        person = links.left_join(le, (links.entity == le.record_id) & (le.kind == "person")).select(
            event=links.event, person=le.cluster_id.fill_null(links.entity))
        person = engine.run(person.group_by("event").agg(person=person.person.min()))
        rows["person"] = rows["trace_id"].map(dict(zip(person["event"], person["person"])))
    fallback = [f"{NAME_KEY}{n}, {st}" for n, st in zip(rows["name"], rows["state"])]
    rows["who_key"] = rows["person"].where(rows["person"].notna(), pd.Series(fallback, index=rows.index))
    return rows[["trace_id", "who_key"]].astype(object)


def purchasers(engine: Engine, min_traces: int = 2) -> pd.DataFrame:
    """Purchasers with many traced guns (straw purchase indicator), one row per purchaser **person**: the
    resolved entity of the person record a trace links as its purchaser (:func:`_with_purchaser`).
    ``records`` lists the trace ids.

    A row claims one person, so traces that only *name* their purchaser are not here: a name in a state is
    not an identity (two straw purchasers and strangers who share it fall in one group; measured on the fresh
    world 2203 at 60,000: of the name groups with >= 40 traces 6 of 10 were one person, of the resolved
    entities 41 of 41). They are listed by :func:`purchaser_names`."""
    return _purchaser_groups(engine, min_traces, names=False)


def purchaser_names(engine: Engine, min_traces: int = 2) -> pd.DataFrame:
    """Traced guns whose purchaser is only a name (no linked person record), one row per name in the state of
    purchase: a lead for an analyst, possibly several people (namesakes, a straw purchaser and strangers).
    ``records`` lists the trace ids."""
    return _purchaser_groups(engine, min_traces, names=True)


def _purchaser_groups(engine: Engine, min_traces: int, names: bool) -> pd.DataFrame:
    t = _traces(engine)
    t = _with_purchaser(engine, t.filter(t.purchaser.notnull()))
    is_name = t.who.startswith(NAME_KEY)
    t = t.filter(is_name if names else ~is_name)
    expr = t.group_by(entity=t.who).agg(
        purchaser=t.purchaser.max(), traces=t.count(), dealers=t.dealer_ffl.nunique(),
        states=t.purchase_state.nunique(), first_purchase=t.purchase_date.cast("date").min(),
        last_purchase=t.purchase_date.cast("date").max(), ttc_mean=t.ttc.mean())
    out = engine.run(expr.filter(expr.traces >= min_traces))
    ids = engine.run(t.select(entity=t.who, id=t.id))
    records = ids.groupby("entity")["id"].agg(lambda s: "|".join(sorted(s)))
    out["records"] = out["entity"].map(records)
    out = out[["purchaser", "entity", "traces", "dealers", "states", "first_purchase", "last_purchase", "ttc_mean",
               "records"]]
    return _ints(out.sort_values(["traces", "purchaser", "entity"], ascending=[False, True, True]),
                 "traces", "dealers", "states")


def time_to_crime(engine: Engine) -> pd.DataFrame:
    """Distribution of time to crime: counts per bucket plus quantiles (bucket 'q50' etc. in days)."""
    t = _traces(engine)
    values = engine.run(t.filter(t.ttc.notnull()).select("ttc"))["ttc"].to_numpy(dtype=float)
    rows = [{"bucket": f"{lo}-{hi if hi < 10**6 else ''}", "traces": int(((values >= lo) & (values < hi)).sum())}
            for lo, hi in TTC_BUCKETS]
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        rows.append({"bucket": f"q{int(q * 100)}", "traces": int(np.quantile(values, q)) if len(values) else 0})
    return pd.DataFrame(rows)


def multiple_sales(engine: Engine, days: int = 5) -> pd.DataFrame:
    """Multiple sales (ATF's definition): two or more traced guns bought by one purchaser from the same dealer
    within ``days`` (consecutive purchases at that dealer). The purchaser is the resolved person
    (:func:`_with_purchaser`): one buyer's name variants are one purchaser, two namesakes are two."""
    t = _traces(engine)
    t = t.filter(t.purchaser.notnull() & t.purchase_date.notnull() & t.dealer_ffl.notnull())
    t = _with_purchaser(engine, t)
    t = t.select(purchaser=t.purchaser, entity=t.who, serial=t.serial, dealer_ffl=t.dealer_ffl,
                 day=t.purchase_date.cast("date"), id=t.id)
    keys = [t.entity, t.dealer_ffl]
    w = ibis.window(group_by=keys, order_by=[t.day, t.id])
    gap = t.mutate(prev_day=t.day.lag().over(w))
    gap = gap.mutate(new_group=ibis.cases((gap.prev_day.isnull(), 1),
                                          (gap.day.delta(gap.prev_day, unit="day") > days, 1), else_=0))
    grp = gap.mutate(group=gap.new_group.sum().over(ibis.window(group_by=[gap.entity, gap.dealer_ffl],
                                                                  order_by=[gap.day, gap.id],
                                                                  preceding=None, following=0)))
    expr = grp.group_by(["entity", "dealer_ffl", "group"]).agg(
        purchaser=grp.purchaser.max(), guns=grp.count(), first=grp.day.min(), last=grp.day.max())
    out = engine.run(expr.filter(expr.guns >= 2)).drop(columns=["group"])
    out = out[["purchaser", "entity", "dealer_ffl", "guns", "first", "last"]]
    return _ints(out.sort_values(["guns", "purchaser", "entity", "dealer_ffl", "first"],
                                 ascending=[False, True, True, True, True]), "guns")


def state_flows(engine: Engine) -> pd.DataFrame:
    """Purchase state → recovery state (and country) flows."""
    t = _traces(engine)
    expr = t.group_by(purchase_state=t.purchase_state.fill_null("?"),
                      recovery_state=t.recovery_place_admin1.fill_null("?"),
                      recovery_country=t.recovery_place_country.fill_null(t.recovery_country).fill_null("?")).agg(
        traces=t.count(), ttc_mean=t.ttc.mean())
    out = engine.run(expr)
    return _ints(out.sort_values(["traces", "purchase_state", "recovery_state"], ascending=[False, True, True]), "traces")


def shared_corridors(engine: Engine, flows: pd.DataFrame) -> pd.DataFrame:
    """Drug corridors whose two ends match a gun flow: guns bought in the drug destination's state and
    recovered in the drug origin's state (the same road, both directions); plus people linked to both
    a traced gun and a seizure."""
    guns = state_flows(engine)
    guns = guns[guns["recovery_country"] == "MX"]
    drugs = flows.copy()
    drugs["origin_state"] = drugs["origin"].str.split(", ").str[-1]
    drugs["destination_state"] = drugs["destination"].str.split(", ").str[-1]
    states = _us_state_names()
    guns = guns.assign(purchase_state_name=guns["purchase_state"].map(lambda s: states.get(s, s)))
    drugs = drugs.groupby(["origin", "crossing", "destination", "origin_state", "destination_state"],
                          as_index=False)[["loads", "kg"]].sum()
    out = drugs.merge(guns, left_on=["destination_state", "origin_state"],
                      right_on=["purchase_state_name", "recovery_state"])
    both = _people_on_both(engine)
    out["shared_people"] = len(both)
    cols = ["origin", "crossing", "destination", "loads", "kg", "purchase_state", "recovery_state", "traces"]
    return out[cols + ["shared_people"]].sort_values(["traces", "loads"], ascending=False).reset_index(drop=True)


def _people_on_both(engine: Engine) -> pd.DataFrame:
    guns = entity_links(engine, "firearm_trace")
    drugs = entity_links(engine, "seizure")
    expr = guns.select(entity=guns.entity).distinct().join(drugs.select(e2=drugs.entity).distinct(),
                                                           guns.entity == drugs.entity)
    return engine.run(expr.select("entity"))


def _us_state_names() -> dict[str, str]:
    names = {"AZ": "Arizona", "TX": "Texas", "CA": "California", "NM": "New Mexico", "NV": "Nevada",
             "CO": "Colorado", "OK": "Oklahoma", "IL": "Illinois", "FL": "Florida", "GA": "Georgia",
             "UT": "Utah", "WA": "Washington", "OR": "Oregon", "NY": "New York", "TN": "Tennessee"}
    return names


def _ints(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for col in cols:
        frame[col] = frame[col].astype("int64")
    return frame.reset_index(drop=True)
