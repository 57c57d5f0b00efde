"""A generator of realistic seizure-event CSV rows (for the ingest benchmark and the crash test).

Places are written the way agencies write them: with and without accents, in capitals, with
state qualifiers ("Culiacán, Sin.", "culiacan sinaloa") and U.S. "County, ST" forms, drawn
from the shipped gazetteer so that most resolve and a few (typos) do not. Drugs, forms, units
and conveyances use English and Spanish spellings. The same seed gives the same file.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import unicodedata
from pathlib import Path

from puente.geo.gazetteer import load_gazetteer

HEADER = ["case_id", "date", "place", "country", "agency", "drug", "form", "quantity", "unit",
          "purity", "pill_stamp", "conveyance", "port", "notes"]
_DRUGS = [("fentanyl", 30), ("fentanilo", 20), ("Methamphetamine", 15), ("cristal", 8), ("cocaine", 10),
          ("cocaína", 5), ("heroin", 4), ("heroína", 2), ("marijuana", 5), ("mariguana", 3)]
_FORMS = ["powder", "polvo", "pills", "pastillas", "crystal", "liquid", ""]
_UNITS = [("kg", "mass"), ("lb", "mass"), ("g", "mass"), ("kilos", "mass"), ("pills", "pills"), ("pastillas", "pills")]
_CONVEYANCES = ["passenger vehicle", "POV", "truck", "tractocamión", "pedestrian", "peatón", "mail", "paquetería",
                "bus", "cargo", ""]
_AGENCIES = {"US": ["CBP", "HSI", "DEA", "Border Patrol"], "MX": ["FGR", "SEDENA", "Guardia Nacional", "ANAM", "SEMAR"]}
_STAMPS = ["M30", "M 30", "K9", "A215", ""]
_BORDER_STATES = {"Baja California", "Sonora", "Chihuahua", "Coahuila de Zaragoza", "Nuevo León", "Tamaulipas",
                  "Sinaloa", "Jalisco", "California", "Arizona", "New Mexico", "Texas", "Michoacán de Ocampo"}


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def place_spellings(rng: random.Random, limit: int = 3000) -> list[tuple[str, str]]:
    """(text as written, country) for places in border and trafficking states."""
    gaz = load_gazetteer()
    out: list[tuple[str, str]] = []
    for p in gaz.places.values():
        if p.admin1 not in _BORDER_STATES or p.kind not in ("municipality", "county", "city"):
            continue
        if p.country == "MX":
            out += [(p.name, "MX"), (_plain(p.name).upper(), "MX"), (f"{p.name}, {p.admin1}", "MX"),
                    (_plain(p.name).lower(), "MX")]
        else:
            state = p.admin1
            out += [(f"{p.name}, {state}", "US"), (p.name.upper(), "US")]
    rng.shuffle(out)
    out = out[:limit]
    out += [("Culiacan Sin", "MX"), ("Cd. Juárez", "MX"), ("Tijuana, B.C.", "MX"), ("Nogales, AZ", "US"),
            ("Cuilacan", "MX"), ("El Paso", "US"), ("San Diego County, CA", "US")]
    return out


def write_csv(path: Path, rows: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    places = place_spellings(rng)
    ports = [p.name for p in load_gazetteer().places.values() if p.kind == "port"]
    drugs = [d for d, w in _DRUGS for _ in range(w)]
    start = dt.date(2021, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            place, country = places[rng.randrange(len(places))]
            unit, what = _UNITS[rng.randrange(len(_UNITS))]
            if what == "pills":
                quantity = str(rng.choice((100, 500, 1000, 2500, 10000, 50000)) + rng.randrange(100))
            else:
                quantity = f"{rng.lognormvariate(1.0, 1.5):.2f}"
            day = start + dt.timedelta(days=rng.randrange(1460))
            writer.writerow([
                f"EV-{seed}-{i:08d}", day.isoformat(), place, country, rng.choice(_AGENCIES[country]),
                rng.choice(drugs), rng.choice(_FORMS), quantity, unit,
                f"{rng.uniform(5, 95):.1f}" if rng.random() < 0.2 else "",
                rng.choice(_STAMPS) if what == "pills" else "",
                rng.choice(_CONVEYANCES), rng.choice(ports) if rng.random() < 0.4 else "", "",
            ])
    return path
