"""Generated Spanish-name people with ground truth, for tests and benchmarks.

Each true person gets one to four records spread over two nodes; the copies carry the
variations real records on both sides of the border show: nicknames (Pancho for Francisco),
accents dropped, surnames swapped or the second one missing, particles added or dropped
(de la Cruz / Cruz), spelling variants (v/b, z/s, ll/y, x/j), typos, day and month swapped
in the birth date, CURP missing. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pandas as pd

GIVEN = {
    "Jesús": ["Chuy", "Chucho"], "Francisco": ["Pancho", "Paco"], "Guadalupe": ["Lupe", "Lupita"],
    "José": ["Pepe", "Chepe"], "Guillermo": ["Memo"], "Ignacio": ["Nacho"], "Alberto": ["Beto"],
    "Roberto": ["Beto"], "Eduardo": ["Lalo"], "Antonio": ["Toño"], "Alfonso": ["Poncho"],
    "Salvador": ["Chava"], "Rosario": ["Chayo", "Charo"], "Dolores": ["Lola"], "Enrique": ["Kike"],
    "Manuel": ["Manolo"], "Luis": ["Lucho"], "Gustavo": ["Tavo"], "Sergio": ["Checo"], "Teresa": ["Tere"],
    "Patricia": ["Paty"], "Verónica": ["Vero"], "Alejandro": ["Alex"], "Fernando": ["Nando"],
    "Rafael": ["Rafa"], "Gregorio": ["Goyo"], "Concepción": ["Concha"], "Mercedes": ["Meche"],
    "María": [], "Juan": [], "Pedro": [], "Miguel": [], "Carlos": [], "Jorge": [], "Ana": [], "Rosa": [],
    "Martha": [], "Javier": ["Javi"], "Raúl": [], "Óscar": [], "Héctor": [], "Víctor": [], "Yolanda": [],
    "Gabriela": ["Gaby"], "Adriana": [], "Leticia": [], "Silvia": [], "Ricardo": ["Richie"], "Arturo": [],
    "Daniel": [], "Marco": [], "Andrés": [], "Ramón": ["Moncho"], "Isabel": ["Chabela"], "Xóchitl": [],
    "Cuauhtémoc": [], "Ximena": [], "Elvira": [], "Valentina": [], "Zacarías": [], "Héctor Manuel": [],
    "José Luis": [], "Juan Carlos": [], "María Elena": [], "Luz María": [], "Ana Laura": [],
}
SURNAMES = [
    "Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez", "Ramírez",
    "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Reyes", "Jiménez", "Torres", "Díaz", "Gutiérrez",
    "Ruiz", "Mendoza", "Aguilar", "Ortiz", "Moreno", "Castillo", "Romero", "Álvarez", "Méndez", "Chávez",
    "Rivera", "Juárez", "Ramos", "Domínguez", "Herrera", "Medina", "Castro", "Vargas", "Guzmán", "Velázquez",
    "Muñoz", "Rojas", "Contreras", "Salazar", "Luna", "Ortega", "Guerrero", "Estrada", "Bautista", "Villalobos",
    "Cervantes", "Valdez", "Zavala", "Ybarra", "Mejía", "Peña", "Quintero", "Carrillo", "Zúñiga", "Olvera",
    "Beltrán", "Valenzuela", "Cázares", "Bravo", "Villanueva", "Ochoa", "Sepúlveda", "Barrera", "Escobar",
]
PARTICLED = {"Cruz": "de la Cruz", "Luna": "de Luna", "León": "de León", "Rosa": "de la Rosa",
             "Torre": "de la Torre", "Garza": "de la Garza", "Santiago": "de Santiago"}
SURNAMES += ["León", "Garza", "Santiago", "Torre", "Rosa"]
SPELLING = [("v", "b"), ("b", "v"), ("z", "s"), ("s", "z"), ("ll", "y"), ("y", "ll"), ("j", "x"), ("x", "j"),
            ("á", "a"), ("é", "e"), ("í", "i"), ("ó", "o"), ("ú", "u"), ("ñ", "n")]
STATES = ["SL", "CH", "BC", "SR", "JC", "MC", "DF", "NL", "TS", "GR", "MN", "DG"]


def _curp(given: str, s1: str, s2: str | None, dob: dt.date, sex: str, rng: random.Random) -> str:
    from puente.model.types import fold

    a, b, g = fold(s1).replace(" ", "").upper(), fold(s2 or "X").replace(" ", "").upper(), fold(given).upper()
    vowel = next((c for c in a[1:] if c in "AEIOU"), "X")
    cons = "".join(next((c for c in w[1:] if c.isalpha() and c not in "AEIOU"), "X") for w in (a, b, g))
    return (a[0] + vowel + b[0] + g[0] + dob.strftime("%y%m%d") + sex + rng.choice(STATES) + cons
            + rng.choice("0123456789AB") + str(rng.randint(0, 9)))


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(["swap", "drop", "double"])
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "drop":
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def _spell(word: str, rng: random.Random) -> str:
    options = [(a, b) for a, b in SPELLING if a in word.lower()]
    if not options:
        return word
    a, b = rng.choice(options)
    low = word.lower().replace(a, b, 1)
    return low[:1].upper() + low[1:]


def _variant(person: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    rec = dict(person)
    given = rec["given_names"]
    nicks = GIVEN.get(given, [])
    changes = rng.sample(["nickname", "accents", "swap", "drop2", "particle", "spelling", "typo", "dob_swap",
                          "dob_typo", "no_curp", "upper", "curp_typo"], k=rng.randint(1, 3))
    for change in changes:
        if change == "nickname" and nicks:
            rec["given_names"] = rng.choice(nicks)
        elif change == "accents":
            from puente.model.types import fold

            rec = {k: (fold(v).title() if isinstance(v, str) and k in ("given_names", "surname1", "surname2") else v)
                   for k, v in rec.items()}
        elif change == "swap" and rec["surname2"]:
            rec["surname1"], rec["surname2"] = rec["surname2"], rec["surname1"]
        elif change == "drop2":
            rec["surname2"] = None
        elif change == "particle":
            base = rec["surname1"]
            rec["surname1"] = PARTICLED.get(base, base.replace("de la ", "").replace("de ", ""))
        elif change == "spelling":
            key = rng.choice(["given_names", "surname1", "surname2"])
            if rec[key]:
                rec[key] = _spell(rec[key], rng)
        elif change == "typo":
            key = rng.choice(["given_names", "surname1"])
            rec[key] = _typo(rec[key], rng)
        elif change == "dob_swap" and rec["birth_date"].day <= 12:
            d = rec["birth_date"]
            rec["birth_date"] = dt.date(d.year, d.day, d.month)
        elif change == "dob_typo":
            d = rec["birth_date"]
            rec["birth_date"] = d + dt.timedelta(days=rng.choice([-10, 10, 1, -1]))
        elif change == "no_curp":
            rec["curp"] = None
        elif change == "upper":
            rec = {k: (v.upper() if isinstance(v, str) and k in ("given_names", "surname1", "surname2") else v)
                   for k, v in rec.items()}
        elif change == "curp_typo" and rec["curp"]:
            c = rec["curp"]
            rec["curp"] = c[:16] + str((int(c[17]) + 1) % 10) if c[17].isdigit() else c
            rec["curp"] = rec["curp"][:17] if len(rec["curp"]) > 18 else rec["curp"]
    return rec


def spanish_people(entities: int = 1000, seed: int = 7, nodes: tuple[str, str] = ("us-test", "mx-test")
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Person records (model field names plus ``id`` and ``owner_node``) and record id -> true entity."""
    rng = random.Random(seed)
    given_names = list(GIVEN)
    rows, truth = [], {}
    for e in range(entities):
        given = rng.choice(given_names)
        s1, s2 = rng.choice(SURNAMES), rng.choice(SURNAMES)
        if s1 in PARTICLED and rng.random() < 0.5:
            s1 = PARTICLED[s1]
        dob = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
        sex = rng.choice("HM")
        base = {"given_names": given, "surname1": s1, "surname2": s2 if rng.random() > 0.08 else None,
                "birth_date": dob, "curp": _curp(given, s1, s2, dob, sex, rng) if rng.random() < 0.6 else None,
                "id_number": None}
        copies = rng.choices([1, 2, 3, 4], weights=[45, 35, 15, 5])[0]
        for c in range(copies):
            rec = base if c == 0 else _variant(base, rng)
            node = nodes[rng.random() < 0.5]
            rid = f"{node}:person:{e:06d}{c}"
            rows.append({"id": rid, "owner_node": node, "source_id": f"P{e:06d}-{c}", **rec})
            truth[rid] = f"E{e:06d}"
    return pd.DataFrame(rows), truth


ORG_WORDS = ["Químicos", "Distribuidora", "Comercializadora", "Importadora", "Pacífico", "Norte", "Industrial",
             "Laboratorios", "Farmacéutica", "Logística", "Transportes", "Agroquímica", "Sinaloa", "Frontera",
             "Golfo", "Bajío", "Global", "Trading", "Solutions", "Chemicals", "Supply", "Valle", "Sierra", "Delta"]
FORMS = ["S.A. de C.V.", "SA de CV", "S. de R.L.", "LLC", "Inc.", "", "S.A.P.I. de C.V."]
MAKES = ["Colt", "Smith & Wesson", "Ruger", "Glock", "Beretta", "Sig Sauer", "Taurus", "Remington", "Winchester"]
CARS = [("Nissan", "Tsuru"), ("Ford", "F-150"), ("Chevrolet", "Silverado"), ("Toyota", "Tacoma"),
        ("Volkswagen", "Jetta"), ("Dodge", "Ram"), ("Honda", "Civic"), ("Kia", "Rio")]
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def _noisy_code(code: str, rng: random.Random) -> str:
    i = rng.randrange(len(code))
    return code[:i] + rng.choice(_VIN_CHARS) + code[i + 1:]


def organizations(entities: int = 200, seed: int = 5) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = random.Random(seed)
    rows, truth = [], {}
    for e in range(entities):
        words = rng.sample(ORG_WORDS, 3)
        name = " ".join(words)
        rfc = ("".join(w[0] for w in words).upper() + f"{rng.randint(80, 99)}{rng.randint(1, 12):02d}"
               f"{rng.randint(1, 28):02d}" + "".join(rng.choice("ABC123") for _ in range(3)))
        for c in range(rng.choice([1, 2, 2, 3])):
            form = rng.choice(FORMS)
            shown = name if c == 0 else rng.choice([name.upper(), name.replace("í", "i").replace("é", "e"),
                                                    _typo(name, rng), name])
            rec = {"name": f"{shown} {form}".strip(), "tax_id": rfc if rng.random() < 0.7 else None,
                   "country": rng.choice(["MX", "US"])}
            node = ("us-test", "mx-test")[rng.random() < 0.5]
            rid = f"{node}:organization:{e:05d}{c}"
            rows.append({"id": rid, "owner_node": node, **rec})
            truth[rid] = f"O{e}"
    return pd.DataFrame(rows), truth


def vehicles(entities: int = 200, seed: int = 6) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = random.Random(seed)
    rows, truth = [], {}
    for e in range(entities):
        make, model = rng.choice(CARS)
        vin = "".join(rng.choice(_VIN_CHARS) for _ in range(17))
        plate = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)) + f"{rng.randint(0, 9999):04d}"
        state = rng.choice(["SON", "CHIH", "BC", "AZ", "TX", "CA"])
        for c in range(rng.choice([1, 2, 2, 3])):
            rec = {"vin": vin if c == 0 or rng.random() < 0.6 else (_noisy_code(vin, rng) if rng.random() < 0.5
                                                                     else None),
                   "plate": plate if rng.random() < 0.85 else _noisy_code(plate, rng),
                   "plate_state": state, "make": make.upper() if c else make, "model": model}
            if rec["vin"] is None and rec["plate"] != plate:
                rec["plate"] = plate
            node = ("us-test", "mx-test")[rng.random() < 0.5]
            rid = f"{node}:vehicle:{e:05d}{c}"
            rows.append({"id": rid, "owner_node": node, **rec})
            truth[rid] = f"V{e}"
    return pd.DataFrame(rows), truth


def firearms(entities: int = 200, seed: int = 8) -> tuple[pd.DataFrame, dict[str, str]]:
    """Traces of guns; serials repeat across makes (a serial alone does not identify a gun)."""
    rng = random.Random(seed)
    rows, truth = [], {}
    serials = [f"{rng.choice('ABCDEFKLMRT')}{rng.randint(0, 99999):05d}" for _ in range(entities // 2)]
    for e in range(entities):
        serial = serials[e % len(serials)]
        make = MAKES[e % len(MAKES)] if e < len(serials) else MAKES[(e + 3) % len(MAKES)]
        caliber = rng.choice(["9MM", ".38", "7.62X39", ".223", ".50"])
        for c in range(rng.choice([1, 2, 2, 3])):
            shown = serial if rng.random() < 0.8 else ("0" + serial if rng.random() < 0.5 else serial.lower())
            rows_make = make if rng.random() < 0.7 else make.upper().replace(" & ", " AND ")
            node = ("us-test", "mx-test")[rng.random() < 0.5]
            rid = f"{node}:firearm_trace:{e:05d}{c}"
            rows.append({"id": rid, "owner_node": node, "serial": shown, "make": rows_make, "caliber": caliber,
                         "model": None})
            truth[rid] = f"F{e}"
    return pd.DataFrame(rows), truth
