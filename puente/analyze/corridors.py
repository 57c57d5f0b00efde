"""Corridors: origin → crossing → destination flows, port shares and route shifts.

A seizure belongs to a chain (see :mod:`puente.analyze.chains`). Each chain gets one corridor:
  * crossing — the port of entry named by the chain's seizures;
  * origin — the earliest Mexican place in the chain, else the Mexican twin city of the port;
  * destination — the latest U.S. interior place in the chain: a seizure's place away from the crossing (not
    a port of entry, nor a seizure that names a port or checkpoint: Border Patrol checkpoints sit 40–120 km
    inside the border and are stops on the way, not where loads go); else the latest *reported* destination
    in the chain (the record's ``destination`` field: a driver's stated destination, a manifest's consignee
    city) that is a U.S. place and not a port of entry. A followed load (the place where it was seized)
    outranks what anyone said about it.
A seizure outside any chain gets the same rules applied to itself alone. The per-period
aggregation (events, loads, kg, pills, and ``reported``: the loads whose destination is only a reported one)
runs in the engine over all seizures.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from puente.analyze.chains import chains
from puente.analyze.common import flag, period_of
from puente.engine import Engine
from puente.geo.gazetteer import load_gazetteer, twin_of

UNKNOWN = "?"
# Only ports of entry are crossings: a record whose port field names a CBP field office or a Border Patrol
# sector (gazetteer ids AOR-…) says where the seizure was counted, not where the load crossed.
PORT_PREFIX = "POE-"
# What a reported destination is worth next to a followed load in the port → destination mix (see
# port_destinations; measured in bench/results/analytics.md).
REPORTED_WEIGHT = 0.5


def _label(name: object, admin1: object) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    return f"{name}, {admin1}" if isinstance(admin1, str) and admin1 and admin1 != name else name


def _twins() -> pd.DataFrame:
    g = load_gazetteer()
    rows = []
    for port_id in g.twins:
        twin = g.get(twin_of(port_id) or "")
        if twin is not None:
            rows.append({"twin_port": port_id, "twin_label": _label(twin.name, twin.admin1)})
    return pd.DataFrame(rows, columns=["twin_port", "twin_label"])


def _reported_ok(country: ir.Value, place_id: ir.Value, name: ir.Value) -> ir.BooleanValue:
    """A reported destination that can end a corridor: resolved, in the United States, not a port of entry."""
    return (country == "US") & name.notnull() & ~place_id.fill_null("").startswith("POE-")


def chain_corridors(engine: Engine, window_days: int = 7) -> pd.DataFrame:
    """(id, chain, origin, crossing, destination, reported) for every seizure in a chain of two or more;
    ``reported`` is 1 when the chain's destination is only a reported one (no seizure past the border)."""
    members = chains(engine, window_days)
    cols = ["id", "chain", "origin", "crossing", "destination", "reported"]
    if members.empty:
        return pd.DataFrame(columns=cols)
    sz = engine.table("seizure")
    up = engine.upload("chain_members", members)
    attrs = engine.run(
        sz.join(up, sz.id == up.id).select(
            id=sz.id, chain=up.chain, date=sz.date.cast("date"), country=sz.place_country, place_id=sz.place_id,
            name=sz.place_name, admin1=sz.place_admin1, port_id=sz.port_id, port_name=sz.port_name,
            port_text=sz.port_text,
            reported_ok=_reported_ok(sz.destination_country, sz.destination_id, sz.destination_name),
            dest_name=sz.destination_name, dest_admin1=sz.destination_admin1)
    ).sort_values(["chain", "date", "id"])
    attrs["label"] = [_label(n, a) for n, a in zip(attrs["name"], attrs["admin1"])]
    attrs["dest_label"] = [_label(n, a) for n, a in zip(attrs["dest_name"], attrs["dest_admin1"])]
    twins = dict(zip(*_twins().to_dict(orient="list").values()))
    at_port = (attrs["port_id"].notna() | attrs["port_text"].fillna("").str.strip().ne("")
               | attrs["place_id"].fillna("").str.startswith("POE-"))
    mx = attrs[(attrs["country"] == "MX") & attrs["label"].notna()]
    us = attrs[(attrs["country"] == "US") & ~at_port & attrs["label"].notna()]
    ports = attrs[attrs["port_name"].notna() & attrs["port_id"].fillna("").str.startswith(PORT_PREFIX)]
    per = pd.DataFrame({"chain": attrs["chain"].unique()}).set_index("chain")
    common = (ports.groupby(["chain", "port_id", "port_name"]).size().rename("n").reset_index()
              .sort_values(["chain", "n", "port_id"], ascending=[True, False, True]).drop_duplicates("chain")
              .set_index("chain"))
    per["crossing"] = common["port_name"]
    per["port_id"] = common["port_id"]
    per["origin"] = mx.groupby("chain")["label"].first()
    per["origin"] = per["origin"].fillna(per["port_id"].map(twins))
    per["destination"] = us.groupby("chain")["label"].last()
    said = attrs[attrs["reported_ok"].fillna(False).astype(bool) & attrs["dest_label"].notna()]
    per["reported"] = (per["destination"].isna() & per.index.isin(said["chain"])).astype("int64")
    per["destination"] = per["destination"].fillna(said.groupby("chain")["dest_label"].last())
    per = per.drop(columns=["port_id"]).fillna(UNKNOWN).reset_index()
    return members.merge(per, on="chain")[cols]


def corridor_flows(engine: Engine, period: str = "month", window_days: int = 7,
                   assigned: pd.DataFrame | None = None) -> pd.DataFrame:
    """Events, loads (chains), kg and pills per period and corridor, ranked within each period.
    ``assigned`` (from :func:`chain_corridors`) may be passed when it is already computed."""
    out = engine.run(corridor_aggregation(engine, period, window_days, assigned))
    for col in ("events", "loads", "pills", "reported"):
        out[col] = out[col].astype("int64")
    out["kg"] = out["kg"].round(6)
    out = out.sort_values(["period", "kg", "events", "origin", "crossing", "destination"],
                          ascending=[True, False, False, True, True, True]).reset_index(drop=True)
    for col in ("kg", "pills", "events"):
        out[f"rank_{col}"] = out.groupby("period")[col].rank(method="min", ascending=False).astype("int64")
    return out


def corridor_aggregation(engine: Engine, period: str = "month", window_days: int = 7,
                         assigned: pd.DataFrame | None = None) -> ir.Table:
    """The engine side of :func:`corridor_flows`: one Ibis expression over all seizures."""
    rows = corridor_rows(engine, period, window_days, assigned)
    return rows.group_by(["period", "origin", "crossing", "destination"]).agg(
        events=rows.count(), loads=rows.load.nunique(), kg=rows.kg.sum(), pills=rows.pills.sum(),
        reported=rows.load.nunique(where=rows.reported == 1))


def corridor_members(engine: Engine, period: str = "month", window_days: int = 7,
                     assigned: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every seizure with its period and corridor (id, period, origin, crossing, destination): the records
    behind each row of :func:`corridor_flows` (the dashboard's drill-down). The corridor columns are
    categorical (few distinct values over many seizures)."""
    rows = corridor_rows(engine, period, window_days, assigned)
    out = engine.run(rows.select("id", "period", "origin", "crossing", "destination"))
    for col in ("origin", "crossing", "destination"):
        out[col] = out[col].astype("category")
    return out


def corridor_rows(engine: Engine, period: str = "month", window_days: int = 7,
                  assigned: pd.DataFrame | None = None) -> ir.Table:
    """One row per seizure: its period, load (chain), kg, pills, corridor and whether its destination is
    only a reported one."""
    sz = engine.table("seizure")
    if assigned is None:
        assigned = chain_corridors(engine, window_days)
    assigned = engine.upload("corridor_chains", assigned)
    twins = engine.upload("port_twins", _twins())
    at_port = (sz.port_id.notnull() | (sz.port_text.fill_null("").strip() != "")
               | sz.place_id.fill_null("").startswith("POE-"))
    own_label = ibis.cases((sz.place_admin1.notnull() & (sz.place_admin1 != sz.place_name),
                            sz.place_name.concat(", ", sz.place_admin1)), else_=sz.place_name)
    said_label = ibis.cases((sz.destination_admin1.notnull() & (sz.destination_admin1 != sz.destination_name),
                             sz.destination_name.concat(", ", sz.destination_admin1)), else_=sz.destination_name)
    interior = (sz.place_country == "US") & ~at_port & sz.place_name.notnull()
    said = ~interior & _reported_ok(sz.destination_country, sz.destination_id, sz.destination_name)
    base = sz.select(
        id=sz.id, date=sz.date.cast("date"), kg=sz.quantity_kg.cast("float64").fill_null(0.0),
        pills=sz.pill_count.cast("int64").fill_null(0), port_id=sz.port_id,
        own_origin=ibis.cases((sz.place_country == "MX", own_label), else_=ibis.null("string")),
        own_crossing=ibis.cases((sz.port_id.fill_null("").startswith(PORT_PREFIX), sz.port_name),
                                else_=ibis.null("string")),
        own_destination=ibis.cases((interior, own_label), (said, said_label), else_=ibis.null("string")),
        own_reported=flag(said),
    )
    j = base.left_join(assigned, base.id == assigned.id).left_join(twins, base.port_id == twins.twin_port)
    return j.select(
        id=j.id,
        period=period_of(j.date, period),
        load=j.chain.fill_null(j.id),
        kg=j.kg, pills=j.pills,
        origin=j.origin.fill_null(j.own_origin).fill_null(j.twin_label).fill_null(UNKNOWN),
        crossing=j.crossing.fill_null(j.own_crossing).fill_null(UNKNOWN),
        destination=j.destination.fill_null(j.own_destination).fill_null(UNKNOWN),
        reported=j.reported.fill_null(j.own_reported),
    )


def top_corridors(flows: pd.DataFrame, n: int = 10, by: str = "kg", complete: bool = True) -> pd.DataFrame:
    """Corridors over all periods ranked by a measure (complete: origin, crossing and destination known)."""
    frame = flows
    if complete:
        frame = frame[(frame.origin != UNKNOWN) & (frame.crossing != UNKNOWN) & (frame.destination != UNKNOWN)]
    agg = frame.groupby(["origin", "crossing", "destination"], as_index=False)[["events", "loads", "kg", "pills"]].sum()
    return agg.sort_values([by, "events", "origin", "crossing", "destination"],
                           ascending=[False, False, True, True, True]).head(n).reset_index(drop=True)


def crossing_cities() -> dict[str, str]:
    """Port of entry name → the Mexican city it serves (the gazetteer's twin: San Ysidro and Otay Mesa →
    Tijuana): the ports of one crossing city, whose destination mixes :func:`port_destinations` pools."""
    g = load_gazetteer()
    out = {}
    for port_id in g.twins:
        port, twin = g.get(port_id), g.get(twin_of(port_id) or "")
        if port is not None and twin is not None and port_id.startswith(PORT_PREFIX):
            out[port.name] = _label(twin.name, twin.admin1) or twin.name
    return out


# Destinations with fewer known loads than this per port of the city are lumped into one "other" column when
# the ports' destination mixes are compared (X² needs expected counts of a few loads).
MIN_EXPECTED = 5.0


def city_weights(known: pd.DataFrame, cities: dict[str, str]) -> pd.Series:
    """Per port: the weight of its crossing city's destination mix in its own (0 = its own evidence only,
    1 = the city's pooled evidence), an empirical-Bayes estimate from how much the city's ports' mixes differ.

    ``known``: loads with a known destination per port (rows) and destination (columns). For the ports of one
    city with such loads, Pearson's X² of their counts against the city's pooled mix (destinations with fewer
    than ``MIN_EXPECTED`` loads per port lumped into one column) estimates the intra-class correlation rho of
    a Dirichlet-multinomial: E[X²] = (K - 1) (P - 1 + rho · sum_p (n_p - 1)(1 - n_p / N)) for P ports, K
    columns, n_p loads at port p of N. A port's mix is then its own counts plus A = (1 - rho) / rho
    pseudo-loads of the city's mix (Bayes under that model), a weight A / (n_p + A): 1 when the ports differ no
    more than chance (rho = 0), small when they differ a lot. A port with no known load takes the city's mix
    (1); a port alone in its city, or the only one of its city with known loads, keeps its own (0)."""
    weights = pd.Series(0.0, index=known.index)
    totals = known.sum(axis=1)
    groups: dict[str, list[str]] = {}
    for port in known.index:
        if port in cities:
            groups.setdefault(cities[port], []).append(port)
    for members in groups.values():
        seen = [p for p in members if totals[p] > 0]
        weights[[p for p in members if totals[p] == 0 and seen]] = 1.0
        if len(seen) < 2:
            continue
        rows = known.loc[seen]
        n = rows.sum(axis=1).to_numpy(dtype=float)
        big = n.sum()
        col = rows.sum(axis=0)
        keep = col[col >= MIN_EXPECTED * len(seen)].index
        table = pd.concat([rows[keep], rows.drop(columns=keep).sum(axis=1).rename("_other")], axis=1)
        table = table.loc[:, table.sum(axis=0) > 0].to_numpy(dtype=float)
        if table.shape[1] < 2:
            continue  # too few loads to compare the ports: each keeps its own
        expected = np.outer(n, table.sum(axis=0) / big)
        x2 = float(((table - expected) ** 2 / expected).sum())
        k, p = table.shape[1], len(seen)
        rho = (x2 / (k - 1) - (p - 1)) / float(((n - 1) * (1 - n / big)).sum())
        rho = min(max(rho, 0.0), 1.0)
        for port in seen:
            weights[port] = 1.0 if rho == 0.0 else (1 - rho) / rho / (totals[port] + (1 - rho) / rho)
    return weights


def port_destinations(flows: pd.DataFrame, n: int | None = None, prior: float = 1.0,
                      reported_weight: float = REPORTED_WEIGHT, cities: dict[str, str] | None = None) -> pd.DataFrame:
    """Port → destination corridors ranked by estimated loads: loads through the port × the port's
    destination mix.

    Every port seizure counts towards its port's loads, but only some show where they went: the loads
    followed past the port (a chain that reaches a U.S. place away from the border, e.g. a controlled
    delivery) and the loads with a reported destination (a driver's statement, a manifest), which may be
    false. The evidence for pair (p, d) is c_pd = followed_pd + w · reported_pd (``reported_weight`` w: what
    a reported destination is worth next to a followed load).

    The ports of one crossing city (``cities``: port → city, the gazetteer's twins by default, see
    :func:`crossing_cities`; San Ysidro and Otay Mesa both serve Tijuana) pool their evidence as far as their
    mixes agree: port p's mix is (1 - k_p) · its own + k_p · its city's (the city's ports' evidence summed),
    with the city weight k_p of :func:`city_weights` (1 when the ports' mixes differ no more than chance), over
    e_p = (1 - k_p) · c_p + k_p · c_city loads of evidence. That mix is shrunk towards the mix of all ports:
    P(d | p) = (e_p · mix_pd + prior · P(d)) / (e_p + prior) (``prior``: the weight of the pooled mix, in
    loads). Estimated loads = loads(p) · P(d | p); ``followed`` and ``reported`` count the port's own loads
    behind c_pd, ``city_weight`` is k_p.
    """
    cols = ["crossing", "destination", "loads", "followed", "reported", "city_weight", "share"]
    cities = crossing_cities() if cities is None else cities
    ports = flows[flows["crossing"] != UNKNOWN]
    known = ports[ports["destination"] != UNKNOWN]
    said = known["reported"] if "reported" in known else pd.Series(0, index=known.index)
    known = known.assign(said=said, followed=known["loads"] - said)
    evidence = known.assign(w=known["followed"] + reported_weight * known["said"]).groupby(
        ["crossing", "destination"])[["w", "followed", "said", "loads"]].sum()
    evidence = evidence[evidence["w"] > 0]
    if evidence.empty:
        return pd.DataFrame(columns=cols)
    loads = ports.groupby("crossing")["loads"].sum()
    pooled = evidence["w"].groupby(level="destination").sum() / evidence["w"].sum()
    grid = pd.MultiIndex.from_product([loads.index, pooled.index], names=["crossing", "destination"])
    ev = evidence.reindex(grid, fill_value=0)
    count = ev["w"].astype(float).unstack(fill_value=0.0)
    weight = city_weights(ev["loads"].unstack(fill_value=0), cities).reindex(count.index, fill_value=0.0)
    city = pd.Series([cities.get(p, p) for p in count.index], index=count.index)
    city_count = count.groupby(city).transform("sum")
    own = count.sum(axis=1)
    k = weight.to_numpy()[:, None]
    mixed = (1 - k) * count.to_numpy() / np.maximum(own.to_numpy(), 1e-12)[:, None] \
        + k * city_count.to_numpy() / np.maximum(city_count.sum(axis=1).to_numpy(), 1e-12)[:, None]
    strength = ((1 - weight) * own + weight * city_count.sum(axis=1)).to_numpy()[:, None]
    share = (strength * mixed + prior * pooled.reindex(count.columns).to_numpy()[None, :]) / (strength + prior)
    share = pd.DataFrame(share, index=count.index, columns=count.columns).stack().reindex(grid)
    out = pd.DataFrame({"loads": share * loads.reindex(grid.get_level_values("crossing")).to_numpy(),
                        "followed": ev["followed"].astype("int64"), "reported": ev["said"].astype("int64"),
                        "city_weight": weight.reindex(grid.get_level_values("crossing")).to_numpy().round(6),
                        "share": share}).reset_index()
    out = out.sort_values(["loads", "followed", "reported", "crossing", "destination"],
                          ascending=[False, False, False, True, True])
    out = out.reset_index(drop=True)[cols]
    return out if n is None else out.head(n)


def port_shares(engine: Engine, period: str = "month") -> pd.DataFrame:
    """Share of seizure events, kg and pills through each port of entry per period."""
    sz = engine.table("seizure")
    sz = sz.filter(sz.port_name.notnull() & sz.port_id.startswith(PORT_PREFIX))
    agg = sz.group_by(period=period_of(sz.date, period), port_id=sz.port_id, port=sz.port_name).agg(
        events=sz.count(), kg=sz.quantity_kg.cast("float64").fill_null(0.0).sum(),
        pills=sz.pill_count.cast("int64").fill_null(0).sum())
    w = ibis.window(group_by=[agg.period])
    expr = agg.mutate(event_share=agg.events.cast("float64") / agg.events.sum().over(w).cast("float64"),
                      kg_share=agg.kg / agg.kg.sum().over(w))
    out = engine.run(expr).sort_values(["period", "events", "port"], ascending=[True, False, True])
    out["events"] = out["events"].astype("int64")
    out["pills"] = out["pills"].astype("int64")
    return out.reset_index(drop=True)
