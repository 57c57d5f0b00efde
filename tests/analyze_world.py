"""A small hand-built binational world for the analytics tests (known answers, any store).

Three corridors of drug loads (origin city in Mexico → port of entry → U.S. city), each load a
chain of seizures sharing a pill stamp and batch or a vehicle; corridor C (Juárez → El Paso →
Denver) appears in July 2021 (a planted route shift). Labs in Sinaloa and Sonora; precursor
shipments, some consigned to a front company that operates a lab; firearm traces with straw
purchasers and multiple sales; people, companies and vehicles linked to events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa

from puente.geo.gazetteer import load_gazetteer
from puente.model import load_model
from puente.store.base import Store

NODE = "t"
CORRIDORS = {
    "A": ("Culiacán, Sin.", "Nogales POE", "Phoenix, AZ", 6, dt.date(2021, 1, 1)),
    "B": ("Tijuana", "San Ysidro", "Los Angeles", 8, dt.date(2021, 1, 1)),
    "C": ("Juárez", "El Paso POE", "Denver", 7, dt.date(2021, 7, 1)),
}
MONTHS = [dt.date(2021, m, 1) for m in range(1, 13)]
LEADERS = ["person-leader-1", "person-leader-2"]


def place(prefix: str, text: str, country: str, prefer: str = "place") -> dict[str, Any]:
    p = load_gazetteer().resolve(text, country, prefer)
    assert p is not None, text
    return {f"{prefix}_text": text, f"{prefix}_id": p.id, f"{prefix}_name": p.name, f"{prefix}_admin1": p.admin1,
            f"{prefix}_country": p.country, f"{prefix}_lat": p.lat, f"{prefix}_lon": p.lon, f"{prefix}_h3": p.h3}


class World:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.rng = np.random.default_rng(7)

    def add(self, kind: str, rid: str, **values: Any) -> str:
        self.rows.setdefault(kind, []).append({"id": rid, "owner_node": NODE, **values})
        return rid

    def link(self, from_kind: str, from_id: str, to_kind: str, to_id: str, role: str) -> None:
        n = len(self.rows.get("link", []))
        self.add("link", f"link-{n}", from_kind=from_kind, from_ref=from_id, to_kind=to_kind, to_ref=to_id,
                 role=role, from_id=from_id, to_id=to_id)

    def write(self, store: Store) -> None:
        model = load_model()
        with store.transaction():
            for kind, rows in self.rows.items():
                columns = model.kind(kind).columns()
                names = [c for c in columns if any(c in r for r in rows)]
                types = {"TEXT": pa.string(), "DOUBLE PRECISION": pa.float64(), "BIGINT": pa.int64(),
                         "INTEGER": pa.int32(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us")}
                arrays = [pa.array([r.get(c) for r in rows], type=types.get(columns[c], pa.string())) for c in names]
                store.insert_arrow(kind, pa.Table.from_arrays(arrays, names=names))


def build(store: Store) -> World:
    w = World()
    rng = w.rng
    for i, leader in enumerate(LEADERS):
        w.add("person", leader, given_names=f"Jefe{i}", surname1="Uno")
        w.add("organization", f"org-front-{i}", name=f"Química Frontera {i} SA", country="MX")
    load = 0
    # Couriers and vehicles recur, but only within one corridor (so chains never cross corridors).
    couriers = [w.add("person", f"person-courier-{i}", given_names=f"Courier{i}") for i in range(30)]
    vehicles = [w.add("vehicle", f"vehicle-{i}", plate=f"ABC{i:03d}") for i in range(15)]
    for i, c in enumerate(couriers):  # each courier answers to one leader (two organisations)
        w.link("person", c, "person", LEADERS[i % 2], "member")
    for k, (name, (origin, port, dest, per_month, start)) in enumerate(CORRIDORS.items()):
        for month in MONTHS:
            if month < start:
                continue
            for _ in range(per_month):
                load += 1
                day = month + dt.timedelta(days=int(rng.integers(0, 27)))
                stamp, batch = ("M30", f"B{load:04d}")
                pills = int(rng.integers(1000, 20000))
                base = {"drug": "fentanyl", "form": "pills", "unit": "pills", "quantity": pills, "pill_count": pills,
                        "quantity_kg": pills * 0.0001, "pill_stamp": stamp, "batch": batch,
                        "conveyance": "passenger_vehicle"}
                ids = []
                if load % 3 == 0:  # seized in Mexico on the way
                    ids.append(w.add("seizure", f"sz-{load}-mx", date=day - dt.timedelta(days=2), country="MX",
                                     agency="SEDENA", **place("place", origin, "MX"), **base))
                # some drivers state a destination: the true one, or (when the load is followed) a false one
                said = {} if load % 4 == 3 else place("destination", "Chicago" if load % 4 == 0 else dest, "US")
                ids.append(w.add("seizure", f"sz-{load}-port", date=day, country="US", agency="CBP",
                                 **place("place", port, "US", "port"), **place("port", port, "US", "port"), **base,
                                 **said))
                if load % 2 == 0:  # and again at the destination, linked by the same vehicle only
                    dest_base = {**base, "batch": None, "pill_stamp": None}
                    ids.append(w.add("seizure", f"sz-{load}-dest", date=day + dt.timedelta(days=3), country="US",
                                     agency="DEA", **place("place", dest, "US"), **dest_base))
                vehicle = vehicles[5 * k + load % 5] if load % 2 else f"vehicle-load-{load}"
                if not load % 2:
                    w.add("vehicle", vehicle, plate=f"L{load}")
                    w.link("seizure", ids[-2], "vehicle", vehicle, "vehicle")
                w.link("seizure", ids[-1], "vehicle", vehicle, "vehicle")
                w.link("seizure", ids[-1], "person", couriers[10 * k + load % 10], "courier")
    # Labs: a cluster in Sonora (Hermosillo, found in March 2021) and two in Sinaloa.
    for i, (town, day) in enumerate([("Hermosillo", 3), ("Culiacán, Sin.", 5), ("Hermosillo", 6),
                                     ("Hermosillo", 6), ("Navolato", 20)]):
        lab = w.add("lab_site", f"lab-{i}", date_found=dt.date(2021, 3, day), status="dismantled",
                    lab_kind="fentanyl", chemicals="npp|anpp", **place("place", town, "MX"))
        w.link("lab_site", lab, "organization", f"org-front-{i % 2}", "operator")
        w.link("lab_site", lab, "person", LEADERS[i % 2], "leader")
    # Precursor shipments: 48 legitimate, 12 diverted to the front companies (larger, new importers).
    for i in range(60):
        diverted = i >= 48
        chemical = ["npp", "4-piperidone", "propionic_anhydride"][i % 3]
        kg = float(rng.uniform(300, 600) if diverted else rng.uniform(5, 40))
        importer = f"NEW IMPORTER {i}" if diverted else f"FARMA {i % 6}"
        w.add("precursor_shipment", f"ps-{i}", chemical=chemical, quantity=kg, unit="kg", quantity_kg=kg,
              importer=importer, importer_taxid=f"RFC{importer}", consignee=importer, origin_country="CN",
              arrival_date=dt.date(2021, 1 + i % 12, 10), declared_use="pharmaceutical",
              status="seized" if diverted and i % 2 else "cleared",
              **place("port", "Lázaro Cárdenas" if diverted and i % 4 == 0 else "Manzanillo", "MX", "port"))
        if diverted:
            w.link("precursor_shipment", f"ps-{i}", "organization", f"org-front-{i % 2}", "consignee")
    # Firearms: straw purchasers in Arizona and Texas, guns recovered in Sonora, Sinaloa and Chihuahua.
    states = [("AZ", "FFL-AZ-1", "Hermosillo"), ("AZ", "FFL-AZ-2", "Culiacán, Sin."), ("TX", "FFL-TX-1", "Juárez")]
    for i in range(60):
        # each pair is a multiple sale at one dealer, except the last, bought the same day at two dealers
        state, ffl, rec = states[(i // 2) % 3] if i < 58 else states[i % 3]
        buyer = f"person-straw-{(i // 2) % 5}"
        bought = dt.date(2020, 6, 1) + dt.timedelta(days=(i // 2) * 7)  # pairs bought the same day
        recovered = bought + dt.timedelta(days=int(rng.integers(20, 700)))
        trace = w.add("firearm_trace", f"gun-{i}", serial=f"SN{i:05d}", make="COLT", weapon_type="rifle",
                      recovery_date=recovered, recovery_country="MX", dealer_ffl=ffl, purchase_state=state,
                      purchase_date=bought, purchaser=buyer.upper(), time_to_crime_days=(recovered - bought).days,
                      trace_status="completed", **place("recovery_place", rec, "MX"))
        w.link("firearm_trace", trace, "person", buyer, "purchaser")
    for i in range(5):
        w.add("person", f"person-straw-{i}", given_names=f"Straw{i}")
        w.link("person", f"person-straw-{i}", "person", LEADERS[i % 2], "associate")
    w.write(store)
    return w
