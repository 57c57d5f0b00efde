"""Build puente/simulate/data/port_volumes.csv: average monthly northbound crossings per port of entry.

Texas ports: computed from ../shared/data/ports/tx_mx_monthly_northbound_crossings_2008_2025.csv
(CBP counts processed by TxDOT/UNT, GitHub unt-clscm/CBP-Border-Crossings @ b36585a6), FY2019-FY2022
(Oct 2018 - Sep 2022), passenger vehicles + commercial trucks + buses. California, Arizona and New Mexico
ports: compiled order-of-magnitude estimates (no shipped source), marked as such in the `source` column.

    python tools/build_port_volumes.py ../shared/data
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

CROSSING_TO_PORT = {
    "Bridge of the Americas": "ELP", "Good Neighbor Bridge": "ELP", "Paso del Norte Bridge": "ELP",
    "Ysleta Bridge": "YSL", "Marcelino Serna Bridge": "TOR", "Fort Hancock-El Porvenir Bridge": "TOR",
    "Presidio-Ojinaga International Bridge": "PRE", "Del Rio International Bridge": "DRT",
    "Lake Amistad Dam Crossing": "DRT", "Camino Real International Bridge": "EGP",
    "Eagle Pass International Bridge": "EGP", "Gateway to the Americas Bridge": "LRD",
    "Juárez-Lincoln International Bridge": "LRD", "World Trade Bridge": "LWT",
    "Colombia Solidarity Bridge": "LCO", "Roma-Ciudad Miguel Alemán International Bridge": "ROM",
    "Lake Falcon Dam International Crossing": "ROM", "Starr-Camargo Bridge": "RGC", "Los Ebanos Ferry": "RGC",
    "McAllen-Hidalgo International Bridge": "HID", "Pharr International Bridge": "PHR",
    "Anzalduas International Bridge": "ANZ", "Progreso International Bridge": "PRO",
    "Donna-Rio Bravo International Bridge": "PRO", "Brownsville & Matamoros Express Bridge": "BRO",
    "Gateway International Bridge": "BRO", "Veterans International Bridge at Los Tomates": "BRO",
    "Free Trade International Bridge (Los Indios)": "LOS",
}
# Compiled estimates (vehicles per month, rounded) for ports outside Texas.
ESTIMATES = {"SYS": 1_150_000, "OTM": 620_000, "TEC": 110_000, "CXW": 380_000, "CXE": 280_000, "AND": 40_000,
             "SLU": 290_000, "LUK": 30_000, "SAS": 1_500, "NOG": 250_000, "NOM": 150_000, "NAC": 30_000,
             "DOU": 150_000, "COL": 35_000, "STR": 50_000, "ANT": 150}
MODES = {"Passenger Vehicles", "Commercial Trucks", "Buses"}


def main(shared: Path, out: Path) -> None:
    totals: dict[str, float] = defaultdict(float)
    path = shared / "ports" / "tx_mx_monthly_northbound_crossings_2008_2025.csv"
    with path.open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            year, month = int(row["Year"]), int(row["Month"])
            fy = year + 1 if month >= 10 else year
            if 2019 <= fy <= 2022 and row["Modes"] in MODES and row["Crossing"] in CROSSING_TO_PORT:
                totals[CROSSING_TO_PORT[row["Crossing"]]] += float(row["Northbound Crossing"] or 0)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "vehicles_per_month", "source"])
        for code, value in sorted(totals.items()):
            writer.writerow([code, round(value / 48), "TxDOT/UNT northbound crossings FY2019-FY2022"])
        for code, value in ESTIMATES.items():
            writer.writerow([code, value, "compiled estimate"])


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data",
         root / "puente" / "simulate" / "data" / "port_volumes.csv")
