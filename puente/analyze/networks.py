"""Key players: people, companies and vehicles joined through the events they share (networkx).

The engine pairs entities that are linked to the same event (a join on the event id) and
collects direct entity–entity links (member, leader, associate ...); networkx computes
betweenness centrality (who bridges organisations), Louvain communities and paths.

Key players are ranked on ties of criminal activity only: shared seizures, lab sites and firearm
traces, and direct links between entities (member, leader, associate, owner). A customs declaration
ties its importer, exporter and consignee (``TRADE_KINDS``): those ties stay in ``edges`` and in the
paths, but trade is not brokerage — a legitimate chemical importer with thousands of declarations would
otherwise be the best-connected "player" of all. A front company still counts through its owner.

Two layers rank a player. **Operations**: betweenness on the criminal ties above — couriers, drivers and
vehicles that join many seizures. **Structure**: betweenness on the direct links investigators record
between people and organisations (associate, member, leader, owner ...) — the people who hold an
organisation together. Leaders keep away
from operations (they are seldom at a seizure), so on operations alone a leader with a dozen recorded
ties ranks below every busy courier once entity resolution makes each courier one player with dozens of
arrests (measured: leaders at the top 31% of players, seed 7). A player's ``rank`` orders players by the
better of their two layer ranks (``rank_operations``, ``rank_structure``), so the top of the list holds
the best of each layer. Only people are ranked on the structure (``STRUCTURE_RANKED``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import ibis
import networkx as nx
import numpy as np
import pandas as pd

from puente.analyze.chains import ENTITY_KINDS, entity_links
from puente.analyze.common import EVENT_KINDS
from puente.engine import Engine
from puente.errors import UsageError

# Event kinds whose shared entities are commercial counterparties, not accomplices.
TRADE_KINDS = ("precursor_shipment",)
# The organisation's structure: recorded ties between people and organisations (a vehicle's owner is an
# asset tie, and unresolved vehicle records would make every courier the hub of a star of plates).
STRUCTURE_KINDS = ("person", "organization")
# Who is ranked on the structure: people. A company's recorded ties are its owners (an asset tie, like a
# vehicle's owner); a company entity that resolution merged from several similarly named firms (a front with
# the legitimate importers whose names it shares) collects every one of their owners and bridges them all —
# an artefact of the merge, not of an organisation. The front still ranks its owner, through the tie.
STRUCTURE_RANKED = ("person",)


@dataclass
class Network:
    graph: nx.Graph
    nodes: pd.DataFrame
    edges: pd.DataFrame


def _edges(engine: Engine) -> pd.DataFrame:
    parts = []
    for kind in EVENT_KINDS:
        if not engine.has_table(kind):
            continue
        links = entity_links(engine, kind)
        left = links.select(event=links.event, a=links.entity)
        right = links.select(event2=links.event, b=links.entity)
        pairs = left.join(right, (left.event == right.event2) & (left.a < right.b))
        parts.append(pairs.select(a=pairs.a, b=pairs.b, via=pairs.event.cast("string"),
                                  trade=ibis.literal(int(kind in TRADE_KINDS)).cast("int64")))
    lk = engine.table("link")
    direct = lk.filter(lk.from_kind.isin(ENTITY_KINDS) & lk.to_kind.isin(ENTITY_KINDS) & (lk.from_id != lk.to_id))
    parts.append(direct.select(
        a=ibis.least(direct.from_id, direct.to_id), b=ibis.greatest(direct.from_id, direct.to_id),
        via=ibis.literal("link:").concat(direct.role), trade=ibis.literal(0).cast("int64")))
    expr = parts[0]
    for part in parts[1:]:
        expr = expr.union(part)
    return engine.run(expr)


def _labels(engine: Engine) -> pd.DataFrame:
    frames = []
    specs: dict[str, Callable[[Any], Any]] = {"person": lambda t: t.given_names.fill_null("").concat(" ", t.surname1.fill_null("")),
             "organization": lambda t: t.name, "vehicle": lambda t: t.plate.fill_null(t.vin)}
    for kind, label in specs.items():
        if engine.has_table(kind):
            t = engine.table(kind)
            frames.append(engine.run(t.select(entity=t.id, kind=ibis.literal(kind), label=label(t).strip())))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["entity", "kind", "label"])


def resolved_entities(engine: Engine) -> dict[str, str]:
    """record id → entity id from the latest entity resolution (``link_entities``, written by ``puente link
    run``; the entity id is its anchor record's id). Records never resolved stand for themselves."""
    if not engine.has_table("link_entities"):
        return {}
    le = engine.table("link_entities")
    frame = engine.run(le.filter(le.kind.isin(ENTITY_KINDS)).select("record_id", "cluster_id"))
    return dict(zip(frame["record_id"], frame["cluster_id"]))


def build_network(engine: Engine, betweenness_k: int = 1000, seed: int = 0) -> Network:
    """The entity graph with degree, betweenness, community and event count per entity. When the node has
    resolved its entities (``puente link run``), a node of the graph is an entity — every record of one
    person is one player, ``records`` lists them — else each record is its own player."""
    raw = _edges(engine)
    entity_of = resolved_entities(engine)
    members: dict[str, set[str]] = {}
    for col in ("a", "b"):
        for rec in raw[col].unique():
            members.setdefault(entity_of.get(rec, rec), set()).add(rec)
        raw[col] = raw[col].map(lambda r: entity_of.get(r, r))
    raw = raw[raw["a"] != raw["b"]]
    swap = raw["a"] > raw["b"]  # one orientation whatever the engine's string collation
    raw.loc[swap, ["a", "b"]] = raw.loc[swap, ["b", "a"]].to_numpy()
    edges = raw.groupby(["a", "b"], as_index=False).agg(
        weight=("via", "size"), via=("via", lambda s: "|".join(sorted(set(s)))), trade=("trade", "min"))
    g = nx.Graph()
    for row in edges.itertuples(index=False):
        g.add_edge(row.a, row.b, weight=int(row.weight), via=row.via, trade=int(row.trade))
    nodes = _labels(engine).drop_duplicates("entity").set_index("entity")
    nodes = nodes[nodes.index.isin(g.nodes)]
    if g.number_of_nodes() == 0:
        return Network(g, pd.DataFrame(columns=["entity", "kind", "label", "records", "degree", "betweenness",
                                                "community", "events", "crime_degree", "structure",
                                                "structure_degree", "rank_operations", "rank_structure", "rank"]),
                       edges)
    # Distance is the inverse of how many events two entities share: strong ties are short.
    for _, _, data in g.edges(data=True):
        data["distance"] = 1.0 / data["weight"]
    # Materialised subgraphs, not edge_subgraph views: betweenness walks every neighbour list thousands of
    # times, and a view filters each one in Python (measured: 190 s of 199 s on seed 7 at scale 20,000).
    crime = _subgraph(g, [(a, b) for a, b, d in g.edges(data=True) if not d["trade"]])
    between = dict.fromkeys(g.nodes, 0.0)
    if crime.number_of_nodes():
        k = min(betweenness_k, crime.number_of_nodes())
        between.update(nx.betweenness_centrality(crime, k=None if k == crime.number_of_nodes() else k,
                                                 weight="distance", normalized=True, seed=seed))
    communities = nx.community.louvain_communities(g, weight="weight", seed=seed)
    community = {n: i for i, members in enumerate(sorted(communities, key=lambda c: (-len(c), min(c))))
                 for n in members}
    frame = pd.DataFrame({"entity": list(g.nodes)})
    frame["kind"] = frame["entity"].map(nodes["kind"]) if len(nodes) else None
    frame["label"] = frame["entity"].map(nodes["label"]) if len(nodes) else None
    frame["records"] = frame["entity"].map(lambda e: "|".join(sorted(members.get(e, {e}))))
    frame["degree"] = frame["entity"].map(dict(g.degree())).astype("int64")
    frame["betweenness"] = frame["entity"].map(between).round(12)
    frame["community"] = frame["entity"].map(community).astype("int64")
    frame["events"] = frame["entity"].map(
        lambda n: len({v for _, _, d in g.edges(n, data=True) for v in d["via"].split("|") if not v.startswith("link:")}))
    frame["crime_degree"] = frame["entity"].map(dict(crime.degree())).fillna(0).astype("int64")
    kind_of = frame.set_index("entity")["kind"].to_dict()
    structure = _subgraph(g, [(a, b) for a, b, d in g.edges(data=True)
                              if kind_of.get(a) in STRUCTURE_KINDS and kind_of.get(b) in STRUCTURE_KINDS
                              and any(v.startswith("link:") for v in d["via"].split("|"))])
    frame["structure"] = frame["entity"].map(
        nx.betweenness_centrality(structure, normalized=True) if structure.number_of_nodes() else {}).fillna(0.0)
    frame["structure"] = frame["structure"].round(12)
    frame["structure_degree"] = frame["entity"].map(dict(structure.degree())).fillna(0).astype("int64")
    # Only people are ranked on the structure (companies stay in its graph, as the ties they carry).
    on_structure = (frame["structure"] > 0) & frame["kind"].isin(STRUCTURE_RANKED)
    frame = frame.assign(on_structure=on_structure).sort_values(
        ["on_structure", "structure", "structure_degree", "entity"], ascending=[False, False, False, True])
    frame["rank_structure"] = np.where(frame["on_structure"], np.arange(1, len(frame) + 1), len(frame) + 1)
    frame = frame.sort_values(["betweenness", "crime_degree", "degree", "entity"], ascending=[False, False, False, True])
    frame["rank_operations"] = np.arange(1, len(frame) + 1)
    frame["best"] = frame[["rank_operations", "rank_structure"]].min(axis=1)
    frame = frame.sort_values(["best", "rank_operations", "entity"]).drop(columns=["best"])
    frame["rank"] = np.arange(1, len(frame) + 1)
    # None (not pd.NA) where a player ties no people or organisations together: JSON and Parquet both take it
    frame["rank_structure"] = [int(r) if on else None for r, on in zip(frame["rank_structure"], frame["on_structure"])]
    frame = frame.drop(columns=["on_structure"])
    edges = edges.drop(columns=["trade"]).sort_values(["a", "b"]).reset_index(drop=True)
    return Network(g, frame.reset_index(drop=True), edges)


def _subgraph(g: nx.Graph, edges: list[tuple[str, str]]) -> nx.Graph:
    """A new graph of these edges of ``g`` (with their data), not a filtering view."""
    sub = nx.Graph()
    sub.add_edges_from((a, b, g.edges[a, b]) for a, b in edges)
    return sub


def path(network: Network, source: str, target: str) -> pd.DataFrame:
    """The shortest path between two entities, one row per hop with the events (or links) that join them."""
    for node in (source, target):
        if node not in network.graph:
            raise UsageError("unknown_entity", entity=node)
    try:
        hops = nx.shortest_path(network.graph, source, target, weight="distance")
    except nx.NetworkXNoPath:
        return pd.DataFrame(columns=["step", "from", "to", "via"])
    return pd.DataFrame([{"step": i + 1, "from": a, "to": b, "via": network.graph.edges[a, b]["via"]}
                         for i, (a, b) in enumerate(pairwise(hops))])
