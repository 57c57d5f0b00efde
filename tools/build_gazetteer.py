"""Build puente/geo/data/gazetteer.csv.gz from the real public data in ../shared/data
plus the compiled port, AOR and U.S. city tables shipped in puente/geo/data.

Run once when the source data changes: ``python tools/build_gazetteer.py [SHARED_DATA_DIR]``.
The product never reads ../shared at run time (offline first).
"""

from __future__ import annotations

import csv
import gzip
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "puente" / "geo" / "data"
FIELDS = ["id", "kind", "name", "admin1", "admin1_abbr", "admin2", "country", "lat", "lon", "population", "aliases"]

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _nearest_county(counties: list[dict[str, str]], state: str, lat: float, lon: float) -> str:
    best, best_d = "", math.inf
    for c in counties:
        if c["admin1_abbr"] != state:
            continue
        d = (float(c["lat"]) - lat) ** 2 + ((float(c["lon"]) - lon) * math.cos(math.radians(lat))) ** 2
        if d < best_d:
            best, best_d = c["id"], d
    return best


def build(shared: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    munis = _read(shared / "mexico" / "mx_municipios_inegi_censo2020_with_cabecera_coords.csv")
    locs = _read(shared / "mexico" / "mx_localidades_1000plus_inegi_censo2020.csv")
    # Municipal seats without coordinates fall back to their most populous locality.
    best_loc: dict[str, dict[str, str]] = {}
    for loc in locs:
        key = loc["cve_entidad"] + loc["cve_municipio"]
        if key not in best_loc or int(loc["poblacion_total"]) > int(best_loc[key]["poblacion_total"]):
            best_loc[key] = loc
    muni_by_state_name: dict[tuple[str, str], str] = {}
    for m in munis:
        lat, lon = m["cab_latitud"], m["cab_longitud"]
        if not lat and m["cve_completa"] in best_loc:
            lat, lon = best_loc[m["cve_completa"]]["latitud"], best_loc[m["cve_completa"]]["longitud"]
        rows.append({
            "id": "MX-" + m["cve_completa"], "kind": "municipality", "name": m["nom_municipio"],
            "admin1": m["nom_entidad"], "admin1_abbr": m["nom_abr_entidad"], "admin2": "MX-" + m["cve_completa"],
            "country": "MX", "lat": lat, "lon": lon, "population": m["poblacion_total"], "aliases": m["nom_cabecera"],
        })
        muni_by_state_name[(m["nom_entidad"], m["nom_municipio"])] = "MX-" + m["cve_completa"]
    for loc in locs:
        rows.append({
            "id": "MX-" + loc["cvegeo"], "kind": "locality", "name": loc["nom_localidad"],
            "admin1": loc["nom_entidad"], "admin1_abbr": loc["nom_abr_entidad"],
            "admin2": "MX-" + loc["cve_entidad"] + loc["cve_municipio"], "country": "MX",
            "lat": loc["latitud"], "lon": loc["longitud"], "population": loc["poblacion_total"], "aliases": "",
        })
    counties = []
    for c in _read(shared / "us" / "us_counties_gazetteer_2017.csv"):
        name = c["NAME"].strip()
        short = name.replace(" County", "").replace(" Parish", "").replace(" Municipio", "")
        row = {
            "id": "US-" + c["GEOID"], "kind": "county", "name": name, "admin1": US_STATES.get(c["USPS"], c["USPS"]),
            "admin1_abbr": c["USPS"], "admin2": "US-" + c["GEOID"], "country": "US",
            "lat": c["INTPTLAT"].strip(), "lon": c["INTPTLONG"].strip(), "population": "", "aliases": short,
        }
        counties.append(row)
    rows.extend(counties)
    for city in _read(DATA / "us_cities_compiled.csv"):
        lat, lon = float(city["lat"]), float(city["lon"])
        rows.append({
            "id": "US-CITY-" + city["state"] + "-" + city["name"].upper().replace(" ", "_").replace(".", ""),
            "kind": "city", "name": city["name"], "admin1": US_STATES[city["state"]], "admin1_abbr": city["state"],
            "admin2": _nearest_county(counties, city["state"], lat, lon), "country": "US",
            "lat": city["lat"], "lon": city["lon"], "population": city["population"], "aliases": "",
        })
    for port in _read(DATA / "ports_compiled.csv"):
        lat, lon = float(port["lat"]), float(port["lon"])
        twin = muni_by_state_name.get((port["twin_state"], port["twin_municipality"]), "")
        if port["state"].startswith("MX-"):
            country, admin1, abbr, admin2 = "MX", port["twin_state"], port["state"][3:], twin
        else:
            country, admin1, abbr = "US", US_STATES[port["state"]], port["state"]
            admin2 = _nearest_county(counties, port["state"], lat, lon)
        rows.append({
            "id": "POE-" + port["code"], "kind": "port", "name": port["name"], "admin1": admin1,
            "admin1_abbr": abbr, "admin2": admin2, "country": country, "lat": port["lat"], "lon": port["lon"],
            "population": "", "aliases": "|".join(filter(None, [port["aliases"], "twin:" + twin if twin else ""])),
        })
    for aor in _read(DATA / "aors_compiled.csv"):
        lat, lon = float(aor["lat"]), float(aor["lon"])
        rows.append({
            "id": "AOR-" + aor["aor"].replace(" ", "_"), "kind": "aor", "name": aor["aor"].title(),
            "admin1": US_STATES[aor["state"]], "admin1_abbr": aor["state"],
            "admin2": _nearest_county(counties, aor["state"], lat, lon), "country": "US",
            "lat": aor["lat"], "lon": aor["lon"], "population": "", "aliases": aor["city"],
        })
    return rows


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    rows = build(shared)
    with gzip.open(DATA / "gazetteer.csv.gz", "wt", encoding="utf-8", newline="", compresslevel=9) as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} places")


if __name__ == "__main__":
    main()
