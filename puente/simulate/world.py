"""The scenario's actors, built once per run: organisations, people, companies, vehicles, labs, dealers.

Pools grow with sqrt(scale / 10,000), so at any scale people and vehicles recur across events
(that is what linking has to find). Every actor has a true id (P-…, C-…, V-…, LAB-…, FFL-…).
"""

from __future__ import annotations

import math
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from puente.simulate.config import Scenario, groups
from puente.simulate.structure import Structure, bounded, draw_structure

_VIN_CHARS = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))
_WMI = {"NISSAN": "3N1", "TOYOTA": "5TF", "HONDA": "2HG", "FORD": "1FT", "CHEVROLET": "1GC", "DODGE": "1C6",
        "VOLKSWAGEN": "3VW", "JEEP": "1J4", "KENWORTH": "1XK", "FREIGHTLINER": "3AK"}
_CURP_STATES = {"Sinaloa": "SL", "Sonora": "SR", "Jalisco": "JC", "Michoacán de Ocampo": "MN", "Baja California": "BC",
                "Chihuahua": "CH", "Tamaulipas": "TS", "Nuevo León": "NL", "Durango": "DG", "Nayarit": "NT",
                "Colima": "CM"}


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass
class Person:
    id: str
    given: str
    surname1: str
    surname2: str
    birth: np.datetime64
    sex: str
    nationality: str
    org: str
    role: str
    alias: str = ""
    curp: str = ""
    state: str = ""
    variants: list[dict[str, str]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return " ".join(x for x in (self.given, self.surname1, self.surname2) if x)


@dataclass
class Company:
    id: str
    name: str
    tax_id: str
    country: str
    org: str  # criminal organisation behind a front company, "" if legitimate
    kind: str  # front, importer, exporter, ffl
    owner: str = ""  # person id
    place: str = ""
    variants: list[str] = field(default_factory=list)
    seize_rate: float = 0.0  # per-shipment chance that customs seizes its imports (0: never inspected)


@dataclass
class Vehicle:
    id: str
    plate: str
    plate_state: str
    plate_country: str
    vin: str
    make: str
    model: str
    org: str
    owner: str


@dataclass
class Lab:
    id: str
    org: str
    municipality: str
    state: str
    lat: float
    lon: float
    kind: str
    capacity: float
    start: int  # month index when it starts producing
    found: int  # month index when it is dismantled, -1 if never
    mark: str = ""  # the logo/lot mark its packages carry (seizures' batch field)
    record: str = ""  # the source_id of its lab_site record, once found
    quiet: bool = False  # in a place the authorities never reach (never dismantled)


@dataclass
class Org:
    id: str
    name: str
    plazas: list[str]
    leader: str
    lieutenants: list[str]
    couriers: list[str]
    straw: list[str]
    fronts: list[str]
    vehicles: list[str]
    labs: list[str]


class World:
    def __init__(self, sc: Scenario, scale: int, rng: np.random.Generator, structure: Structure | None = None) -> None:
        self.sc = sc
        self.rng = rng
        self.structure = structure or draw_structure(sc, rng)
        self.factor = max(1.0, math.sqrt(scale / 10_000))
        self.people: dict[str, Person] = {}
        self.companies: dict[str, Company] = {}
        self.vehicles: dict[str, Vehicle] = {}
        self.labs: dict[str, Lab] = {}
        self.orgs: dict[str, Org] = {}
        self._build()

    def n(self, key: str) -> int:
        """A pool size: scenario.yaml's number (or a draw in its {min, max}) grown with the scale."""
        return max(1, round(float(bounded(self.sc.p["entities"][key], self.rng)) * self.factor))

    # -- people ----------------------------------------------------------------------------
    def _person(self, org: str, role: str, nationality: str, state: str = "") -> Person:
        rng, names = self.rng, self.sc.names
        pid = f"P-{len(self.people) + 1:06d}"
        female = rng.random() < (0.35 if role in ("straw", "courier") else 0.1)
        if nationality == "MX" or rng.random() < 0.45:
            pool = names["mx_given_female" if female else "mx_given_male"]
            given = str(rng.choice(pool))
            if rng.random() < 0.35:
                given += " " + str(rng.choice(pool))
            s1, s2 = (str(x) for x in rng.choice(names["mx_surnames"], 2, replace=False))
        else:
            given = str(rng.choice(names["us_given"]))
            s1, s2 = str(rng.choice(names["us_surnames"])), ""
        birth = np.datetime64("1960-01-01") + int(rng.integers(0, 365 * 40))
        person = Person(pid, given, s1, s2, birth, "M" if not female else "F", nationality, org, role, state=state)
        if role in ("leader", "lieutenant") or rng.random() < 0.15:
            person.alias = str(rng.choice(names["aliases"]))
            if female and person.alias.startswith("El "):
                person.alias = "La " + person.alias[3:]
        if nationality == "MX":
            person.curp = self._curp(person, state)
        person.variants = self._variants(person)
        self.people[pid] = person
        return person

    def _curp(self, p: Person, state: str) -> str:
        s1 = strip_accents(p.surname1).upper().replace(" ", "")
        s2 = strip_accents(p.surname2).upper().replace(" ", "") or "X"
        g = strip_accents(p.given.split(" ")[0]).upper()
        vowel = next((c for c in s1[1:] if c in "AEIOU"), "X")
        cons = [next((c for c in w[1:] if c not in "AEIOU" and c.isalpha()), "X") for w in (s1, s2, g)]
        ymd = str(p.birth).replace("-", "")[2:]
        code = _CURP_STATES.get(state, "NE")
        tail = ("0" if str(p.birth) < "2000" else "A") + str(int(self.rng.integers(0, 10)))
        return f"{s1[0]}{vowel}{s2[0]}{g[0]}{ymd}{'M' if p.sex == 'F' else 'H'}{code}{''.join(cons)}{tail}"

    def _variants(self, p: Person) -> list[dict[str, str]]:
        """Ways agencies write this person: index 0 is as registered; the rest are noisy."""
        rng, nick = self.rng, self.sc.names["nicknames"]
        base = {"given_names": p.given, "surname1": p.surname1, "surname2": p.surname2}
        first = p.given.split(" ")[0]
        out = [dict(base)]
        out.append({k: strip_accents(v) for k, v in base.items()})  # accents dropped
        out.append({k: v.upper() for k, v in base.items()})  # capitals (the cleaner title-cases them)
        if p.surname2:
            out.append({**base, "surname1": p.surname2, "surname2": p.surname1})  # surnames swapped
            out.append({**base, "surname2": ""})  # second surname missing
            out.append({**base, "surname1": f"{p.surname1} {p.surname2}", "surname2": ""})  # both in one field
        if first in nick:
            out.append({**base, "given_names": str(rng.choice(nick[first]))})  # nickname
        if " " in p.given:
            out.append({**base, "given_names": first})  # second given name dropped
        out.append({**base, "surname1": typo(p.surname1, rng)})  # typo
        return out

    # -- companies ---------------------------------------------------------------------------
    def _rfc(self, name: str, founded: int) -> str:
        letters = [c for c in strip_accents(name).upper() if c in string.ascii_uppercase][:3]
        letters += ["X"] * (3 - len(letters))
        yy = founded % 100
        mm, dd = int(self.rng.integers(1, 13)), int(self.rng.integers(1, 29))
        tail = "".join(self.rng.choice(list(string.ascii_uppercase + string.digits), 3))
        return f"{''.join(letters)}{yy:02d}{mm:02d}{dd:02d}{tail}"

    def _mx_company(self, org: str, kind: str, owner: str = "", founded: int = 0) -> Company:
        """A Mexican company; ``founded`` is its year of incorporation (in the RFC), drawn in 1995–2018 if 0."""
        rng, names = self.rng, self.sc.names
        while True:
            name = (f"{rng.choice(names['company_words'])} {rng.choice(names['company_topics'])} "
                    f"{rng.choice(names['company_places'])} {rng.choice(names['company_suffixes_mx'])}")
            if all(c.name != name for c in self.companies.values()):
                break
        cid = f"C-{len(self.companies) + 1:05d}"
        company = Company(cid, name, self._rfc(name, founded or int(rng.integers(1995, 2019))), "MX", org, kind, owner)
        base = name.rsplit(" S", 1)[0] if " S." in name or " SA " in name else name
        company.variants = [name, strip_accents(name).upper(), base, name.replace("S.A. de C.V.", "SA de CV")]
        self.companies[cid] = company
        return company

    def _exporter(self) -> Company:
        rng, names = self.rng, self.sc.names
        countries, probs = zip(*self.sc.p["precursor_origins"].items())
        country = str(rng.choice(countries, p=np.array(probs) / sum(probs)))
        place = str(rng.choice(names["exporter_places"][country]))
        word = str(rng.choice(names["exporter_words"]))
        name = f"{place} {word} {rng.choice(names['exporter_suffixes'][country])}"
        cid = f"C-{len(self.companies) + 1:05d}"
        company = Company(cid, name, "", country, "", "exporter", place=place)
        company.variants = [name, name.upper(), name.replace(",", "").replace(".", "")]
        self.companies[cid] = company
        return company

    def _ffl_state(self) -> str:
        states, probs = zip(*self.sc.p["ffl_states"].items())
        return str(self.rng.choice(states, p=np.array(probs) / sum(probs)))

    def _ffl(self, state: str = "") -> Company:
        rng, names = self.rng, self.sc.names
        state = state or self._ffl_state()
        cities = self.sc.cities[self.sc.cities["state"] == state].index.tolist()
        city = str(rng.choice(cities))
        name = f"{rng.choice(names['ffl_names'])} {rng.choice(names['ffl_words'])}"
        region = {"AZ": "9", "TX": "5", "CA": "9", "NM": "5", "NV": "9", "CO": "8", "OK": "5", "IL": "3"}[state]
        ffl = f"{region}-{int(rng.integers(10, 99))}-{int(rng.integers(1, 999)):03d}-{int(rng.integers(1, 99)):02d}-" \
              f"{rng.choice(list('ABCDEFGHJK'))}{rng.choice(list('ABCDEFGHJK'))}-{int(rng.integers(10000, 99999))}"
        cid = f"C-{len(self.companies) + 1:05d}"
        company = Company(cid, f"{name} LLC", ffl, "US", "", "ffl", place=f"{city}, {state}")
        company.variants = [company.name, name, company.name.upper()]
        self.companies[cid] = company
        return company

    # -- vehicles and labs -----------------------------------------------------------------------
    def _vehicle(self, org: str, owner: str, country: str) -> Vehicle:
        rng, names = self.rng, self.sc.names
        make, model = (str(x) for x in names["vehicle_models"][int(rng.integers(len(names["vehicle_models"])))])
        vin = _WMI.get(make, "1XX") + "".join(rng.choice(_VIN_CHARS, 14))
        letters = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ"), 3))
        if country == "MX":
            state = str(rng.choice(list(names["mx_plate_states"])))
            plate = f"{letters}-{int(rng.integers(100, 999))}-{rng.choice(list('ABCDEFGH'))}"
        else:
            state = str(rng.choice(names["us_plate_states"]))
            plate = f"{int(rng.integers(5, 9))}{letters}{int(rng.integers(100, 999))}" if state == "CA" \
                else f"{letters}{int(rng.integers(1000, 9999))}"
        vid = f"V-{len(self.vehicles) + 1:05d}"
        vehicle = Vehicle(vid, plate, state, country, vin, make, model, org, owner)
        self.vehicles[vid] = vehicle
        return vehicle

    def _lab(self, org: str, muni: str, state: str, months: int) -> Lab:
        rng, sc = self.rng, self.sc
        quiet = (muni, state) in self.structure.quiet
        place = sc.place(f"{muni}, {state}", "MX")
        lat = float(place.lat or 0) + float(rng.normal(0, 0.08))
        lon = float(place.lon or 0) + float(rng.normal(0, 0.08))
        kind = str(rng.choice(["fentanyl", "fentanyl", "pill_press"]))
        start = int(rng.integers(0, months // 2))
        found = int(rng.integers(start + 3, months)) if rng.random() < sc.rate("lab_dismantled") else -1
        if quiet:
            found = -1
        lid = f"LAB-{len(self.labs) + 1:04d}"
        lab = Lab(lid, org, muni, state, round(lat, 5), round(lon, 5), kind,
                  float(np.round(rng.lognormal(4.0, 0.8), 1)), start, found,
                  f"{''.join(rng.choice(list('ABCDEFGHKMNPRSTXZ'), 2))}-{int(rng.integers(10, 99))}", quiet=quiet)
        self.labs[lid] = lab
        return lab

    def _build(self) -> None:
        rng, sc = self.rng, self.sc
        months = len(sc.periods)
        inspection = sc.p["inspection"]
        never = float(bounded(inspection["front_never_seized"], rng))
        ever = float(bounded(inspection["legit_ever_seized"], rng))
        for spec in self.structure.orgs:
            oid, state = spec.id, spec.base_state
            leader = self._person(oid, "leader", "MX", state)
            lts = [self._person(oid, "lieutenant", "MX", state).id for _ in range(self.n("lieutenants_per_org"))]
            couriers = [self._person(oid, "courier", "MX" if rng.random() < 0.6 else "US", state).id
                        for _ in range(self.n("couriers_per_org"))]
            straw = [self._person(oid, "straw", "US", self._ffl_state()).id
                     for _ in range(self.n("straw_purchasers_per_org"))]
            fronts = []
            first_year = int(sc.periods[0][:4])
            for _ in range(self.n("front_companies_per_org")):
                # owned (on paper) by a lieutenant, or by a front man (prestanombres) never seen elsewhere;
                # most are incorporated shortly before they import, some are old shelf companies bought
                owner_id = self._person(oid, "front_owner", "MX", state).id \
                    if rng.random() < float(inspection["front_straw_owner"]) else str(rng.choice(lts))
                young = rng.random() < float(inspection["front_young"])
                year = int(rng.integers(first_year - 2, first_year + 2)) if young else int(rng.integers(1995, 2017))
                front = self._mx_company(oid, "front", owner_id, year)
                front.seize_rate = 0.0 if rng.random() < never else float(bounded(inspection["front_seized"], rng))
                fronts.append(front.id)
            vehicles = [self._vehicle(oid, str(rng.choice(couriers)), "MX" if rng.random() < 0.5 else "US").id
                        for _ in range(self.n("vehicles_per_org"))]
            # every lab place of the organisation has a lab; the others go to any of its places
            places = spec.lab_places
            count = max(self.n("labs_per_org"), len(places))
            where = [*range(len(places)), *rng.integers(0, len(places), count - len(places)).tolist()]
            labs = [self._lab(oid, places[i][0], places[i][1], months).id for i in where]
            self.orgs[oid] = Org(oid, spec.name, list(spec.plazas), leader.id, lts, couriers, straw, fronts,
                                 vehicles, labs)
        # legitimate firms, each with its legal representative: regular importers of uneven size, and many
        # that import now and then (a university, a small laboratory, a distributor), some of them young
        regular = self.n("legit_importers")
        occasional = round(regular * float(inspection["occasional_importers"]))
        self.importers = []
        for i in range(regular + occasional):
            owner = self._person("", "owner", "MX", str(rng.choice(list(_CURP_STATES))))
            young = i >= regular and rng.random() < float(inspection["occasional_young"])
            importer = self._mx_company("", "importer", owner.id, int(rng.integers(first_year - 2, first_year + 2))
                                        if young else 0)
            if rng.random() < ever:
                importer.seize_rate = float(bounded(inspection["legit_seized"], rng))
            self.importers.append(importer.id)
        sizes = rng.lognormal(0.0, float(inspection["legit_size_sigma"]), regular)
        share = float(inspection["occasional_share"]) if occasional else 0.0
        self.importer_weights = np.concatenate([sizes / sizes.sum() * (1 - share), np.full(occasional, share / max(
            occasional, 1))])
        self.exporters = [self._exporter().id for _ in range(self.n("exporters"))]
        self.ffls = [self._ffl().id for _ in range(self.n("ffls"))]
        for state in {p.state for p in self.people.values() if p.role == "straw"}:  # a dealer near every buyer
            if not any(self.companies[f].place.endswith(state) for f in self.ffls):
                self.ffls.append(self._ffl(state).id)
        self.ffls_by_state: dict[str, list[str]] = {}
        for f in self.ffls:
            self.ffls_by_state.setdefault(self.companies[f].place[-2:], []).append(f)

    # -- lookups ------------------------------------------------------------------------------
    def pick(self, orgs: np.ndarray, attr: str, rng: np.random.Generator) -> np.ndarray:
        """For each organisation id, one of its members/assets (``couriers``, ``vehicles``, ``straw``...)."""
        out = np.empty(len(orgs), dtype=object)
        for oid, idx in groups(orgs):
            out[idx] = rng.choice(np.array(getattr(self.orgs[oid], attr), dtype=object), len(idx))
        return out

    def orgs_for_city(self, city: str) -> list[str]:
        found = [o.id for o in self.orgs.values() if city in o.plazas]
        return found or list(self.orgs)

    def entity_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for p in self.people.values():
            rows.append({"entity_id": p.id, "kind": "person", "name": p.full_name, "org_id": p.org, "role": p.role,
                         "country": p.nationality, "detail": p.curp or str(p.birth)})
        for c in self.companies.values():
            rows.append({"entity_id": c.id, "kind": "organization", "name": c.name, "org_id": c.org, "role": c.kind,
                         "country": c.country, "detail": c.tax_id})
        for v in self.vehicles.values():
            rows.append({"entity_id": v.id, "kind": "vehicle", "name": f"{v.make} {v.model}", "org_id": v.org,
                         "role": "vehicle", "country": v.plate_country, "detail": f"{v.plate} {v.vin}"})
        return rows


def typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard slip: swap two adjacent letters, drop one, or double one."""
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 2))
    op = int(rng.integers(3))
    if op == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if op == 1:
        return text[:i] + text[i + 1:]
    return text[:i] + text[i] + text[i:]
