"""Score the analytics against the simulator's ground truth (``DIR/truth/``, docs/simulator.md).

Every function returns the measured numbers (not pass/fail); tests and bench/analyze_truth.py set the bars.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from puente.analyze import corridors, networks, precursors
from puente.engine import Engine
from puente.geo.gazetteer import load_gazetteer
from puente.node import Node


def _truth(sim: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(sim / "truth" / name, dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def _port_codes() -> dict[str, str]:
    return {p.name: p.id[4:] for p in load_gazetteer().places.values() if p.kind == "port" and p.id.startswith("POE-")}


def _port_code(name: str) -> str:
    return _port_codes().get(name, "")


def corridor_recall(engine: Engine, sim: Path, flows: pd.DataFrame, n: int = 10) -> dict[str, Any]:
    """Recall of the true top-n corridors, at the border (port, with its twin border city) and with the
    destination (port → destination city, ranked by :func:`corridors.port_destinations`)."""
    truth = _truth(sim, "route_flows.csv")
    truth = truth[truth["port"] != ""].assign(loads=lambda f: f["loads"].astype(int))
    flows = flows.assign(port=flows["crossing"].map(_port_code))
    true_ports = truth.groupby("port")["loads"].sum().nlargest(n).index
    found_ports = flows[flows["port"] != ""].groupby("port")["loads"].sum().nlargest(n).index
    ranked = corridors.port_destinations(flows[flows["port"] != ""], n)
    true_pairs = truth.groupby(["port", "destination"])["loads"].sum().nlargest(n).index
    # the truth names destination cities without their state ("Denver"); the analytics label "Denver, Colorado"
    found_pairs = list(zip(ranked["crossing"].map(_port_code), ranked["destination"].str.split(", ").str[0]))
    at_ports = flows[(flows["port"] != "") & (flows["destination"] != corridors.UNKNOWN)]
    return {"border_corridor_recall": len(set(true_ports) & set(found_ports)) / n,
            "destination_corridor_recall": len(set(true_pairs) & set(found_pairs)) / n,
            "port_loads": int(flows.loc[flows["port"] != "", "loads"].sum()),
            "followed_loads": int((at_ports["loads"] - at_ports["reported"]).sum()),
            "reported_loads": int(at_ports["reported"].sum()),
            "true_top_border": list(true_ports), "found_top_border": list(found_ports)}


def shift_detection(sim: Path, flows: pd.DataFrame, within: int = 2) -> dict[str, Any]:
    """Planted shifts detected within ``within`` periods of their start; other alarms per simulated year.
    Monitors: land ports and destinations (a chain's latest U.S. interior place, else its reported destination, so
    port seizures whose driver stated a destination count where they said they were going), on loads, with
    :func:`corridors.route_shifts`' defaults (beta-binomial test, one alarm per episode)."""
    planted = _truth(sim, "route_shifts.csv")
    scenario = yaml.safe_load(resources.files("puente.simulate").joinpath("scenario.yaml").read_text("utf-8"))
    land = set(_port_codes())
    by_port = corridors.route_shifts(flows[flows["crossing"].isin(land)], ["crossing"])
    by_dest = corridors.route_shifts(flows[flows["destination"] != corridors.UNKNOWN], ["destination"])
    alarms = pd.concat([by_port[by_port["first"]].assign(level="port", key=lambda f: f["crossing"]),
                        by_dest[by_dest["first"]].assign(level="destination", key=lambda f: f["destination"])])
    alarms = alarms.reindex(columns=["level", "key", "period", "count", "baseline", "q_value"]).reset_index(drop=True)
    matched: set[int] = set()
    results = {}
    for shift in planted.itertuples():
        start = pd.Timestamp(shift.start_period + "-01")
        end = start + pd.DateOffset(months=within)
        if shift.type == "port":
            port_names = {name for name, code in _port_codes().items() if code == shift.port}
            hit = alarms[(alarms["level"] == "port") & alarms["key"].isin(port_names)]
        else:
            spec = scenario["corridors"][shift.corridor]
            others = {c for k, v in scenario["corridors"].items() if k != shift.corridor
                      for c in v["waypoints"] + v["destinations"]}
            cities = set(spec["waypoints"] + spec["destinations"]) - others
            hit = alarms[(alarms["level"] == "destination") & alarms["key"].str.split(", ").str[0].isin(cities)]
        hit = hit[(hit["period"] >= start) & (hit["period"] <= end)]
        matched.update(hit.index)
        results[shift.shift_id] = None if hit.empty else int(
            (hit["period"].min().year - start.year) * 12 + hit["period"].min().month - start.month)
    periods = sorted(flows["period"].unique())
    years = max(len(periods) - 3, 1) / 12  # the first three periods are the baseline only
    world = world_shifts(sim)
    real = set()
    for idx, alarm in alarms.iterrows():
        key = alarm["key"] if alarm["level"] == "port" else str(alarm["key"]).split(", ")[0]
        since = alarm["period"] - pd.DateOffset(months=within)
        if any(since <= p <= alarm["period"] for p in world.get((alarm["level"], key), [])):
            real.add(idx)
    alarms["planted"] = alarms.index.isin(list(matched))
    alarms["in_world"] = alarms.index.isin(list(real))
    false = alarms[~alarms["planted"] & ~alarms["in_world"]]
    return {"shift_delay_periods": results, "false_alarms": len(false),
            "false_alarms_per_year": len(false) / years, "months": len(periods) - 3,
            "port_false_alarms": int((false["level"] == "port").sum()),
            "unplanted_real_alarms": int((~alarms["planted"] & alarms["in_world"]).sum()), "alarms": alarms}


def world_shifts(sim: Path) -> dict[tuple[str, str], list[pd.Timestamp]]:
    """Shifts that really happened in the simulated world: the same monitor run on the complete flows
    (``truth/route_flows.csv``: every load, seized or not). Besides the planted shifts, the world follows
    the real CBP series month by month, so a field office whose real seizures jump (El Paso in 2020-07,
    say) really does send more loads through its ports; an alarm on such a jump is not a false alarm.
    Returns (level, port name or destination city) -> periods flagged."""
    truth = _truth(sim, "route_flows.csv")
    truth = truth.assign(loads=truth["loads"].astype(int), period=pd.to_datetime(truth["period"] + "-01"))
    names = {code: name for name, code in _port_codes().items()}
    out: dict[tuple[str, str], list[pd.Timestamp]] = {}
    ports = truth[truth["port"] != ""].assign(key=lambda f: f["port"].map(names))
    dests = truth[truth["destination"] != ""].assign(key=lambda f: f["destination"])
    for level, frame in (("port", ports), ("destination", dests)):
        flagged = corridors.route_shifts(frame.dropna(subset=["key"]), ["key"])
        for row in flagged[flagged["shift"]].itertuples():
            out.setdefault((level, str(row.key)), []).append(row.period)
    return out


def lab_region_accuracy(engine: Engine, sim: Path, km: float = 50.0) -> dict[str, Any]:
    labs = _truth(sim, "labs.csv")
    regions = precursors.lab_regions(engine)
    lat, lon = np.radians(labs["lat"].astype(float).to_numpy()), np.radians(labs["lon"].astype(float).to_numpy())
    rlat, rlon = np.radians(regions["lat"].to_numpy()), np.radians(regions["lon"].to_numpy())
    h = (np.sin((rlat[None, :] - lat[:, None]) / 2) ** 2
         + np.cos(lat[:, None]) * np.cos(rlat[None, :]) * np.sin((rlon[None, :] - lon[:, None]) / 2) ** 2)
    dist = 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(h, 1)))
    covered = (dist <= km).any(axis=1)
    useful = (dist <= km).any(axis=0)
    found = labs["found_period"] != ""
    return {"labs": len(labs), "regions": len(regions), "labs_within_km": float(covered.mean()),
            "undiscovered_labs_within_km": float(covered[~found.to_numpy()].mean()) if (~found).any() else None,
            "regions_near_a_lab": float(useful.mean()) if len(regions) else 0.0}


def roc_auc(labels: Any, scores: Any) -> float:
    """ROC AUC as the Mann–Whitney statistic (ties count half)."""
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    ranks = rankdata(np.asarray(scores, dtype=float))
    pos, neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def diversion_auc(engine: Engine, sim: Path) -> dict[str, Any]:
    truth = _truth(sim, "precursor_shipments.csv")
    risk = precursors.diversion_risk(engine)
    ids = engine.run(engine.table("precursor_shipment").select("id", "source_id"))
    merged = risk.merge(ids, on="id").merge(truth[["source_id", "diverted"]], on="source_id")
    y = merged["diverted"].astype(int)
    return {"shipments": len(merged), "diverted": int(y.sum()), "auc": roc_auc(y, merged["risk"])}


def leader_ranks(engine: Engine, sim: Path, network: networks.Network | None = None) -> dict[str, Any]:
    """Each true leader's best rank (over its person records) by betweenness, as a fraction of all nodes."""
    net = network or networks.build_network(engine)
    orgs = _truth(sim, "organizations.csv")
    ident = _truth(sim, "identities.csv")
    ident = ident.assign(source_file=ident["file"].str.split("/").str[-1])
    people = engine.run(engine.table("person").select("id", "source_id", "source_file"))
    records = people.merge(ident, on=["source_file", "source_id"])
    ranks = net.nodes.set_index("entity")["rank"]
    total = len(net.nodes)
    out = {}
    for org in orgs.itertuples():
        ids = records[records["entity_id"] == org.leader_id]["id"]
        found = ranks.reindex(ids).dropna()
        out[org.org_id] = None if found.empty else float(found.min() / total)
    return {"nodes": total, "leader_rank_fraction": out}


def ingest_scenario(sim: Path, home: Path, store_url: str | None = None) -> Node:
    """One node holding both countries' simulated files (the combined picture after sharing)."""
    from puente.ingest.pipeline import ingest_file
    from puente.ingest.profile import get_profile
    from puente.simulate import read_manifest

    node = Node.init(home, "both", "US", store_url)
    with node.open_store() as store:
        for entry in read_manifest(sim):
            ingest_file(node, store, sim / entry["file"], get_profile(entry["profile"]))
    return node


def evaluate_all(engine: Engine, sim: Path) -> dict[str, Any]:
    """Every ground-truth measure in one dictionary."""
    flows = corridors.corridor_flows(engine)
    return {"corridors": corridor_recall(engine, sim, flows), "shifts": shift_detection(sim, flows),
            "labs": lab_region_accuracy(engine, sim), "diversion": diversion_auc(engine, sim),
            "leaders": leader_ranks(engine, sim)}
