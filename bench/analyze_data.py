"""Synthetic events at benchmark scale, generated inside DuckDB (10M rows in well under a minute).

Seizures come in loads of three legs (Mexican place, port of entry, U.S. destination) on one of
600 corridors between the 500 most populous Mexican municipalities, the 38 southwest-border land
ports and the 500 most populous U.S. counties of the shipped gazetteer; a third of the port legs carry
the load's destination as a reported destination; legs share a batch mark or a vehicle; couriers and vehicles recur. Labs, precursor
shipments and firearm traces fill the rest. Shares: seizures 60%, shipments 20%, traces 18%, labs 2%.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from puente.geo.gazetteer import load_gazetteer

PLACES_PER_COUNTRY = 500  # the most populous Mexican municipalities and U.S. counties


def _frame(places: list, key: str = "id") -> pd.DataFrame:
    rows = [{"text": p.name, "id": p.id, "name": p.name, "admin1": p.admin1, "country": p.country,
             "lat": p.lat, "lon": p.lon, "h3": p.h3} for p in places if p.lat is not None]
    frame = pd.DataFrame(rows).drop_duplicates(key).reset_index(drop=True)
    frame["k"] = np.arange(len(frame))
    return frame


def _places(country: str, kind: str, n: int = PLACES_PER_COUNTRY) -> pd.DataFrame:
    """The ``n`` most populous places of a kind (ports: every southwest-border land port with a twin city)."""
    g = load_gazetteer()
    if kind == "port":
        return _frame(sorted((g.places[p] for p in g.twins if p in g.places), key=lambda p: p.id))
    chosen = sorted((p for p in g.places.values() if p.country == country and p.kind == kind),
                    key=lambda p: (-p.population, p.id))[:n]
    return _frame(chosen)


def _named(names: list[str], country: str, prefer: str) -> pd.DataFrame:
    g = load_gazetteer()
    return _frame([p for p in (g.resolve(t, country, prefer) for t in names) if p is not None])


def generate(path: str, events: int, seed: int = 1) -> dict[str, int]:
    """Fill the (migrated, empty) DuckDB store at ``path`` with ``events`` event records."""
    con = duckdb.connect(path)
    con.execute(f"SELECT setseed({1 / (seed + 1)})")
    mx, ports, us = _places("MX", "municipality"), _places("US", "port"), _places("US", "county")
    for name, frame in (("b_mx", mx), ("b_port", ports), ("b_us", us)):
        con.register(name + "_df", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
    n_sz, n_ps, n_ft = int(events * 0.6), int(events * 0.2), int(events * 0.18)
    n_lab = events - n_sz - n_ps - n_ft
    n_mx, n_port, n_us = len(mx), len(ports), len(us)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE b_legs AS
        SELECT i, i // 3 AS load, i % 3 AS leg,
               hash(i // 3) % 600 AS corridor,
               DATE '2019-01-01' + CAST(hash(i // 3 + 7) % 1400 + i % 3 AS INTEGER) AS day,
               0.0001 * (1000 + hash(i // 3 + 13) % 20000) AS kg
        FROM range({n_sz}) t(i)""")
    # corridor c: origin c % n_mx, port (c * 7) % n_port, destination (c * 11) % n_us
    con.execute(f"""
        INSERT INTO seizure (id, owner_node, date, country, drug, form, unit, quantity, quantity_kg, pill_count,
                             pill_stamp, batch,
                             place_text, place_id, place_name, place_admin1, place_country, place_lat, place_lon,
                             place_h3, port_text, port_id, port_name, port_admin1, port_country, port_lat, port_lon,
                             port_h3, destination_text, destination_id, destination_name, destination_admin1,
                             destination_country, destination_lat, destination_lon, destination_h3)
        SELECT 'sz-' || l.i, 'bench', l.day, CASE WHEN l.leg = 0 THEN 'MX' ELSE 'US' END, 'fentanyl', 'pills',
               'pills', round(l.kg * 10000), l.kg, CAST(round(l.kg * 10000) AS BIGINT), 'M30',
               CASE WHEN l.leg < 2 THEN 'B' || l.load END,
               p.text, p.id, p.name, p.admin1, p.country, p.lat, p.lon, p.h3,
               CASE WHEN l.leg = 1 THEN q.text END, CASE WHEN l.leg = 1 THEN q.id END,
               CASE WHEN l.leg = 1 THEN q.name END, CASE WHEN l.leg = 1 THEN q.admin1 END,
               CASE WHEN l.leg = 1 THEN q.country END, CASE WHEN l.leg = 1 THEN q.lat END,
               CASE WHEN l.leg = 1 THEN q.lon END, CASE WHEN l.leg = 1 THEN q.h3 END,
               CASE WHEN l.said THEN u.text END, CASE WHEN l.said THEN u.id END, CASE WHEN l.said THEN u.name END,
               CASE WHEN l.said THEN u.admin1 END, CASE WHEN l.said THEN u.country END,
               CASE WHEN l.said THEN u.lat END, CASE WHEN l.said THEN u.lon END, CASE WHEN l.said THEN u.h3 END
        FROM (SELECT *, leg = 1 AND hash(load + 17) % 3 = 0 AS said FROM b_legs) l
        JOIN b_port q ON q.k = (l.corridor * 7) % {n_port}
        JOIN b_us u ON u.k = (l.corridor * 11) % {n_us}
        JOIN (SELECT 0 AS leg, * FROM b_mx UNION ALL SELECT 1, * FROM b_port UNION ALL SELECT 2, * FROM b_us) p
          ON p.leg = l.leg AND p.k = CASE l.leg WHEN 0 THEN l.corridor % {n_mx} WHEN 1 THEN (l.corridor * 7) % {n_port}
                                      ELSE (l.corridor * 11) % {n_us} END""")
    n_vehicles, n_couriers = max(10, n_sz // 50), max(10, n_sz // 100)
    con.execute(f"""
        INSERT INTO link (id, owner_node, from_kind, from_ref, to_kind, to_ref, role, from_id, to_id)
        SELECT 'lv-' || i, 'bench', 'seizure', 'sz-' || i, 'vehicle', 'veh-' || (load % {n_vehicles}), 'vehicle',
               'sz-' || i, 'veh-' || (load % {n_vehicles})
        FROM b_legs WHERE leg > 0
        UNION ALL
        SELECT 'lp-' || i, 'bench', 'seizure', 'sz-' || i, 'person', 'per-' || (load % {n_couriers}), 'courier',
               'sz-' || i, 'per-' || (load % {n_couriers})
        FROM b_legs WHERE leg = 1 AND load % 3 = 0""")
    con.execute(f"INSERT INTO vehicle (id, owner_node, plate) SELECT 'veh-' || i, 'bench', 'P' || i FROM range({n_vehicles}) t(i)")
    con.execute(f"INSERT INTO person (id, owner_node, given_names) SELECT 'per-' || i, 'bench', 'C' || i FROM range({n_couriers}) t(i)")
    con.execute(f"""
        INSERT INTO lab_site (id, owner_node, date_found, status, lab_kind,
                              place_text, place_id, place_name, place_admin1, place_country, place_lat, place_lon, place_h3)
        SELECT 'lab-' || i, 'bench', DATE '2019-01-01' + CAST(hash(i) % 1400 AS INTEGER), 'dismantled', 'fentanyl',
               p.text, p.id, p.name, p.admin1, p.country, p.lat, p.lon, p.h3
        FROM range({n_lab}) t(i) JOIN b_mx p ON p.k = hash(i + 3) % {n_mx}""")
    mzo = _named(["Manzanillo", "Lázaro Cárdenas"], "MX", "port")
    con.register("b_sea_df", mzo)
    con.execute("CREATE OR REPLACE TEMP TABLE b_sea AS SELECT * FROM b_sea_df")
    con.execute(f"""
        INSERT INTO precursor_shipment (id, owner_node, chemical, quantity, unit, quantity_kg, importer, importer_taxid,
               consignee, origin_country, arrival_date, declared_use, status,
               port_text, port_id, port_name, port_admin1, port_country, port_lat, port_lon, port_h3)
        SELECT 'ps-' || i, 'bench', (['npp', '4-ap', 'piperidine', '4-piperidone', 'propionic_anhydride'])[1 + i % 5],
               5 + hash(i) % 500, 'kg', 5 + hash(i) % 500, 'IMP ' || (i % {max(10, n_ps // 20)}),
               'RFC' || (i % {max(10, n_ps // 20)}), 'IMP ' || (i % {max(10, n_ps // 20)}), 'CN',
               DATE '2019-01-01' + CAST(hash(i + 1) % 1400 AS INTEGER), 'pharmaceutical',
               CASE WHEN i % 40 = 0 THEN 'seized' ELSE 'cleared' END,
               p.text, p.id, p.name, p.admin1, p.country, p.lat, p.lon, p.h3
        FROM range({n_ps}) t(i) JOIN b_sea p ON p.k = i % 2""")
    con.execute(f"""
        INSERT INTO firearm_trace (id, owner_node, serial, make, weapon_type, recovery_date, recovery_country,
               dealer_ffl, purchase_state, purchase_date, purchaser, time_to_crime_days, trace_status,
               recovery_place_text, recovery_place_id, recovery_place_name, recovery_place_admin1,
               recovery_place_country, recovery_place_lat, recovery_place_lon, recovery_place_h3)
        SELECT 'gun-' || i, 'bench', 'SN' || i, 'COLT', 'rifle',
               DATE '2019-01-01' + CAST(hash(i) % 1400 + 30 + hash(i + 5) % 900 AS INTEGER), 'MX',
               'FFL' || (i % 3000), (['AZ', 'TX', 'CA', 'NM'])[1 + i % 4],
               DATE '2019-01-01' + CAST(hash(i) % 1400 AS INTEGER), 'BUYER ' || (i % {max(10, n_ft // 5)}),
               30 + CAST(hash(i + 5) % 900 AS INTEGER), 'completed',
               p.text, p.id, p.name, p.admin1, p.country, p.lat, p.lon, p.h3
        FROM range({n_ft}) t(i) JOIN b_mx p ON p.k = hash(i + 9) % {n_mx}""")
    counts = {k: con.execute(f"SELECT count(*) FROM {k}").fetchone()[0]  # type: ignore[index]
              for k in ("seizure", "lab_site", "precursor_shipment", "firearm_trace", "link")}
    con.close()
    return counts
