"""What the ingested records say about a planted new corridor in its first months, record kind by record kind.

    PYTHONPATH=. python -m bench.shift_signal --world /tmp/w/s73013_60000 [--world ...] [--out report.md]

A world is a folder with ``sim`` (the simulator's files and truth) and ``node`` (the node built from them, as
``bench.analytics_truth.build_node`` does); the node's store is opened read-only. For each planted corridor
shift, the cities it dominates (the harness's own ``_affected``: the corridor carries ≥ half of the city's loads
in months start..start+2) are the cities an alarm must name. Every seizure record in the store is classed by
what an analyst sees (its file and its port field: CBP port, CBP checkpoint, CBP mail facility, U.S. interior,
HSI report of a CBP case, Mexican) and by the U.S. places it names: its own place when that is an interior
place (not a port, checkpoint or mail facility) and its stated destination when that is a U.S. place that is
not a port of entry. ``used`` = the place ``corridors_flows`` gives the record alone (the interior place, else
the stated destination); ``unused`` = a stated destination the flows drop because the record's own place wins.

Counted per shift and kind, in the window (start..start+2) and in the twelve months before: records naming a
dominated city (``used`` / ``unused``), and among the window's, those of the corridor's own loads (the truth's
``seizure_reports`` → ``loads`` labels them; used only to label, never to count). ``oracle p``: a one-sided
binomial test of the window's records naming the dominated cities (every kind, used and unused) against the
twelve months before, with p0 = all records naming any U.S. city in the window over window + baseline — the
test an analyst could run who already knew which cities to watch (no multiplicity): a bound on any monitor
over these records. The other ingested records with a U.S. place (ATF traces' purchase states and dealers,
vehicles' issuing states) are not drawn from routes in the simulator (puente/simulate/firearms.py, world.py)
and are not counted.

``--probe`` also scores (harness's ``alarm_episodes`` / ``_score_alarms`` / ``_affected``, definitions unchanged)
the world's written ``corridors_shifts`` ("main") against the same table with its ``emerging`` rows recomputed by
the product's ``emerging_destinations`` from more of the records: (B) the written flows plus the stated
destinations they drop, one load each; (A) every U.S. place every record names, one count per record and place.
A probe, not shipped: bench/results/analytics.md, "Route shifts … (shifts10, session 15)".
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from scipy.stats import binom

from bench import analytics_truth as at
from puente.analyze.corridors import UNKNOWN, _label
from puente.analyze.shifts import emerging_destinations
from puente.node import Node

WITHIN = at.WITHIN_MONTHS
BASELINE = 12
KINDS = ["cbp port", "cbp checkpoint", "cbp mail", "interior", "hsi of cbp case", "mexico"]


def _kind(file: str, port_id: object, port_text: object) -> str:
    has_port = isinstance(port_id, str) and bool(port_id)
    if file == "aseguramientos.csv":
        return "mexico"
    if file == "interior_seizures.csv":
        return "hsi of cbp case" if has_port else "interior"
    if isinstance(port_id, str) and port_id.startswith("POE-"):
        return "cbp port"
    if isinstance(port_id, str) and port_id.startswith("AOR-"):
        return "cbp mail"
    return "cbp checkpoint"


def _copy_store(world: Path, tmp: str) -> Path:
    store = Path(tmp) / "store.duckdb"
    shutil.copy(world / "node" / "store.duckdb", store)  # never open a shared world's store, even to read
    return store


def records(store: Path) -> pd.DataFrame:
    """Every seizure record of the store with its month, kind and the U.S. cities it names (``place``: an
    interior place; ``stated``: a stated U.S. destination that is not a port of entry)."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        sz = con.sql("""SELECT source_file, source_id, date, place_id, place_name, place_admin1, place_country, port_id,
                               port_text, destination_id, destination_name, destination_admin1, destination_country
                        FROM seizure""").df()
    finally:
        con.close()
    at_port = sz["port_id"].notna() | sz["port_text"].fillna("").str.strip().ne("") \
        | sz["place_id"].fillna("").str.startswith("POE-")
    interior = (sz["place_country"] == "US") & ~at_port & sz["place_name"].notna()
    stated = (sz["destination_country"] == "US") & sz["destination_name"].notna() \
        & ~sz["destination_id"].fillna("").str.startswith("POE-")
    return pd.DataFrame({
        "source_file": sz["source_file"], "source_id": sz["source_id"],
        "m": pd.to_datetime(sz["date"]).map(lambda d: d.year * 12 + d.month - 1),
        "kind": [_kind(f, p, t) for f, p, t in zip(sz["source_file"], sz["port_id"], sz["port_text"])],
        "place": sz["place_name"].where(interior), "stated": sz["destination_name"].where(stated),
        "place_label": [_label(n, a) if i else None for n, a, i in zip(sz["place_name"], sz["place_admin1"], interior)],
        "stated_label": [_label(n, a) if i else None
                         for n, a, i in zip(sz["destination_name"], sz["destination_admin1"], stated)]})


def corridor_of_records(sim: Path) -> pd.DataFrame:
    """(source_file, source_id) → the corridor of the load the record reports (truth: labels only)."""
    reports = pd.read_csv(sim / "truth" / "seizure_reports.csv", dtype=str, keep_default_na=False)
    loads = pd.read_csv(sim / "truth" / "loads.csv", dtype=str, keep_default_na=False,
                        usecols=["load_id", "corridor"]).drop_duplicates("load_id")
    out = reports.merge(loads, on="load_id", how="left")
    return pd.DataFrame({"source_file": out["file"].map(lambda f: Path(f).name), "source_id": out["source_id"],
                         "corridor": out["corridor"]})


def study(world: Path) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="shift_signal") as tmp:
        recs = records(_copy_store(world, tmp))
    recs = recs.merge(corridor_of_records(world / "sim"), on=["source_file", "source_id"], how="left")
    run = at.Run(world / "sim", Node.load(world / "node"), world / "analysis")
    planted = at.truth(run, "route_shifts.csv")
    out = []
    for shift in at._affected(run):
        row = planted[planted["shift_id"] == shift["shift_id"]].iloc[0]
        if row["type"] != "corridor":
            continue
        cities, start = shift["destinations"], shift["start"]
        window = recs[(recs["m"] >= start) & (recs["m"] <= start + WITHIN)]
        base = recs[(recs["m"] >= start - BASELINE) & (recs["m"] < start)]
        entry: dict[str, Any] = {"world": world.name, "corridor": row["corridor"], "start": row["start_period"],
                                 "cities": sorted(cities), "kinds": {}}
        for kind in KINDS:
            w, b = window[window["kind"] == kind], base[base["kind"] == kind]
            used_w = w["place"].where(w["place"].notna(), w["stated"]).isin(cities)
            unused_w = w["place"].notna() & w["stated"].isin(cities) & ~w["place"].isin(cities)
            used_b = b["place"].where(b["place"].notna(), b["stated"]).isin(cities)
            unused_b = b["place"].notna() & b["stated"].isin(cities) & ~b["place"].isin(cities)
            own = w["corridor"] == row["corridor"]
            entry["kinds"][kind] = {
                "corridor_records": int(own.sum()),
                "corridor_no_us_place": int((own & w["place"].isna() & w["stated"].isna()).sum()),
                "used": int(used_w.sum()), "used_corridor": int((used_w & own).sum()),
                "unused": int(unused_w.sum()), "unused_corridor": int((unused_w & own).sum()),
                "baseline_used": int(used_b.sum()), "baseline_unused": int(unused_b.sum())}
        names_w = window["place"].notna() | window["stated"].notna()
        names_b = base["place"].notna() | base["stated"].notna()
        hits_w = window["place"].isin(cities) | window["stated"].isin(cities)
        hits_b = base["place"].isin(cities) | base["stated"].isin(cities)
        x, b_ = int(hits_w.sum()), int(hits_b.sum())
        p0 = names_w.sum() / (names_w.sum() + names_b.sum())
        entry.update(oracle_x=x, oracle_b=b_, oracle_p=float(binom.sf(x - 1, x + b_, p0)) if x + b_ else 1.0,
                     expected=float((x + b_) * p0))
        out.append(entry)
    return out


def _score(run: at.Run, shifts: pd.DataFrame, months: int) -> dict[str, Any]:
    return at._score_alarms(at.alarm_episodes(shifts), at._affected(run), months)


def probe(world: Path) -> dict[str, dict[str, Any]]:
    """Main's written shift table against the ``emerging`` level fed with more records (B, A: module doc)."""
    run = at.Run(world / "sim", Node.load(world / "node"), world / "analysis")
    flows, written = at.written(run, "corridors_flows"), at.written(run, "corridors_shifts")
    months = flows["period"].nunique() - at.BASELINE_PERIODS
    with tempfile.TemporaryDirectory(prefix="shift_signal") as tmp:
        recs = records(_copy_store(world, tmp))
    starts = pd.to_datetime(sorted(flows["period"].unique()))
    month_start = {d.year * 12 + d.month - 1: p for d, p in zip(starts, sorted(flows["period"].unique()))}
    recs = recs[recs["m"].isin(list(month_start))].assign(period=lambda d: d["m"].map(month_start))
    dropped = recs[recs["place_label"].notna() & recs["stated_label"].notna()
                   & (recs["place_label"] != recs["stated_label"])]
    b = pd.concat([flows[["period", "destination", "loads"]],
                   dropped.assign(destination=dropped["stated_label"], loads=1)[["period", "destination", "loads"]]])
    own = recs[recs["place_label"].notna()].assign(destination=lambda d: d["place_label"])
    said = recs[recs["stated_label"].notna() & (recs["stated_label"] != recs["place_label"])].assign(
        destination=lambda d: d["stated_label"])
    a = pd.concat([own, said]).assign(loads=1)[["period", "destination", "loads"]]
    out = {"main": _score(run, written, months)}
    for name, feed in (("B", b), ("A", a)):
        emerging = emerging_destinations(feed[feed["destination"] != UNKNOWN]).assign(level="emerging")
        out[name] = _score(run, pd.concat([written[written["level"] != "emerging"], emerging], ignore_index=True),
                           months)
    out["check"] = _score(run, pd.concat([written[written["level"] != "emerging"], emerging_destinations(
        flows[flows["destination"] != UNKNOWN]).assign(level="emerging")], ignore_index=True), months)
    return out


def probe_line(world: Path, scores: dict[str, dict[str, Any]]) -> str:
    def one(s: dict[str, Any]) -> str:
        delays = ", ".join("–" if d is None else f"+{d}" for d in s["delays"].values())
        false = "; ".join(f"{r.level} {r.destination or r.crossing} {r.start // 12}-{r.start % 12 + 1:02d}"
                          for r in s["false_list"].itertuples())
        return f"{s['detected']}/{s['planted']} [{delays}], FA {s['false_per_year']:.2f}/yr{f' ({false})' if false else ''}"
    return f"| {world.name} | " + " | ".join(one(scores[k]) for k in ("main", "check", "B", "A")) + " |"


def report(entries: list[dict[str, Any]]) -> str:
    lines = ["| world | corridor (start) | dominated cities | kind | corridor's records in window (no U.S. place) "
             "| window: naming the cities used (corridor's) / unused (corridor's) | 12 months before: used / unused |",
             "|---|---|---|---|---|---|---|"]
    for e in entries:
        for kind, k in e["kinds"].items():
            if not (k["corridor_records"] or k["used"] or k["unused"] or k["baseline_used"] or k["baseline_unused"]):
                continue
            lines.append(f"| {e['world']} | {e['corridor']} ({e['start']}) | {', '.join(e['cities'])} | {kind} | "
                         f"{k['corridor_records']} ({k['corridor_no_us_place']}) | {k['used']} ({k['used_corridor']}) / "
                         f"{k['unused']} ({k['unused_corridor']}) | {k['baseline_used']} / {k['baseline_unused']} |")
    lines += ["", "| world | corridor (start) | corridor's records in window (no U.S. place) | window: naming the cities "
              "used (corridor's) / unused (corridor's) | 12 months before: used / unused | oracle: window / before "
              "(expected) | oracle p |", "|---|---|---|---|---|---|---|"]
    for e in entries:
        t = {key: sum(k[key] for k in e["kinds"].values()) for key in next(iter(e["kinds"].values()))}
        lines.append(f"| {e['world']} | {e['corridor']} ({e['start']}) | {t['corridor_records']} "
                     f"({t['corridor_no_us_place']}) | {t['used']} ({t['used_corridor']}) / {t['unused']} "
                     f"({t['unused_corridor']}) | {t['baseline_used']} / {t['baseline_unused']} | {e['oracle_x']} / "
                     f"{e['oracle_b']} ({e['expected']:.1f}) | {e['oracle_p']:.2g} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--probe", action="store_true", help="score main against the emerging level fed more records")
    args = parser.parse_args()
    entries = [e for w in args.world for e in study(w)]
    text = report(entries)
    if args.probe:
        text += ("\n\n| world | main (written) | main recomputed | B: + dropped stated destinations | "
                 "A: every place named |\n|---|---|---|---|---|\n")
        text += "\n".join(probe_line(w, probe(w)) for w in args.world)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
